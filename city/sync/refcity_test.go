package sync_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/refcity"
	citysync "github.com/kezekbot/kezekbot/city/sync"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// The reference city's demo, pulled into one mirror and pushed into another, with a referral
// issued on the way: both mirrors end with what the city holds.
func TestReferenceCityPullAndPush(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Now()
	demo, err := postgres.DemoDetails(now)
	if err != nil {
		t.Fatal(err)
	}
	pulled, pushed := pgtest.New(t), pgtest.New(t)
	push, err := citysync.NewPushHandler(pushed, citysync.PushConfig{Secrets: []string{secretNew}})
	if err != nil {
		t.Fatal(err)
	}
	kezek := httptest.NewServer(push) // the handler answers any path; refcity posts to /city/changes
	defer kezek.Close()
	ref, err := refcity.New(refcity.Config{PushURL: kezek.URL, PushSecret: []byte(secretNew)}, demo)
	if err != nil {
		t.Fatal(err)
	}
	cityServer := httptest.NewServer(ref)
	defer cityServer.Close()
	client, err := city.NewClient(city.Config{BaseURL: cityServer.URL})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { _ = ref.RunPusher(ctx); done <- struct{}{} }()
	go func() {
		_ = citysync.NewPuller(pulled, client, citysync.PullConfig{Interval: 10 * time.Millisecond}).Run(ctx)
		done <- struct{}{}
	}()

	var appID int64
	for _, d := range demo {
		if d.Status == "queued" {
			appID = d.ID
			break
		}
	}
	issued, err := ref.IssueReferral(appID, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := len(ref.ChangeLog())
	deadline := time.Now().Add(15 * time.Second)
	for _, db := range []*postgres.DB{pulled, pushed} {
		for {
			var n int
			if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM city_changes`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d changes in the mirror", n, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		var apps, active int
		if err := db.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM applications), (SELECT count(*) FROM referrals WHERE id = $1 AND state = 'active')`,
			issued.ReferralID).Scan(&apps, &active); err != nil {
			t.Fatal(err)
		}
		if apps != len(demo) || active != 1 {
			t.Fatalf("mirror has %d applications (want %d) and %d of the issued referral", apps, len(demo), active)
		}
	}
	cancel()
	<-done
	<-done
}
