package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestServerLimits: headers past the cap get 431, and connections past the cap get 503 with
// Retry-After and are closed, while the ones inside the cap are served; closing one frees a
// place (issue 17, finding 5).
func TestServerLimits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int64
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	ln = limitServer(srv, ln, 4<<10, 3, func() { refused.Add(1) })
	if srv.MaxHeaderBytes != 4<<10 {
		t.Fatalf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().String()

	// get sends one request on conn and returns the status line.
	get := func(c net.Conn, extra string) string {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n"+extra+"\r\n"); err != nil {
			return "write: " + err.Error()
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "read: " + err.Error()
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Status + " retry=" + resp.Header.Get("Retry-After")
	}
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	// Large headers: 431, not 1 MiB held per connection.
	if st := get(dial(), "X-Big: "+strings.Repeat("a", 16<<10)+"\r\n"); !strings.HasPrefix(st, "431") {
		t.Errorf("16 KiB header → %s, want 431", st)
	}
	time.Sleep(50 * time.Millisecond) // the server closes that connection

	held := []net.Conn{dial(), dial(), dial()}
	for _, c := range held {
		if st := get(c, ""); !strings.HasPrefix(st, "200") {
			t.Fatalf("connection inside the cap → %s", st)
		}
	}
	// The fourth open connection is shed.
	if st := get(dial(), ""); !strings.HasPrefix(st, "503") || !strings.HasSuffix(st, "retry=1") {
		t.Errorf("connection over the cap → %s, want 503 with Retry-After", st)
	}
	if refused.Load() != 1 {
		t.Errorf("refusals counted %d, want 1", refused.Load())
	}
	// A place frees up when a client leaves.
	_ = held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := get(dial(), "")
		if strings.HasPrefix(st, "200") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a close, still %s", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
