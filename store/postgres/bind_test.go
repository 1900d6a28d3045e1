package postgres_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/kezekbot/kezekbot"
)

func TestBind(t *testing.T) {
	t.Parallel()
	db, f := MustOpenDB(t)
	alice, bob := f.parent(t), f.parent(t)

	t.Run("Unbound", func(t *testing.T) {
		iin, err := db.BoundIIN(t.Context(), 100)
		if err != nil || !iin.IsZero() {
			t.Fatalf("BoundIIN = %v, %v; want zero, nil", iin, err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		ev := evidence(alice)
		if err := db.Bind(t.Context(), 100, "kk", ev); err != nil {
			t.Fatal(err)
		}
		// One IIN, one chat (issue 17, bind phishing): a second chat is refused, with nothing
		// written — neither a binding nor an audit row.
		if err := db.Bind(t.Context(), 101, "ru", evidence(alice)); !errors.Is(err, kezekbot.ErrBoundElsewhere) {
			t.Fatalf("second chat for one IIN: %v, want ErrBoundElsewhere", err)
		}
		if iin, _ := db.BoundIIN(t.Context(), 101); !iin.IsZero() {
			t.Fatalf("refused chat is bound to %v", iin)
		}
		iin, err := db.BoundIIN(t.Context(), 100)
		if err != nil || !iin.Equal(alice) {
			t.Fatalf("BoundIIN = %v, %v; want alice", iin, err)
		}
		chats, err := db.ChatsOfIIN(t.Context(), alice)
		if err != nil || !slices.Equal(chats, []int64{100}) {
			t.Fatalf("ChatsOfIIN = %v, %v", chats, err)
		}
		var subject, masked string
		var xml []byte
		if err := db.Pool().QueryRow(t.Context(), `SELECT cert_subject, iin_masked, evidence_xml FROM audit_log
			WHERE action = 'bind' AND nonce = $1`, ev.Nonce).Scan(&subject, &masked, &xml); err != nil {
			t.Fatalf("audit row: %v", err)
		}
		if subject != ev.Subject || string(xml) != string(ev.SignedXML) || masked != "**********"+alice.Digits()[10:] {
			t.Errorf("audit = %q %q", subject, masked)
		}
	})
	t.Run("Rebind", func(t *testing.T) {
		if err := db.Bind(t.Context(), 100, "ru", evidence(bob)); err != nil {
			t.Fatal(err)
		}
		if iin, _ := db.BoundIIN(t.Context(), 100); !iin.Equal(bob) {
			t.Fatalf("BoundIIN = %v, want bob", iin)
		}
		if chats, _ := db.ChatsOfIIN(t.Context(), alice); len(chats) != 0 {
			t.Fatalf("alice's chats = %v, want none", chats)
		}
		// Once her old chat let go, another chat may bind her IIN.
		if err := db.Bind(t.Context(), 101, "ru", evidence(alice)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Unbind", func(t *testing.T) {
		for range 2 { // the second time there is nothing to unbind
			if err := db.Unbind(t.Context(), 100); err != nil {
				t.Fatal(err)
			}
		}
		if iin, err := db.BoundIIN(t.Context(), 100); err != nil || !iin.IsZero() {
			t.Fatalf("BoundIIN after Unbind = %v, %v", iin, err)
		}
		var n int
		if err := db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'unbind' AND chat_id = 100`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d unbind audit rows, %v; want 1", n, err)
		}
		if chats, err := db.ChatsOfIIN(t.Context(), bob); err != nil || len(chats) != 0 {
			t.Fatalf("bob's chats = %v, %v; want none", chats, err)
		}
	})
	t.Run("ErrConflictReplayedNonce", func(t *testing.T) {
		ev := evidence(f.parent(t))
		if err := db.Bind(t.Context(), 200, "kk", ev); err != nil {
			t.Fatal(err)
		}
		// Even once chat 200 let go of the IIN, its signed document binds nobody else.
		if err := db.Unbind(t.Context(), 200); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.Bind(t.Context(), 201, "kk", ev), kezekbot.ECONFLICT)
		if iin, _ := db.BoundIIN(t.Context(), 201); !iin.IsZero() {
			t.Fatalf("chat 201 bound by a replayed document")
		}
	})
	for _, tt := range []struct {
		name string
		lang string
		ev   func() kezekbot.Evidence
	}{
		{"ErrInvalidLang", "en", func() kezekbot.Evidence { return evidence(alice) }},
		{"ErrInvalidNoIIN", "kk", func() kezekbot.Evidence { e := evidence(alice); e.IIN = kezekbot.IIN{}; return e }},
		{"ErrInvalidNoNonce", "kk", func() kezekbot.Evidence { e := evidence(alice); e.Nonce = ""; return e }},
		{"ErrInvalidNoDocument", "kk", func() kezekbot.Evidence { e := evidence(alice); e.SignedXML = nil; return e }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, db.Bind(t.Context(), 300, tt.lang, tt.ev()), kezekbot.EINVALID)
			if iin, _ := db.BoundIIN(t.Context(), 300); !iin.IsZero() {
				t.Fatal("bound despite the error")
			}
		})
	}
}
