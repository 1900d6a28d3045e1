package postgres_test

import (
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/store/postgres"
)

// TestRevokeNotifiesOtherChatsOnly: the chat that signed a revocation already shows «✅
// Направление отозвано»; the notification is for the applicant's other chats, not a second
// message saying the same to it.
func TestRevokeNotifiesOtherChatsOnly(t *testing.T) {
	t.Parallel()
	db, f := MustOpenDB(t)
	ctx := t.Context()
	alice := f.parent(t)
	x, refs := f.addApp(t, appSpec{Applicant: alice, Referrals: []refSpec{{IssuedAt: now.Add(-10 * time.Minute)}}})
	req := revokeRequest(alice, x, refs[0]) // signed in chat 42
	if err := db.Bind(ctx, req.ChatID, "ru", evidence(alice)); err != nil {
		t.Fatal(err)
	}
	// A second chat of hers, bound before one IIN was limited to one chat.
	const other = int64(4343)
	if _, err := db.Pool().Exec(ctx, `INSERT INTO telegram_bindings (chat_id, iin, lang, bound_at) VALUES ($1, $2, 'kk', now())`, other, alice.Digits()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeReferral(ctx, req); err != nil {
		t.Fatal(err)
	}
	var targets []int64
	if _, err := db.ConsumeOutbox(ctx, 10, func(nc postgres.NotifyContext) postgres.NotifyOutput {
		if nc.Kind == postgres.OutboxReferralRevoked {
			for _, tg := range nc.Targets {
				targets = append(targets, tg.ChatID)
			}
		}
		return postgres.NotifyOutput{}
	}); err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || targets[0] != other {
		t.Fatalf("referral_revoked goes to chats %v, want only the other chat %d (not the signing chat %d)", targets, other, req.ChatID)
	}
}
