package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/adapter"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

func TestCityStatus(t *testing.T) {
	url := pgtest.URL(t)
	t.Setenv("KEZEKBOT_DATABASE_URL", url)
	db := pgtest.Open(t, url)
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(city.ChangePage{Changes: []city.Change{}, Next: r.URL.Query().Get("after")})
	}))
	defer feed.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer down.Close()

	status := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(t.Context(), append([]string{"city", "status"}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	t.Setenv("KEZEKBOT_CITY_URL", feed.URL)
	t.Setenv("KEZEKBOT_CITY_TOKEN", "t0ken")
	if code, out := status(); code != 0 || !strings.Contains(out, "reachable") || !strings.Contains(out, "revocations waiting  0") {
		t.Fatalf("empty queue: %d\n%s", code, out)
	}

	iin := kezekbot.MustParseIIN("791028302728")
	req := kezekbot.RevokeRequest{ChatID: 1001, ApplicantIIN: iin, ApplicationID: 2, ReferralID: 20, Reason: "Переезд",
		Evidence: kezekbot.Evidence{SignedXML: []byte("<x/>"), IIN: iin, Serial: "0a", Issuer: "CN=test", Nonce: "nonce-1"}}
	if err := db.EnqueueRevoke(t.Context(), req, postgres.CityCommand{IdempotencyKey: adapter.IdempotencyKey("nonce-1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(t.Context(), `UPDATE city_commands SET created_at = now() - interval '45 minutes', last_error = 'city unavailable: 502 Bad Gateway'`); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEZEKBOT_CITY_URL", down.URL)
	code, out := status()
	if code != 1 || !strings.Contains(out, "NOT REACHABLE") || !strings.Contains(out, "502 Bad Gateway") || !strings.Contains(out, "NOT OK") {
		t.Fatalf("city down, old command: %d\n%s", code, out)
	}
	if strings.Contains(out, "791028302728") || strings.Contains(out, "t0ken") {
		t.Errorf("status prints personal data or the token:\n%s", out)
	}
	if code, _ := status("-nope"); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
	var o, e bytes.Buffer
	if code := run(t.Context(), []string{"city"}, &o, &e); code != 2 || !strings.Contains(e.String(), "status") {
		t.Errorf("bare city: %d %q", code, e.String())
	}
}
