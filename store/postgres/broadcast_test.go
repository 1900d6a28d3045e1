package postgres_test

import (
	"context"
	"testing"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/audience"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

func TestUnreachableReason(t *testing.T) {
	tests := map[string]string{
		"blocked": "blocked", "kicked": "kicked", "not_found": "not_found", "deactivated": "deactivated",
		"Forbidden: bot was blocked by the user":                 "blocked",
		"Forbidden: user is deactivated":                         "deactivated",
		"Bad Request: chat not found":                            "not_found",
		"Forbidden: bot was kicked from the group chat":          "kicked",
		"Forbidden: bot can't initiate conversation with a user": "blocked",
		"": "blocked",
	}
	for in, want := range tests {
		if got := postgres.UnreachableReason(in); got != want {
			t.Errorf("UnreachableReason(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBroadcastStore covers what the engine tests do not: audiences, the empty broadcast,
// staff, and reachability.
func TestBroadcastStore(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	_, err := db.Pool().Exec(ctx, `INSERT INTO telegram_bindings (chat_id, iin, lang, bound_at)
		SELECT 10 + i, p || iin_check_digit(p), 'ru', now() FROM
		(SELECT i, '8501013' || lpad(i::text, 4, '0') AS p FROM generate_series(1, 30) i) x WHERE iin_check_digit(p) IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	all, err := db.CountAudience(ctx, audience.Audience{})
	if err != nil || all == 0 {
		t.Fatalf("count all = %d, %v", all, err)
	}
	if err := db.MarkUnreachable(ctx, 11, "Forbidden: bot was blocked by the user"); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountAudience(ctx, audience.Audience{}); n != all-1 {
		t.Errorf("unreachable chat still counted: %d of %d", n, all)
	}
	if err := db.SetReachable(ctx, 11); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountAudience(ctx, audience.Audience{}); n != all {
		t.Errorf("reachable again, count %d of %d", n, all)
	}
	// Nobody has applications, so every filtered audience is empty, and such a broadcast is
	// done at once.
	for _, a := range []audience.Audience{{KindergartenID: 1}, {Status: kezekbot.StatusQueued}, {YearFrom: 2020}, {Numbers: []string{"X"}}} {
		if n, err := db.CountAudience(ctx, a); err != nil || n != 0 {
			t.Errorf("count %v = %d, %v", a, n, err)
		}
	}
	b, err := db.CreateBroadcast(ctx, postgres.NewBroadcast{Source: postgres.SourceCLI, Audience: audience.Audience{Status: kezekbot.StatusQueued}, TextKK: "x"})
	if err != nil || b.State != postgres.BroadcastDone || b.Total != 0 {
		t.Fatalf("empty broadcast: %+v, %v", b, err)
	}
	if _, err := db.CreateBroadcast(ctx, postgres.NewBroadcast{Source: postgres.SourceCLI}); kezekbot.ErrorCode(err) != kezekbot.EINVALID {
		t.Errorf("no text: %v", err)
	}
	if _, err := db.GetBroadcast(ctx, 999); kezekbot.ErrorCode(err) != kezekbot.ENOTFOUND {
		t.Errorf("missing: %v", err)
	}

	if _, err := db.AddStaff(ctx, postgres.StaffMember{UserID: 5, Role: "operator"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddStaff(ctx, postgres.StaffMember{UserID: 5, Role: "admin", Lang: "kk"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddStaff(ctx, postgres.StaffMember{UserID: 6, Role: "boss"}); kezekbot.ErrorCode(err) != kezekbot.EINVALID {
		t.Errorf("bad role: %v", err)
	}
	m, err := db.GetStaff(ctx, 5)
	if err != nil || m.Role != "admin" || m.Lang != "kk" {
		t.Errorf("staff 5 = %+v, %v", m, err)
	}
	if err := db.RemoveStaff(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveStaff(ctx, 5); kezekbot.ErrorCode(err) != kezekbot.ENOTFOUND {
		t.Errorf("remove twice: %v", err)
	}
}
