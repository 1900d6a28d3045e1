package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	ctx := context.Background()

	if err := check(ctx, srv.URL+"/healthz", time.Second); err != nil {
		t.Fatalf("healthy: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := check(ctx, srv.URL+"/healthz", time.Second); err == nil {
		t.Fatal("503 passed")
	}
	srv.Close()
	if err := check(ctx, srv.URL+"/healthz", time.Second); err == nil {
		t.Fatal("a closed port passed")
	}
}
