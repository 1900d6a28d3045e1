//go:build unix

package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// TestFailoverToPromotedReplica runs the store against a primary and a synchronous streaming
// replica named together in one URL (target_session_attrs=read-write), crashes the primary
// (pg_ctl stop -m immediate) while bindings are being written, promotes the replica, and
// checks that the store carries on against it by itself and that every binding and the
// revocation acknowledged before the crash are there.
func TestFailoverToPromotedReplica(t *testing.T) {
	t.Parallel()
	primary := pgtest.StartPrimary(t)
	replica := primary.StartReplica(t, true)
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=2",
		primary.Port, replica.Port)

	ctx := t.Context()
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Now = func() time.Time { return now }
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if port := serverPort(t, db); port != primary.Port {
		t.Fatalf("connected to port %d, want the primary's %d", port, primary.Port)
	}
	f := &fixture{db: db}
	f.kindergarten(t, "Ясли-сад №1 «Тест»")
	alice, bob := f.parent(t), f.parent(t)
	appA, refsA := f.addApp(t, appSpec{Applicant: alice, Referrals: []refSpec{{IssuedAt: now.Add(-10 * time.Minute)}}})
	appB, refsB := f.addApp(t, appSpec{Applicant: bob, Referrals: []refSpec{{IssuedAt: now.Add(-10 * time.Minute)}}})
	if _, err := db.RevokeReferral(ctx, revokeRequest(alice, appA, refsA[0])); err != nil {
		t.Fatal(err)
	}

	// The writer binds new chats one after another, as signatures would, and keeps what was
	// acknowledged; a failed write is the caller's to retry (a new chat here).
	type ack struct {
		chat int64
		iin  kezekbot.IIN
		at   time.Time
	}
	var (
		mu     sync.Mutex
		acked  []ack
		failed int
	)
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for chat := int64(5_000_000); wctx.Err() == nil; chat++ {
			iin := f.iin(t, time.Date(1991, 2, 3, 0, 0, 0, 0, time.UTC), kezekbot.Female)
			cctx, cancel := context.WithTimeout(wctx, 3*time.Second)
			err := db.Bind(cctx, chat, "ru", evidence(iin))
			cancel()
			mu.Lock()
			if err == nil {
				acked = append(acked, ack{chat, iin, time.Now()})
			} else {
				failed++
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				stop()
				wg.Wait()
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("bindings on the primary", func() bool { return count() >= 50 })

	primary.Stop(t, "immediate")
	crashed := time.Now()
	beforeCrash := count()
	replica.Promote(t)
	promoted := time.Now()
	waitFor("bindings on the promoted replica", func() bool { return count() >= beforeCrash+50 })
	stop()
	wg.Wait()

	if port := serverPort(t, db); port != replica.Port {
		t.Fatalf("connected to port %d after the failover, want the promoted replica's %d", port, replica.Port)
	}
	var firstAfter time.Time
	for _, a := range acked {
		if a.at.After(crashed) {
			firstAfter = a.at
			break
		}
	}
	t.Logf("%d bindings acknowledged before the crash, %d in all, %d writes failed; promotion took %v, first write acknowledged %v after the crash",
		beforeCrash, len(acked), failed, promoted.Sub(crashed).Round(time.Millisecond), firstAfter.Sub(crashed).Round(time.Millisecond))

	// Nothing acknowledged is lost: every binding and its audit row, and the revocation.
	for _, a := range acked {
		got, err := db.BoundIIN(ctx, a.chat)
		if err != nil || got != a.iin {
			t.Fatalf("chat %d: bound to %v (%v) after the failover, acknowledged %v", a.chat, got, err, a.iin)
		}
	}
	var audited int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'bind' AND chat_id >= 5000000`).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited < len(acked) {
		t.Errorf("%d bind audit rows, %d bindings acknowledged", audited, len(acked))
	}
	d, err := db.Application(ctx, alice, appA)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != kezekbot.StatusQueued || len(d.Referrals) != 1 || d.Referrals[0].State != kezekbot.ReferralRevoked {
		t.Fatalf("the revocation acknowledged before the crash is gone: status %s, referrals %+v", d.Status, d.Referrals)
	}
	// One revocation per referral still holds, and the new primary revokes.
	if _, err := db.RevokeReferral(ctx, revokeRequest(alice, appA, refsA[0])); err == nil {
		t.Error("the referral revoked before the failover was revoked again")
	}
	if _, err := db.RevokeReferral(ctx, revokeRequest(bob, appB, refsB[0])); err != nil {
		t.Fatalf("revocation on the promoted replica: %v", err)
	}
}

// TestReadOnlyConnectionIsDropped: a pooled connection whose server has become read-only (a
// demoted primary, or a proxy now leading to a standby) fails one write with SQLSTATE 25006
// and is then closed, so the next write gets a new connection instead of failing until the
// connection's lifetime runs out. The session's default_transaction_read_only stands in for
// the demotion.
func TestReadOnlyConnectionIsDropped(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	db, err := postgres.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Now = func() time.Time { return now }
	f := &fixture{db: db}
	ctx := t.Context()

	var pid int
	if _, err := db.Pool().Exec(ctx, "SET default_transaction_read_only = on"); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool().QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	iin := f.parent(t)
	err = db.Bind(ctx, 7, "ru", evidence(iin))
	if err == nil {
		t.Fatal("a write on a read-only session succeeded")
	}
	if err := db.Bind(ctx, 7, "ru", evidence(iin)); err != nil {
		t.Fatalf("the write after a read-only error failed too (the connection was reused?): %v", err)
	}
	var pid2 int
	if err := db.Pool().QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid2); err != nil {
		t.Fatal(err)
	}
	if pid2 == pid {
		t.Errorf("the read-only connection (backend %d) is still in the pool", pid)
	}
}

// serverPort is the port of the server db's next connection talks to.
func serverPort(t *testing.T, db *postgres.DB) int {
	t.Helper()
	var port int
	if err := db.Pool().QueryRow(t.Context(), "SELECT inet_server_port()").Scan(&port); err != nil {
		t.Fatal(err)
	}
	return port
}
