package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/city/refcity"
	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// TestCityServeAndCheck runs `kezekbot city serve` on a free port and `kezekbot city check`
// against it: every check passes, exit 0.
func TestCityServeAndCheck(t *testing.T) {
	t.Setenv("KEZEKBOT_REFCITY_TOKEN", "serve-token-123")
	ctx, cancel := context.WithCancel(t.Context())
	var out, errOut testenv.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"city", "serve", "--addr", "127.0.0.1:0"}, &out, &errOut) }()
	addrRe := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("serve did not start: %s %s", out.String(), errOut.String())
	}
	var check, checkErr bytes.Buffer
	code := run(t.Context(), []string{"city", "check", "--url", "http://" + addr, "--token", "serve-token-123",
		"--iin", postgres.DemoParents[0].IIN, "--test-application", "1"}, &check, &checkErr)
	if code != 0 || !strings.Contains(check.String(), "14 of 14 checks passed") {
		t.Errorf("check: exit %d\n%s%s", code, check.String(), checkErr.String())
	}
	cancel()
	select {
	case c := <-done:
		if c != 0 {
			t.Errorf("serve exited %d: %s", c, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestCityCheckFails(t *testing.T) {
	demo, err := postgres.DemoDetails(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rc, err := refcity.New(refcity.Config{Faults: refcity.Faults{MalformedRate: 1}}, demo)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"city", "check", "--url", srv.URL, "--iin", postgres.DemoParents[0].IIN, "--test-application", "1"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out.String())
	}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Scan() // header
	sc.Scan()
	if row := sc.Text(); !strings.HasPrefix(row, "search") || !strings.Contains(row, "FAIL") || !strings.Contains(row, "breaks the contract") {
		t.Errorf("first row %q", row)
	}
}

func TestCityUsage(t *testing.T) {
	for _, args := range [][]string{
		{"city"},
		{"city", "fly"},
		{"city", "check"},
		{"city", "check", "--url", "http://x", "--iin", "123", "--test-application", "1"},
		{"city", "check", "--url", "ftp://x", "--iin", "880412401274", "--test-application", "1"},
		{"city", "check", "--url", "http://x", "--iin", "880412401274"},
		{"city", "check", "--url", "http://x", "--iin", "880412401274", "--test-application", "1", "--signed-xml", "f.xml"},
		{"city", "serve", "--error-rate", "2"},
		{"city", "serve", "--latency", "soon"},
		{"city", "serve", "--push-url", "http://127.0.0.1:8080"},
		{"city", "serve", "--client-ca", "ca.pem"},
		{"city", "serve", "extra"},
	} {
		var out, errOut bytes.Buffer
		if code := run(t.Context(), args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errOut.String())
		}
	}
	var out bytes.Buffer
	if code := run(t.Context(), []string{"help", "city"}, &out, io.Discard); code != 0 || !strings.Contains(out.String(), "check") {
		t.Errorf("help city: %d %s", code, out.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"city", "serve", "-h"}, &out, io.Discard); code != 0 || !strings.Contains(out.String(), "-out-of-order-rate") {
		t.Errorf("city serve -h: %d %s", code, out.String())
	}
}
