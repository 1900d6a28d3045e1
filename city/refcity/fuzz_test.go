package refcity_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/city/refcity"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// FuzzHandler posts arbitrary bodies and headers to the reference city: it never panics,
// never answers 5xx (no faults are configured), and records a revocation only for a body
// that is a valid request.
func FuzzHandler(f *testing.F) {
	demo, err := postgres.DemoDetails(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("/v1/revocations", "k", []byte(`{"idempotency_key":"k","applicant_iin":"880412401274","application_id":1,"referral_id":1,"reason":"r","signed_xml":"<x/>","signed_at":"2026-12-04T09:00:00Z","cert_serial":"1","cert_issuer":"CN=x"}`))
	f.Add("/v1/applications/search", "", []byte(`{"applicant_iin":"880412401274"}`))
	f.Add("/v1/revocations", "k", []byte(`{"idempotency_key":"k","applicant_iin":"88041240127`))
	f.Add("/_ref/faults", "", []byte(`{"latency":"1ms"}`))
	f.Fuzz(func(t *testing.T, path, key string, body []byte) {
		if path != "/v1/revocations" && path != "/v1/applications/search" && path != "/_ref/referrals" {
			path = "/v1/revocations"
		}
		c, err := refcity.New(refcity.Config{Now: func() time.Time { return time.Date(2026, 12, 4, 9, 1, 0, 0, time.UTC) }}, demo)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Idempotency-Key", key)
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s: HTTP %d %s", path, rec.Code, rec.Body)
		}
		if n := len(c.Revocations()); n > 1 || (n == 1 && rec.Code != http.StatusOK) {
			t.Fatalf("%d revocations after HTTP %d", n, rec.Code)
		}
	})
}
