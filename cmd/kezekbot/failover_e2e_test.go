//go:build unix

package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// TestFailoverEndToEnd runs the whole bot on a KEZEKBOT_DATABASE_URL naming a primary and its
// synchronous streaming replica (target_session_attrs=read-write): parents bind, mute a
// notification and revoke a referral through the dialog and the signing page; the primary
// crashes (pg_ctl stop -m immediate) and /readyz turns 503; the replica is promoted and
// /readyz turns 200 again without a restart; everything acknowledged before the crash is there,
// and binding, settings and the card work against the new primary.
func TestFailoverEndToEnd(t *testing.T) {
	primary := pgtest.StartPrimary(t)
	replica := primary.StartReplica(t, true)
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=2",
		primary.Port, replica.Port)

	e := newE2EEnvSeed(t, false)
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	db.Now = e.clock.Now
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Seed(context.Background(), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.dbURL, e.db = url, db
	e.start()

	// Acknowledged before the crash: two bindings, a mute, a revocation.
	c1 := e.chat(9101, "ru", 1)
	c1.bind()
	c2 := e.chat(9102, "ru", 2)
	c2.bind()
	c2.send("/settings")
	reminder := e.tr("ru", "mute.reminder", nil)
	c2.press(e.tr("ru", "btn.mute_on", map[string]any{"Kind": reminder}))
	if kinds, err := db.Muted(context.Background(), c2.id); err != nil || !slices.Equal(kinds, []string{"reminder"}) {
		t.Fatalf("mutes of chat %d: %v (%v)", c2.id, kinds, err)
	}
	c0 := e.chat(9100, "ru", 0)
	openRevoke(t, c0)
	c0.pressKey("btn.confirm")
	b := e.browser()
	b.open(c0.linkOf("btn.sign"))
	seq := len(e.tg.Calls())
	if r := b.post(e.sign(b.document(), e.keys[0].sign)); !r.OK {
		t.Fatalf("revoke POST: %d %s (%s)", r.Status, r.Reason, r.Message)
	}
	c0.wantText(c0.result(seq, ""), e.tr("ru", "revoked.title", nil))

	ready := func() int {
		resp, err := e.client.Get("https://" + e.addr + "/readyz")
		if err != nil {
			return 0
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	waitReady := func(want int) time.Duration {
		t.Helper()
		start := time.Now()
		for ready() != want {
			if time.Since(start) > 20*time.Second {
				t.Fatalf("/readyz never answered %d", want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return time.Since(start)
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("/readyz = %d before the crash", got)
	}
	primary.Stop(t, "immediate")
	waitReady(http.StatusServiceUnavailable)
	replica.Promote(t)
	back := waitReady(http.StatusOK)
	t.Logf("/readyz back %v after the promotion", back.Round(time.Millisecond))

	// The bot carries on against the promoted replica: a new binding, a settings change, the
	// card with the revocation made before the crash.
	c3 := e.chat(9103, "ru", 3)
	c3.bind()
	c2.send("/settings")
	c2.press(e.tr("ru", "btn.mute_off", map[string]any{"Kind": reminder}))
	c0.send("/menu")
	c0.pressKey("btn.apps")
	s := c0.press(appRevocable)
	c0.wantText(s, e.tr("ru", "status.queued", nil), e.tr("ru", "referral.revoked", nil))

	ctx := context.Background()
	// This handle's connections to the dead primary were used less than a second before the
	// crash, so pgx hands them out without a ping and each fails its first query; the next
	// attempt gets a new connection (deployments/README.md, "PostgreSQL failover").
	var port int
	for range 5 {
		if err = db.Pool().QueryRow(ctx, "SELECT inet_server_port()").Scan(&port); err == nil {
			break
		}
	}
	if err != nil || port != replica.Port {
		t.Fatalf("the store talks to port %d (%v), want the promoted replica's %d", port, err, replica.Port)
	}
	for i, c := range []*chat{c0, c1, c2, c3} {
		iin, err := db.BoundIIN(ctx, c.id)
		if err != nil || iin != kezekbot.MustParseIIN(postgres.DemoParents[i].IIN) {
			t.Errorf("chat %d: binding %v (%v) after the failover", c.id, iin.Masked(), err)
		}
	}
	if kinds, err := db.Muted(ctx, c2.id); err != nil || len(kinds) != 0 {
		t.Errorf("mutes of chat %d after unmuting on the new primary: %v (%v)", c2.id, kinds, err)
	}
	var actions []string
	rows, err := db.Pool().Query(ctx, `SELECT action FROM audit_log WHERE chat_id BETWEEN 9100 AND 9103 AND evidence_xml IS NOT NULL ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		actions = append(actions, a)
	}
	if want := []string{"bind", "bind", "bind", "revoke", "bind"}; !slices.Equal(actions, want) {
		t.Errorf("audit with evidence: %v, want %v", actions, want)
	}
	e.checkAnswered()
	e.checkLogs()
}
