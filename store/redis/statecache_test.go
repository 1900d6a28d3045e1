package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/kezekbot/kezekbot/store/redis"
)

// TestStateCache: a replica that committed a chat's last turn begins the next one without
// reading the state back, and any write it did not make (another replica's commit, the state
// expiring and the chat starting over) makes it read the stored state again.
func TestStateCache(t *testing.T) {
	ctx := context.Background()
	a := mustOpen(t, redisstore.Options{})
	b := mustOpen(t, redisstore.Options{Prefix: a.Options().Prefix}) // a second replica
	const chat = 42

	tr := mustBegin(t, a, chat, 1)
	if tr.State != nil || tr.Version != 0 || a.StateCacheHits() != 0 {
		t.Fatalf("first begin = %q v%d, hits %d", tr.State, tr.Version, a.StateCacheHits())
	}
	mustCommit(t, a, chat, 1, tr, []byte(`{"n":"one"}`))

	// Same replica: a hit, the same state and version.
	tr = mustBegin(t, a, chat, 2)
	if string(tr.State) != `{"n":"one"}` || tr.Version != 1 || a.StateCacheHits() != 1 {
		t.Fatalf("cached begin = %q v%d, hits %d", tr.State, tr.Version, a.StateCacheHits())
	}
	mustCommit(t, a, chat, 2, tr, []byte(`{"n":"two"}`))

	// Another replica takes a turn: a's cache is behind and must not be used.
	tr = mustBegin(t, b, chat, 3)
	if string(tr.State) != `{"n":"two"}` || tr.Version != 2 {
		t.Fatalf("b's begin = %q v%d", tr.State, tr.Version)
	}
	mustCommit(t, b, chat, 3, tr, []byte(`{"n":"three"}`))
	tr = mustBegin(t, a, chat, 4)
	if string(tr.State) != `{"n":"three"}` || tr.Version != 3 || a.StateCacheHits() != 1 {
		t.Fatalf("a's begin after b = %q v%d, hits %d", tr.State, tr.Version, a.StateCacheHits())
	}
	mustCommit(t, a, chat, 4, tr, []byte(`{"n":"four"}`))

	// The state expires and the chat starts over on b, reaching the very version a cached:
	// the version alone would match, the committer does not.
	if err := a.Client().Del(ctx, chatKey(a, chat)).Err(); err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < 4; i++ {
		tr = mustBegin(t, b, chat, 10+i)
		mustCommit(t, b, chat, 10+i, tr, []byte(`{"n":"b`+string(rune('0'+i))+`"}`))
	}
	tr = mustBegin(t, a, chat, 20)
	if string(tr.State) != `{"n":"b3"}` || tr.Version != 4 || a.StateCacheHits() != 1 {
		t.Fatalf("a's begin after the chat started over = %q v%d, hits %d", tr.State, tr.Version, a.StateCacheHits())
	}

	// A commit that does not take leaves nothing cached; deleting state caches "no state".
	if err := a.Abort(ctx, chat, 20, tr); err != nil {
		t.Fatal(err)
	}
	tr = mustBegin(t, a, chat, 21)
	mustCommit(t, a, chat, 21, tr, nil)
	tr = mustBegin(t, a, chat, 22)
	if tr.State != nil || tr.Version != 5 || a.StateCacheHits() != 2 {
		t.Fatalf("begin after a delete = %q v%d, hits %d", tr.State, tr.Version, a.StateCacheHits())
	}
	mustCommit(t, a, chat, 22, tr, []byte(`{"n":"x"}`))
	// A version moved behind a's back (what the script guards against): the commit is
	// refused, the cache entry dropped, and the next turn reads what Redis holds.
	tr = mustBegin(t, a, chat, 23)
	if err := a.Client().HSet(ctx, chatKey(a, chat), "v", "99").Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx, chat, 23, tr, []byte(`{"n":"y"}`)); !errors.Is(err, redisstore.ErrStale) {
		t.Fatalf("commit after the version moved: %v", err)
	}
	if err := a.Abort(ctx, chat, 23, tr); err != nil {
		t.Fatal(err)
	}
	tr = mustBegin(t, a, chat, 24)
	if string(tr.State) != `{"n":"x"}` || tr.Version != 99 {
		t.Fatalf("begin after a refused commit = %q v%d", tr.State, tr.Version)
	}
}

// TestStateCacheOff: a negative StateCache turns the cache off.
func TestStateCacheOff(t *testing.T) {
	s := mustOpen(t, redisstore.Options{StateCache: -1})
	tr := mustBegin(t, s, 7, 1)
	mustCommit(t, s, 7, 1, tr, []byte(`{}`))
	tr = mustBegin(t, s, 7, 2)
	if string(tr.State) != `{}` || tr.Version != 1 || s.StateCacheHits() != 0 {
		t.Fatalf("begin = %q v%d, hits %d", tr.State, tr.Version, s.StateCacheHits())
	}
}

// TestStateCacheBound: a full cache evicts, and an evicted chat loads its state from Redis.
func TestStateCacheBound(t *testing.T) {
	s := mustOpen(t, redisstore.Options{StateCache: 1}) // one entry per shard
	for chat := int64(1); chat <= 200; chat++ {
		tr := mustBegin(t, s, chat, chat)
		mustCommit(t, s, chat, chat, tr, []byte(`{"c":`+itoa(chat)+`}`))
	}
	for chat := int64(200); chat >= 1; chat-- { // newest first: the last 32 are still cached
		tr := mustBegin(t, s, chat, 1000+chat)
		if string(tr.State) != `{"c":`+itoa(chat)+`}` || tr.Version != 1 {
			t.Fatalf("chat %d: begin = %q v%d", chat, tr.State, tr.Version)
		}
		mustCommit(t, s, chat, 1000+chat, tr, tr.State)
	}
	if h := s.StateCacheHits(); h == 0 || h > 32 {
		t.Fatalf("hits = %d, want between 1 and the 32 shards' one entry each", h)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
