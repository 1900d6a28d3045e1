package postgres_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/kezekbot/kezekbot"
)

// TestBindRaceOneChatWins: ten chats binding one IIN at the same moment (a phisher racing the
// parent) end with exactly one binding; the others get ErrBoundElsewhere.
func TestBindRaceOneChatWins(t *testing.T) {
	t.Parallel()
	db, f := MustOpenDB(t)
	iin := f.parent(t)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() { errs[i] = db.Bind(t.Context(), int64(5000+i), "ru", evidence(iin)) })
	}
	wg.Wait()
	var ok, refused int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, kezekbot.ErrBoundElsewhere):
			refused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	chats, err := db.ChatsOfIIN(t.Context(), iin)
	if ok != 1 || refused != 9 || err != nil || len(chats) != 1 {
		t.Fatalf("ok %d, refused %d, chats %v (%v); want exactly one binding", ok, refused, chats, err)
	}
}
