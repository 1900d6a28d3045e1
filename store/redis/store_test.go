package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/store/redis"
)

// testURL is this package's own DB: $KEZEKBOT_TEST_REDIS_URL as given (it may already name a
// DB), else DB 1 on the local server.
func testURL() string {
	if u := os.Getenv(redisstore.TestURLEnv); u != "" {
		return u
	}
	return redisstore.TestURL(1)
}

// mustOpen opens a Store on a fresh random prefix and deletes that prefix's keys when tb ends.
func mustOpen(tb testing.TB, o redisstore.Options) *redisstore.Store {
	tb.Helper()
	if o.Prefix == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		o.Prefix = "kzt:" + hex.EncodeToString(b[:]) + ":"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := redisstore.Open(ctx, testURL(), o)
	if err != nil {
		tb.Fatalf("open %s: %v", redisstore.TestURLEnv, err)
	}
	tb.Cleanup(func() {
		ctx := context.Background() // tb's context is already cancelled here
		c := s.Client()
		it := c.Scan(ctx, 0, o.Prefix+"*", 1000).Iterator()
		var keys []string
		for it.Next(ctx) {
			keys = append(keys, it.Val())
		}
		if err := it.Err(); err != nil {
			tb.Errorf("scan test keys: %v", err)
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				tb.Errorf("delete test keys: %v", err)
			}
		}
		_ = s.Close()
	})
	return s
}

// key rebuilds a key name the way the store lays them out (see the package doc), so tests can
// check TTLs and raw contents.
func key(s *redisstore.Store, rest string) string { return s.Options().Prefix + rest }

func TestOpen(t *testing.T) {
	t.Run("ErrBadURL", func(t *testing.T) {
		_, err := redisstore.Open(t.Context(), "redis://user:hunter2@%zz", redisstore.Options{})
		if err == nil {
			t.Fatal("want error")
		}
		if got := err.Error(); strings.Contains(got, "hunter2") {
			t.Fatalf("error leaks the password: %q", got)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		s := mustOpen(t, redisstore.Options{})
		o := s.Options()
		if o.StateTTL != 30*time.Minute || o.DedupeTTL != time.Hour || o.LockTTL != 5*time.Second {
			t.Fatalf("defaults: %+v", o)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTestURL(t *testing.T) {
	t.Setenv(redisstore.TestURLEnv, "redis://:pw@db.example:6380/5?protocol=3")
	if got, want := redisstore.TestURL(7), "redis://:pw@db.example:6380/7?protocol=3"; got != want {
		t.Fatalf("TestURL = %q, want %q", got, want)
	}
	t.Setenv(redisstore.TestURLEnv, "")
	if got, want := redisstore.TestURL(2), "redis://127.0.0.1:6379/2"; got != want {
		t.Fatalf("TestURL = %q, want %q", got, want)
	}
}
