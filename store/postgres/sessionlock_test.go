package postgres_test

import (
	"context"
	"testing"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

func TestTryLock(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	a, b := pgtest.Open(t, url), pgtest.Open(t, url)

	l, err := a.TryLock(ctx, "sandbox")
	if err != nil {
		t.Fatal(err)
	}
	if l.Database == "" || l.Schema == "" {
		t.Errorf("lock names no place: %+v", l)
	}
	// Another session on the same schema is refused at once.
	if _, err := b.TryLock(ctx, "sandbox"); kezekbot.ErrorCode(err) != kezekbot.ECONFLICT {
		t.Fatalf("second lock: %v, want ECONFLICT", err)
	}
	// Another name, or another schema, is another lock.
	other, err := b.TryLock(ctx, "something else")
	if err != nil {
		t.Fatal(err)
	}
	other.Release()
	elsewhere, err := pgtest.New(t).TryLock(ctx, "sandbox")
	if err != nil {
		t.Fatalf("lock in another schema: %v", err)
	}
	elsewhere.Release()

	// Released, it can be taken again; releasing twice is harmless.
	l.Release()
	l.Release()
	l2, err := b.TryLock(ctx, "sandbox")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()

}
