package conformance_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/conformance"
	"github.com/kezekbot/kezekbot/city/refcity"
	"github.com/kezekbot/kezekbot/store/postgres"
)

func setup(t *testing.T, faults refcity.Faults) (*refcity.City, *city.Client, conformance.Options) {
	t.Helper()
	now := time.Now()
	demo, err := postgres.DemoDetails(now)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := refcity.New(refcity.Config{Faults: faults, Seed: 7}, demo)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	c, err := city.NewClient(city.Config{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var app kezekbot.ApplicationDetail
	for _, d := range demo {
		if len(d.Revocable(now)) > 0 {
			app = d
			break
		}
	}
	return rc, c, conformance.Options{IIN: app.ApplicantIIN, Application: app.ID}
}

func table(rows []conformance.Row) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-40s %-5s %s\n", r.Check, r.Result, r.Detail)
	}
	return b.String()
}

func TestPassesAgainstTheReferenceCity(t *testing.T) {
	rc, c, o := setup(t, refcity.Faults{})
	rows := conformance.Run(t.Context(), c, o)
	if conformance.Failed(rows) || len(rows) != 14 {
		t.Fatalf("%d rows:\n%s", len(rows), table(rows))
	}
	for _, r := range rows {
		if r.Result != conformance.Pass {
			t.Errorf("not passed: %+v", r)
		}
	}
	revs := rc.Revocations()
	if len(revs) != 1 || !strings.Contains(revs[0].SignedXML, "NOT SIGNED") {
		t.Errorf("the city recorded %d revocations", len(revs))
	}
	// A second run finds no active referral and says so.
	rows = conformance.Run(t.Context(), c, o)
	if !conformance.Failed(rows) || !strings.Contains(table(rows), "no active referral") {
		t.Errorf("second run:\n%s", table(rows))
	}
}

// Out-of-order and repeated changes are within the contract: the kit still passes.
func TestPassesWithReorderedFeed(t *testing.T) {
	_, c, o := setup(t, refcity.Faults{OutOfOrderRate: 1, DuplicateRate: 0.5})
	if rows := conformance.Run(t.Context(), c, o); conformance.Failed(rows) {
		t.Fatalf("failed:\n%s", table(rows))
	}
}

func TestFailsWithAClearRow(t *testing.T) {
	_, c, o := setup(t, refcity.Faults{MalformedRate: 1})
	rows := conformance.Run(t.Context(), c, o)
	if !conformance.Failed(rows) {
		t.Fatalf("passed against malformed JSON:\n%s", table(rows))
	}
	if rows[0].Check != "search" || rows[0].Result != conformance.Fail || !strings.Contains(rows[0].Detail, "breaks the contract") {
		t.Errorf("first row: %+v", rows[0])
	}
}

// A city that leaks existence (403 for someone else's application instead of 404), and one
// that verifies signatures, fail the rows that say so.
func TestFailsOnWrongRules(t *testing.T) {
	rc, _, o := setup(t, refcity.Faults{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.Header.Get(city.HeaderApplicantIIN) != o.IIN.Digits() && strings.HasPrefix(r.URL.Path, "/v1/applications/") {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(422)
			_, _ = w.Write([]byte(`{"code":"not_applicant"}`))
			return
		}
		if r.URL.Path == "/v1/revocations" {
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(r.Body)
			if strings.Contains(buf.String(), "NOT SIGNED") {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(422)
				_, _ = w.Write([]byte(`{"code":"signature_rejected"}`))
				return
			}
			r.Body = http.NoBody
		}
		rc.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, _ := city.NewClient(city.Config{BaseURL: srv.URL})
	rows := conformance.Run(t.Context(), c, o)
	got := map[string]conformance.Row{}
	for _, r := range rows {
		got[r.Check] = r
	}
	if r := got["application: another applicant"]; r.Result != conformance.Fail || !strings.Contains(r.Detail, "not_applicant") {
		t.Errorf("leak not caught: %+v", r)
	}
	if r := got["revocation"]; r.Result != conformance.Fail || !strings.Contains(r.Detail, "--signed-xml") {
		t.Errorf("signature refusal: %+v", r)
	}
	if r := got["revocation: replay"]; r.Result != conformance.Skip {
		t.Errorf("replay after a failed revocation: %+v", r)
	}
}
