package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// TestSecondSandboxRefuses: a second `kezekbot sandbox` on another port but the same database
// refuses to start, in one line that says how to run it beside the first, and leaves the first
// one's data alone (it re-seeded before: revoked referrals came back). `seed --demo` refuses
// too while a sandbox runs.
func TestSecondSandboxRefuses(t *testing.T) {
	url := pgtest.URL(t)
	sandboxArgs := func(addr string, more ...string) []string {
		// -embedded: seeding (what must not happen twice) is the embedded mode's; in city mode
		// the demo lives at the reference city and the mirror follows it.
		return append([]string{"sandbox", "-embedded", "-http-addr=" + addr, "-database-url=" + url,
			"-redis-url=" + redisstore.TestURL(e2eRedisDB), "-log-format=json", "-shutdown-grace=10s"}, more...)
	}
	stderr := newWatchWriter("kezekbot serving")
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, sandboxArgs(freeAddr(t)), &bytes.Buffer{}, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-exit:
			if code != 0 {
				t.Errorf("first sandbox exited with %d; log:\n%s", code, stderr.String())
			}
		case <-time.After(e2eWait):
			t.Errorf("first sandbox did not stop within %v", e2eWait)
		}
	})
	select {
	case <-stderr.seen:
	case code := <-exit:
		t.Fatalf("first sandbox exited with %d before serving; log:\n%s", code, stderr.String())
	case <-time.After(e2eWait):
		t.Fatalf("first sandbox did not start within %v", e2eWait)
	}

	// What the first sandbox's user did: a change that seeding would undo.
	db := pgtest.Open(t, url)
	if _, err := db.Pool().Exec(context.Background(), `UPDATE kindergartens SET lat = 0`); err != nil {
		t.Fatal(err)
	}

	for name, args := range map[string][]string{
		"sandbox":          sandboxArgs(freeAddr(t)),
		"sandbox -no-seed": sandboxArgs(freeAddr(t), "-no-seed"),
		"seed --demo":      {"seed", "--demo", "-database-url=" + url},
	} {
		var out, errb bytes.Buffer
		ctx2, cancel2 := context.WithTimeout(context.Background(), e2eWait)
		code := run(ctx2, args, &out, &errb)
		cancel2()
		msg := errb.String()
		if code != 2 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "another kezekbot sandbox is running") ||
			!strings.Contains(msg, "-database-url") {
			t.Errorf("%s beside a running sandbox: exit %d, stderr %q", name, code, msg)
		}
	}
	var moved int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM kindergartens WHERE lat <> 0`).Scan(&moved); err != nil || moved != 0 {
		t.Errorf("the first sandbox's data was re-seeded (%d rows, %v)", moved, err)
	}
}

// TestSandboxPersonasHoldKeys: every persona can sign in (the guest's signing ended in
// «Подписание отменено» because the sandbox's NCALayer had no key for it), and the key holders
// without applications are no demo applicant.
func TestSandboxPersonasHoldKeys(t *testing.T) {
	holders := sandboxKeyHolders()
	for _, p := range sandboxPersonas() {
		h, ok := holders[p.ChatID]
		if !ok {
			t.Errorf("persona %q (chat %d) holds no TEST key", p.Name, p.ChatID)
			continue
		}
		if _, err := kezekbot.ParseIIN(h.IIN); err != nil {
			t.Errorf("persona %q: key IIN: %v", p.Name, err)
		}
		if p.Note == "" {
			t.Errorf("persona %q has no note", p.Name)
		}
	}
	for _, h := range []postgres.DemoParent{sandboxGuest, sandboxStaffKeys} {
		for _, d := range postgres.DemoParents {
			if d.IIN == h.IIN {
				t.Errorf("%s has demo parent %s's IIN", h.Name, d.Name)
			}
		}
	}
	// Which demo parent can try a revocation is said in the sandbox.
	revocable := 0
	for _, p := range sandboxPersonas() {
		if strings.Contains(p.Note, "revocable") {
			revocable++
		}
	}
	if revocable == 0 {
		t.Error("no persona note says which parent has a revocable referral")
	}
	s, err := newSandboxSigner(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.nca.Close()
}
