package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	signerlink "github.com/kezekbot/kezekbot/signer-link"
)

type failingLimiter struct{}

func (failingLimiter) Allow(context.Context, string, float64, int) (bool, time.Duration, error) {
	return false, 0, errors.New("redis: connection refused")
}

// TestLimitClients: past the burst one address gets 429 with Retry-After before the door does
// any work, and is counted; another address is still served; behind a trusted proxy the client
// is read from X-Forwarded-For; "off" and a limiter outage let requests through.
func TestLimitClients(t *testing.T) {
	quietLog := slog.New(slog.NewTextHandler(io.Discard, nil))
	served := 0
	door := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ })
	rate, err := signerlink.ParseRate("1/1m,2")
	if err != nil {
		t.Fatal(err)
	}
	var refused []string
	proxy := netip.MustParsePrefix("10.0.0.1/32")
	h := limitClients("admin", rate, signerlink.NewMemoryLimiter(), []netip.Prefix{proxy},
		func(door, scope string) { refused = append(refused, door+"/"+scope) }, quietLog, door)
	do := func(remote, xff string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/admin/broadcasts", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 2 {
		if w := do("192.0.2.7:5000", ""); w.Code != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i, w.Code)
		}
	}
	w := do("192.0.2.7:5001", "")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("past the burst: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if served != 2 || len(refused) != 1 || refused[0] != "admin/client" {
		t.Fatalf("served %d, refused %v", served, refused)
	}
	if w := do("192.0.2.8:5000", ""); w.Code != http.StatusOK {
		t.Fatalf("another address: %d", w.Code)
	}
	// Behind the trusted proxy: two clients, each with its own bucket.
	for range 2 {
		if w := do("10.0.0.1:443", "198.51.100.1"); w.Code != http.StatusOK {
			t.Fatalf("first client behind the proxy: %d", w.Code)
		}
	}
	if w := do("10.0.0.1:443", "198.51.100.1"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("first client behind the proxy past its burst: %d", w.Code)
	}
	if w := do("10.0.0.1:443", "198.51.100.2"); w.Code != http.StatusOK {
		t.Fatalf("second client behind the proxy: %d", w.Code)
	}

	for name, h := range map[string]http.Handler{
		"off":    limitClients("admin", signerlink.Rate{}, signerlink.NewMemoryLimiter(), nil, nil, quietLog, door),
		"outage": limitClients("admin", rate, failingLimiter{}, nil, nil, quietLog, door),
	} {
		for range 5 {
			r := httptest.NewRequest(http.MethodGet, "/admin/broadcasts", nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("%s: %d", name, w.Code)
			}
		}
	}
}
