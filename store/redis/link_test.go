package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/store/redis"
)

func TestReplaceLink(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx := t.Context()
	const scope = "chat:42:revoke"

	if err := s.ReplaceLink(ctx, scope, "n1", []byte("first"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Link(ctx, "n1"); err != nil || string(b) != "first" {
		t.Fatalf("Link(n1) = %q, %v", b, err)
	}
	// A second tap: the first link must stop working at once.
	if err := s.ReplaceLink(ctx, scope, "n2", []byte("second"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Link(ctx, "n1"); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("Link(n1) after replace: %v, want ErrNotFound", err)
	}
	if _, err := s.ConsumeLink(ctx, "n1"); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("ConsumeLink(n1) after replace: %v, want ErrNotFound", err)
	}
	// Other scopes are untouched.
	if err := s.ReplaceLink(ctx, "chat:43:revoke", "m1", []byte("other"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Link(ctx, "n2"); err != nil || string(b) != "second" {
		t.Fatalf("Link(n2) = %q, %v", b, err)
	}
	// Replacing with the same nonce (a retried call) keeps the link.
	if err := s.ReplaceLink(ctx, scope, "n2", []byte("second"), time.Minute); err != nil {
		t.Fatal(err)
	}
	b, err := s.ConsumeLink(ctx, "n2")
	if err != nil || string(b) != "second" {
		t.Fatalf("ConsumeLink(n2) = %q, %v", b, err)
	}
	// Consuming cleared the scope pointer; a later link starts a clean scope.
	if n, _ := s.Client().Exists(ctx, key(s, "{l}s:"+scope)).Result(); n != 0 {
		t.Fatal("scope pointer survived its link's consumption")
	}
	if b, err := s.Link(ctx, "m1"); err != nil || string(b) != "other" {
		t.Fatalf("Link(m1) = %q, %v", b, err)
	}
	if pttl := s.Client().PTTL(ctx, key(s, "{l}n:m1")).Val(); pttl <= 0 || pttl > time.Minute {
		t.Fatalf("link TTL = %v, want ≤ 1m", pttl)
	}
}

func TestConsumeLinkKeepsNewerScope(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx := t.Context()
	// ReplaceLink deletes the old link, so this cannot happen through the API; it guards the
	// script's check that consuming a link clears the scope pointer only if it still names it.
	if err := s.ReplaceLink(ctx, "sc", "n1", []byte("a"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Client().Set(ctx, key(s, "{l}s:sc"), "n9", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeLink(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if v := s.Client().Get(ctx, key(s, "{l}s:sc")).Val(); v != "n9" {
		t.Fatalf("scope pointer = %q, want n9 kept", v)
	}
}

func TestLinkErrors(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx := t.Context()
	tests := []struct {
		name string
		err  error
	}{
		{"ReplaceEmptyScope", s.ReplaceLink(ctx, "", "n", nil, time.Minute)},
		{"ReplaceEmptyNonce", s.ReplaceLink(ctx, "s", "", nil, time.Minute)},
		{"ReplaceZeroTTL", s.ReplaceLink(ctx, "s", "n", nil, 0)},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: want error", tt.name)
		}
	}
	_, err := s.Link(ctx, "missing")
	if !errors.Is(err, redisstore.ErrNotFound) || kezekbot.ErrorCode(err) != kezekbot.ENOTFOUND {
		t.Fatalf("Link(missing) = %v, want ErrNotFound", err)
	}
	// Expiry: poll rather than sleep a guessed time.
	if err := s.ReplaceLink(ctx, "s", "short", []byte("x"), 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Link(ctx, "short")
		if errors.Is(err, redisstore.ErrNotFound) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("Link(short) never expired: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConsumeLinkSingleUse(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	if err := s.ReplaceLink(t.Context(), "chat:1:revoke", "once", []byte("payload"), time.Minute); err != nil {
		t.Fatal(err)
	}
	const n = 50
	var (
		wg          sync.WaitGroup
		won, missed atomic.Int32
		start       = make(chan struct{})
		errs        = make(chan error, n)
	)
	for range n {
		wg.Go(func() {
			<-start
			b, err := s.ConsumeLink(context.Background(), "once")
			switch {
			case err == nil && string(b) == "payload":
				won.Add(1)
			case errors.Is(err, redisstore.ErrNotFound):
				missed.Add(1)
			default:
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if won.Load() != 1 || missed.Load() != n-1 {
		t.Fatalf("%d consumers won, %d missed; want 1 and %d", won.Load(), missed.Load(), n-1)
	}
}

func TestLinkNotes(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx := t.Context()
	if m, err := s.LinkNotes(ctx, "nx"); err != nil || len(m) != 0 {
		t.Fatalf("notes of an unknown nonce = %v, %v", m, err)
	}
	if err := s.SetLinkNotes(ctx, "nx", map[string]string{"a": "1", "b": "2"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLinkNotes(ctx, "nx", map[string]string{"b": "3"}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	m, err := s.LinkNotes(ctx, "nx")
	if err != nil || m["a"] != "1" || m["b"] != "3" || len(m) != 2 {
		t.Fatalf("notes = %v, %v", m, err)
	}
	if pttl := s.Client().PTTL(ctx, key(s, "{l}x:nx")).Val(); pttl <= time.Minute || pttl > 2*time.Minute {
		t.Fatalf("notes TTL = %v, want the last one set (≤ 2m)", pttl)
	}
	if err := s.SetLinkNotes(ctx, "", map[string]string{"a": "1"}, time.Minute); err == nil {
		t.Fatal("empty nonce accepted")
	}
	if err := s.SetLinkNotes(ctx, "ny", map[string]string{"a": "1"}, 0); err == nil {
		t.Fatal("zero TTL accepted")
	}
}
