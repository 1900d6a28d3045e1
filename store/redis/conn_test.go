package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/kezekbot/kezekbot/store/redis"
)

// TestConnKilledWhileIdle: Open's connections skip go-redis's per-command socket peek, so a
// connection Redis dropped while it sat in the pool is found out by the next command, which
// go-redis then retries on a fresh connection. The turn must go through all the same.
func TestConnKilledWhileIdle(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for round := range 3 {
		// Sequential use keeps one connection in the pool; CLIENT ID names it.
		id, err := s.Client().ClientID(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		opt, err := goredis.ParseURL(testURL())
		if err != nil {
			t.Fatal(err)
		}
		killer := goredis.NewClient(opt)
		n, err := killer.ClientKillByFilter(ctx, "ID", strconv.FormatInt(id, 10)).Result()
		_ = killer.Close()
		if err != nil || n != 1 {
			t.Fatalf("round %d: kill client %d = %d, %v", round, id, n, err)
		}
		chat, upd := int64(700+round), int64(1)
		tr, err := s.Begin(ctx, chat, upd)
		if err != nil {
			t.Fatalf("round %d: begin after the connection was killed: %v", round, err)
		}
		if err := s.Commit(ctx, chat, upd, tr, []byte(`{}`)); err != nil {
			t.Fatalf("round %d: commit: %v", round, err)
		}
	}
}
