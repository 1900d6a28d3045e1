package broadcast_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/audience"
	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// family is one applicant with one application and an active referral, bound to two chats.
type family struct {
	app, ref int64
	number   string
	chats    []int64
}

// seedFamily writes a kindergarten, an applicant, a child, an application with an active
// referral issued at issued, and bindings of chats (kk, then ru). IINs get their check digit
// from the schema's own function.
func seedFamily(t testing.TB, db *postgres.DB, issued time.Time, chats ...int64) family {
	t.Helper()
	ctx := context.Background()
	f := family{number: "УО.2021.000042.1", chats: chats}
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var kg int64
	var applicantIIN string
	steps := []struct {
		sql  string
		args []any
		dest []any
	}{
		{`INSERT INTO kindergartens (name, address) VALUES ('Ясли-сад №7 «Балапан»', 'Астана') RETURNING id`, nil, []any{&kg}},
		{`INSERT INTO applicants (iin, name) SELECT p || iin_check_digit(p), 'Parent' FROM
			(SELECT '850101300' || lpad(s::text, 2, '0') AS p FROM generate_series(1, 99) s) x WHERE iin_check_digit(p) IS NOT NULL LIMIT 1 RETURNING iin`, nil, []any{&applicantIIN}},
		{`INSERT INTO children (iin, name, birth_date) SELECT p || iin_check_digit(p), 'Child', date '2021-03-04' FROM
			(SELECT '210304500' || lpad(s::text, 2, '0') AS p FROM generate_series(1, 99) s) x WHERE iin_check_digit(p) IS NOT NULL LIMIT 1 RETURNING 0`, nil, []any{new(int)}},
		{`INSERT INTO applications (number, child_id, applicant_id, benefit, registered_at, status, status_changed_at, queued_since, queue_number)
			SELECT $1, (SELECT max(id) FROM children), (SELECT max(id) FROM applicants), 'none', $2::timestamptz - interval '1 year', 'referral_issued', $2, $2::timestamptz - interval '1 year', 120
			RETURNING id`, []any{f.number, issued}, []any{&f.app}},
		{`INSERT INTO referrals (application_id, kindergarten_id, issued_at, state) VALUES ($1, $2, $3, 'active') RETURNING id`, nil, []any{&f.ref}},
	}
	for i, s := range steps {
		args := s.args
		if i == 4 {
			args = []any{f.app, kg, issued}
		}
		if err := tx.QueryRow(ctx, s.sql, args...).Scan(s.dest...); err != nil {
			t.Fatalf("seed step %d: %v", i, err)
		}
	}
	for i, c := range chats {
		lang := "kk"
		if i%2 == 1 {
			lang = "ru"
		}
		if _, err := tx.Exec(ctx, `INSERT INTO telegram_bindings (chat_id, iin, lang, bound_at) VALUES ($1, $2, $3, now())`, c, applicantIIN, lang); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

func outbox(t testing.TB, db *postgres.DB, kind string, p postgres.EventPayload) {
	t.Helper()
	if _, err := db.ImportEvents(context.Background(), []postgres.ImportedEvent{{Kind: kind, Payload: p}}); err != nil {
		t.Fatalf("import %s: %v", kind, err)
	}
}

func notes(t testing.TB, db *postgres.DB, chat int64) []postgres.NotificationRow {
	t.Helper()
	ns, err := db.NotificationsOf(context.Background(), chat)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestNotifications(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	now := time.Now()
	issued := now.Add(-23 * time.Hour) // the window closes in an hour: inside the 2h reminder
	f := seedFamily(t, db, issued, 701, 702)
	if err := db.SetMuted(ctx, 702, "referral_issued", true); err != nil {
		t.Fatal(err)
	}
	n := broadcast.NewNotifier(db, broadcast.NotifyConfig{QueueThreshold: 10})

	t.Run("referral issued, muted chat skipped, replay deduped", func(t *testing.T) {
		outbox(t, db, postgres.OutboxReferralIssued, postgres.EventPayload{ReferralID: f.ref})
		// The same change reported again by the city's system.
		outbox(t, db, postgres.OutboxReferralIssued, postgres.EventPayload{ReferralID: f.ref, EventID: "city-1"})
		if k, err := n.Drain(ctx); err != nil || k != 2 {
			t.Fatalf("drain = %d, %v", k, err)
		}
		got := notes(t, db, 701)
		if len(got) != 1 {
			t.Fatalf("chat 701 has %d notifications, want 1: %+v", len(got), got)
		}
		deadline := issued.Add(24 * time.Hour).In(time.FixedZone("Astana", 5*3600)).Format("15:04")
		for _, want := range []string{f.number, "Балапан", deadline, "Балабақша:"} {
			if !strings.Contains(got[0].Text, want) {
				t.Errorf("kk text %q lacks %q", got[0].Text, want)
			}
		}
		if len(notes(t, db, 702)) != 0 {
			t.Error("muted chat 702 was notified")
		}
	})

	t.Run("reminder once per referral", func(t *testing.T) {
		for i, want := range []int{1, 0} {
			if k, err := db.ScheduleReminders(ctx, 2*time.Hour); err != nil || k != want {
				t.Fatalf("schedule #%d = %d, %v; want %d", i, k, err, want)
			}
		}
		if _, err := n.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range f.chats {
			ns := notes(t, db, c)
			if len(ns) == 0 || ns[len(ns)-1].Kind != postgres.OutboxRevocationReminder {
				t.Errorf("chat %d: no reminder: %+v", c, ns)
			}
		}
		ru := notes(t, db, 702)
		if !strings.Contains(ru[0].Text, "Осталось около ") || !strings.Contains(ru[0].Text, "(время Астаны)") {
			t.Errorf("ru reminder: %q", ru[0].Text)
		}
	})

	t.Run("queue drift adds up to the threshold", func(t *testing.T) {
		before := len(notes(t, db, 701))
		steps := []struct{ old, new, wantNew int }{
			{120, 115, 0}, // 5 from the baseline 120
			{115, 111, 0}, // 9
			{111, 108, 1}, // 12 > 10: told, new baseline 108
			{108, 100, 0}, // 8
		}
		for _, s := range steps {
			outbox(t, db, postgres.OutboxQueueChanged, postgres.EventPayload{ApplicationID: f.app, OldQueueNumber: s.old, QueueNumber: s.new})
			if _, err := n.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			after := len(notes(t, db, 701))
			if after-before != s.wantNew {
				t.Fatalf("%d→%d: %d new notifications, want %d", s.old, s.new, after-before, s.wantNew)
			}
			before = after
		}
		last := notes(t, db, 701)
		if !strings.Contains(last[len(last)-1].Text, "120 → 108") {
			t.Errorf("queue text: %q", last[len(last)-1].Text)
		}
	})

	t.Run("referral revoked reaches every chat once, without a revoke button", func(t *testing.T) {
		if err := db.SetMuted(ctx, 702, "referral_issued", false); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the store's outbox row and the city's report of the same revocation
			outbox(t, db, postgres.OutboxReferralRevoked, postgres.EventPayload{ReferralID: f.ref, QueueNumber: 7})
		}
		if _, err := n.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range f.chats {
			var got []postgres.NotificationRow
			for _, r := range notes(t, db, c) {
				if r.Kind == postgres.OutboxReferralRevoked {
					got = append(got, r)
				}
			}
			if len(got) != 1 || !strings.Contains(got[0].Text, f.number) {
				t.Fatalf("chat %d: %+v", c, got)
			}
			var raw []byte
			if err := db.Pool().QueryRow(ctx, `SELECT buttons FROM notifications WHERE id = $1`, got[0].ID).Scan(&raw); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(raw), ":rev:") {
				t.Errorf("a revoked referral offers revocation: %s", raw)
			}
		}
	})

	t.Run("buttons open the application", func(t *testing.T) {
		var raw []byte
		if err := db.Pool().QueryRow(ctx, `SELECT buttons FROM notifications WHERE chat_id = 701 ORDER BY id LIMIT 1`).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var kb [][]broadcast.Button
		if err := json.Unmarshal(raw, &kb); err != nil || len(kb) != 2 {
			t.Fatalf("buttons %s: %v", raw, err)
		}
		if !strings.HasPrefix(kb[0][0].Data, "1:open:") || !strings.HasPrefix(kb[1][0].Data, "1:rev:") {
			t.Errorf("callback data %q, %q", kb[0][0].Data, kb[1][0].Data)
		}
	})
}

// TestNotificationBeforeBroadcast: a parent's notification overtakes a running broadcast.
func TestNotificationBeforeBroadcast(t *testing.T) {
	t.Parallel()
	const rate = 40.0
	db := pgtest.New(t)
	f := seedFamily(t, db, time.Now().Add(-time.Hour), 801)
	seedBindings(t, db, 30000, 300)
	b := createBroadcast(t, db, audience.Audience{})
	srv := telegramtest.New()
	t.Cleanup(srv.Close)
	rc, prefix := newRedis(t)
	rec := newRecorder()
	e, err := broadcast.New(db, broadcast.TelegramSender{B: newBot(t, srv.URL)},
		broadcast.NewRedisPacer(rc, prefix, broadcast.Limits{Global: rate}, 0),
		broadcast.Config{Owner: "w", Rate: rate, OnRecord: rec.OnRecord})
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.WaitFor(ctx, func(c telegramtest.Call) bool { return c.Seq >= 20 }); err != nil {
		t.Fatal(err)
	}
	n := broadcast.NewNotifier(db, broadcast.NotifyConfig{Enqueued: e.Kick})
	outbox(t, db, postgres.OutboxReferralIssued, postgres.EventPayload{ReferralID: f.ref})
	if _, err := n.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	call, err := srv.WaitFor(ctx, func(c telegramtest.Call) bool { return c.ChatID() == 801 })
	if err != nil {
		t.Fatal(err)
	}
	// Behind it were ~280 broadcast messages, 7 seconds at 40/s: it must not have waited for them.
	if call.Seq > 60 {
		t.Errorf("notification was call %d; it waited behind the broadcast", call.Seq)
	}
	waitState(t, db, rec, b.ID, postgres.BroadcastDone, 60*time.Second)
}
