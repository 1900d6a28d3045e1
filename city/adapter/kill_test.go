package adapter_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/adapter"
	"github.com/kezekbot/kezekbot/city/refcity"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

const (
	childEnv     = "KEZEKBOT_TEST_DELIVER_CHILD"
	childDBEnv   = "KEZEKBOT_TEST_DELIVER_DB"
	childCityEnv = "KEZEKBOT_TEST_DELIVER_CITY"
	killToken    = "kill-test-token-0123456789"
)

// TestDeliverChild is the replica that gets killed: it only runs as the child of
// TestKill9MidDeliveryRevokesOnce.
func TestDeliverChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("runs only as a child process")
	}
	db := pgtest.Open(t, os.Getenv(childDBEnv))
	client, err := city.NewClient(city.Config{BaseURL: os.Getenv(childCityEnv), Token: killToken})
	if err != nil {
		t.Fatal(err)
	}
	d := &adapter.Deliverer{Commands: db, City: client, Snapshots: db, Owner: "child", Lease: 2 * time.Second,
		SendTimeout: time.Minute, Log: quiet(), Poll: 20 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = d.Run(ctx) // killed long before
}

// A replica is killed with SIGKILL while its revocation is in flight: the city has applied it
// but the answer never came back. The lease runs out, another replica sends the same
// idempotency key, the city answers with its first answer, and the city holds exactly one
// revocation.
func TestKill9MidDeliveryRevokesOnce(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		t.Skip("the child does not run the parent's test")
	}
	url := pgtest.URL(t)
	db := pgtest.Open(t, url)
	now := time.Now()
	demo, err := postgres.DemoDetails(now)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := refcity.New(refcity.Config{Token: killToken}, demo)
	if err != nil {
		t.Fatal(err)
	}
	var target kezekbot.ApplicationDetail
	var ref kezekbot.Referral
	for _, d := range demo {
		if rs := d.Revocable(now); len(rs) > 0 {
			target, ref = d, rs[0]
			break
		}
	}
	if target.ID == 0 {
		t.Fatal("no revocable demo referral")
	}
	// The first revocation is applied at the city and its answer is held back forever, as
	// the network between a dying replica and the city would.
	var sends atomic.Int32
	inFlight := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v1/revocations") {
			if sends.Add(1) == 1 {
				rec := httptest.NewRecorder()
				rc.ServeHTTP(rec, r)
				once.Do(func() { close(inFlight) })
				<-release
				return
			}
		}
		rc.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(release)

	signed := []byte("<?xml version=\"1.0\"?>\n<revoke>\r\n\t<signed/></revoke>")
	req := kezekbot.RevokeRequest{ChatID: 1001, ApplicantIIN: target.ApplicantIIN, ApplicationID: target.ID, ReferralID: ref.ID,
		Reason: "Переезд", Evidence: kezekbot.Evidence{SignedXML: signed, IIN: target.ApplicantIIN, Serial: "0a1b", Issuer: "CN=TEST", VerifiedAt: now, Nonce: "nonce-kill"}}
	if err := db.EnqueueRevoke(t.Context(), req, postgres.CityCommand{IdempotencyKey: adapter.IdempotencyKey("nonce-kill")}); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestDeliverChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", childDBEnv+"="+url, childCityEnv+"="+srv.URL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inFlight:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the child never sent the revocation:\n%s", out.String())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code, no clean-up
		t.Fatal(err)
	}
	_ = cmd.Wait()

	if len(rc.Revocations()) != 1 {
		t.Fatalf("the city holds %d revocations after the first send", len(rc.Revocations()))
	}
	var state, owner string
	if err := db.Pool().QueryRow(t.Context(), `SELECT state, owner FROM city_commands`).Scan(&state, &owner); err != nil || state != postgres.CommandSending || owner != "child" {
		t.Fatalf("after the kill: %s held by %q (%v)", state, owner, err)
	}

	client, err := city.NewClient(city.Config{BaseURL: srv.URL, Token: killToken})
	if err != nil {
		t.Fatal(err)
	}
	chats := &chatLog{}
	d := &adapter.Deliverer{Commands: db, City: client, Snapshots: db, Resumer: chats, Owner: "survivor", Lease: 2 * time.Second, Log: quiet()}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := d.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := db.Pool().QueryRow(t.Context(), `SELECT state FROM city_commands`).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state == postgres.CommandAccepted || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if state != postgres.CommandAccepted {
		t.Fatalf("the surviving replica left the command %s", state)
	}
	revs := rc.Revocations()
	if len(revs) != 1 || revs[0].SignedXML != string(signed) || sends.Load() != 2 {
		t.Fatalf("the city holds %d revocations after %d sends", len(revs), sends.Load())
	}
	if evs := chats.of(1001); len(evs) != 1 {
		t.Errorf("the chat was told %d times", len(evs))
	}
	// The mirror took the city's answer.
	if at, err := db.SyncedAt(t.Context(), target.ID); err != nil || at.IsZero() {
		t.Errorf("mirror not refreshed: %v %v", at, err)
	}
}
