package city

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
)

// FuzzInterpret feeds arbitrary answers to the decoding of every endpoint: nothing panics,
// and a 2xx body is either a valid answer or a *ContractError; a 4xx is a *Problem with a
// code from the closed list or a *ContractError.
func FuzzInterpret(f *testing.F) {
	f.Add(200, []byte(`{"applications":[]}`))
	f.Add(200, []byte(`{"id":1,"revision":1,"number":"x","applicant":{"iin":"880412401274","name":"a"},"child":{"iin":"210214500019","name":"b","birth_date":"2021-02-14"},"benefit":"none","registered_at":"2021-03-02T06:24:37Z","status":"queued","status_changed_at":"2021-03-02T06:24:37Z","queued_since":"2021-03-02T06:24:37Z","queue_number":1,"benefit_queue_number":0}`))
	f.Add(200, []byte(`{"changes":[{"id":"1","kind":"referral_issued","at":"2026-01-01T00:00:00Z","referral_id":3,"application":{}}],"next":"1"}`))
	f.Add(200, []byte(`{"status":"queued","queue_number":1,"benefit_queue_number":0,"application":{"id":1}}`))
	f.Add(422, []byte(`{"code":"window_closed","message":"x"}`))
	f.Add(404, []byte(`{"code":"not_found"}`))
	f.Add(200, []byte(`{"applications":[{"referrals":[{"state":"active","enrol_before":"2026-13-01"}]}]}`))
	iin := kezekbot.MustParseIIN("880412401274")
	req := RevokeRequest{ApplicantIIN: iin, ApplicationID: 1, ReferralID: 3}
	h := http.Header{"Content-Type": {"application/json"}}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			status = 200
		}
		decoders := map[string]func([]byte) error{
			EndpointSearch:      func(b []byte) error { var v ApplicationList; return decodeApplications(b, iin, &v) },
			EndpointApplication: func(b []byte) error { var v Application; return decodeApplication(b, iin, 1, &v) },
			EndpointRevoke:      func(b []byte) error { var v RevokeAccepted; return decodeRevokeAccepted(b, req, &v) },
			EndpointChanges:     func(b []byte) error { var v ChangePage; return decodeChangePage(b, "", 10, &v) },
		}
		for name, dec := range decoders {
			err := interpret(name, status, h, body, DefaultMaxBody, time.Now(), dec)
			var (
				p  *Problem
				u  *Unavailable
				ce *ContractError
			)
			switch {
			case err == nil:
				if status >= 300 {
					t.Fatalf("%s: HTTP %d accepted", name, status)
				}
			case errors.As(err, &p):
				if status < 400 || p.Code == "" {
					t.Fatalf("%s: HTTP %d gave problem %q", name, status, p.Code)
				}
			case errors.As(err, &u):
				if status != 429 && status < 500 && status != 401 && status != 403 {
					t.Fatalf("%s: HTTP %d gave Unavailable", name, status)
				}
			case errors.As(err, &ce):
			default:
				t.Fatalf("%s: HTTP %d gave %T %v", name, status, err, err)
			}
		}
	})
}

// FuzzVerifySignature: any header and body give nil only for the right signature, and never
// panic.
func FuzzVerifySignature(f *testing.F) {
	secret := []byte("push-secret")
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"changes":[]}`)
	f.Add(Sign(secret, now, body), body)
	f.Add("t=1800000000,v1=00", body)
	f.Add("t=,v1=", []byte{})
	f.Add("t=1800000000,v1="+strings.Repeat("a", 64)+",v2=x", body)
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		err := VerifySignature(secret, header, b, now)
		if err == nil && header != Sign(secret, now, b) && !strings.Contains(header, Sign(secret, now, b)[len("t=1800000000,"):]) {
			t.Fatalf("accepted %q", header)
		}
	})
}
