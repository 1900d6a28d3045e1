package bot

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestH1Transport: keep-alive reuse, chunked and Connection: close answers, an answer read only
// in part, a cancelled call, and a server that drops idle connections.
func TestH1Transport(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part1,"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part2"))
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write(body)
		case "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		case "/big":
			w.Write([]byte(strings.Repeat("x", 100000)))
		default:
			w.Write(body)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr := newH1Transport(NewTransport())
	c := &http.Client{Transport: tr}
	call := func(path, body string) (string, error) {
		resp, err := c.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	for i := range 5 {
		if got, err := call("/echo", "hello"); err != nil || got != "hello" {
			t.Fatalf("call %d = %q, %v", i, got, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 5 sequential calls, want 1", n)
	}
	if got, err := call("/chunked", ""); err != nil || got != "part1,part2" {
		t.Fatalf("chunked = %q, %v", got, err)
	}
	if got, err := call("/close", "bye"); err != nil || got != "bye" {
		t.Fatalf("close = %q, %v", got, err)
	}
	if got, err := call("/echo", "again"); err != nil || got != "again" {
		t.Fatalf("after close = %q, %v", got, err)
	}
	// Read in part: the connection is dropped, the next call still works.
	resp, err := c.Get(srv.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	if got, err := call("/echo", "x"); err != nil || got != "x" {
		t.Fatalf("after partial read = %q, %v", got, err)
	}
	// A cancelled call returns promptly with the context's error.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/slow", strings.NewReader("{}"))
	start := time.Now()
	if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("slow call: %v after %v", err, time.Since(start))
	}
	if got, err := call("/echo", "y"); err != nil || got != "y" {
		t.Fatalf("after timeout = %q, %v", got, err)
	}
	// The server drops idle connections: the next call fails as a transient error (the Sender
	// retries it) or succeeds; it never hangs, and the one after works.
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	if _, err := call("/echo", "z"); err != nil && !isTransient(err) {
		t.Fatalf("call on a dropped connection: %v (not transient)", err)
	}
	if got, err := call("/echo", "w"); err != nil || got != "w" {
		t.Fatalf("after drop = %q, %v", got, err)
	}
	tr.CloseIdleConnections()
}
