package postgres_test

import (
	"slices"
	"testing"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// /settings reads and writes mutes through flows.MuteStore; the store implements it as is.
var _ flows.MuteStore = (*postgres.DB)(nil)

// TestMuteStoreForFlows: the kinds /settings offers are the store's, in the same order, and
// every one of them round-trips per chat through the interface the dialog uses.
func TestMuteStoreForFlows(t *testing.T) {
	t.Parallel()
	db, _ := MustOpenDB(t)
	var ms flows.MuteStore = db
	ctx := t.Context()

	kinds := make([]string, 0, len(flows.MuteKinds))
	for _, k := range flows.MuteKinds {
		kinds = append(kinds, k.Kind)
	}
	if !slices.Equal(kinds, postgres.MuteKinds) {
		t.Fatalf("flows.MuteKinds %v, store %v", kinds, postgres.MuteKinds)
	}

	const chat, other = int64(9100), int64(9101)
	if got, err := ms.Muted(ctx, chat); err != nil || len(got) != 0 {
		t.Fatalf("Muted of a new chat = %v, %v", got, err)
	}
	for _, k := range kinds {
		for range 2 { // muting twice is one mute
			if err := ms.SetMuted(ctx, chat, k, true); err != nil {
				t.Fatalf("mute %s: %v", k, err)
			}
		}
	}
	want := slices.Sorted(slices.Values(kinds))
	if got, err := ms.Muted(ctx, chat); err != nil || !slices.Equal(got, want) {
		t.Fatalf("Muted = %v, %v; want %v", got, err, want)
	}
	if got, err := ms.Muted(ctx, other); err != nil || len(got) != 0 {
		t.Fatalf("mutes leaked to another chat: %v, %v", got, err)
	}
	for range 2 { // unmuting what is not muted is no error
		if err := ms.SetMuted(ctx, chat, "reminder", false); err != nil {
			t.Fatal(err)
		}
	}
	want = slices.DeleteFunc(want, func(k string) bool { return k == "reminder" })
	if got, err := ms.Muted(ctx, chat); err != nil || !slices.Equal(got, want) {
		t.Fatalf("after unmuting reminder: %v, %v; want %v", got, err, want)
	}
	err := ms.SetMuted(ctx, chat, "revocation_reminder", true)
	if kezekbot.ErrorCode(err) != kezekbot.EINVALID {
		t.Fatalf("unknown kind: %v, want EINVALID", err)
	}
}
