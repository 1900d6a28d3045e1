package sync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/citytest"
	citysync "github.com/kezekbot/kezekbot/city/sync"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

const (
	secretNew = "new-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	secretOld = "old-secret-0123456789abcdefghijklmnopqrstuvwxyz"
)

var pushNow = time.Date(2026, 12, 4, 14, 5, 0, 0, time.UTC)

// recordingStore is a ChangeApplier that remembers what it was given.
type recordingStore struct {
	got [][]city.Change
	err error
}

func (s *recordingStore) ApplyChanges(_ context.Context, cs []city.Change) (city.Applied, error) {
	if s.err != nil {
		return city.Applied{}, s.err
	}
	s.got = append(s.got, cs)
	return city.Applied{Applied: len(cs)}, nil
}

func newHandler(t testing.TB, store citysync.ChangeApplier, log *slog.Logger) *citysync.PushHandler {
	t.Helper()
	h, err := citysync.NewPushHandler(store, citysync.PushConfig{
		Secrets: []string{secretNew, secretOld}, MaxBody: 64 << 10, Now: func() time.Time { return pushNow }, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func body(t testing.TB, cs ...city.Change) []byte {
	t.Helper()
	b, err := json.Marshal(city.ChangePage{Changes: cs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(h http.Handler, b []byte, sig, ctype string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/city/changes", strings.NewReader(string(b)))
	r.Header.Set("Content-Type", ctype)
	if sig != "" {
		r.Header.Set(citysync.SignatureHeader, sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestPushHandler(t *testing.T) {
	good := body(t, citytest.Change("c1", city.ChangeReferralIssued, citytest.Snapshot(0, 1)))
	ts := pushNow.Unix()
	badIIN := strings.Replace(string(good), citytest.Snapshot(0, 1).Applicant.IIN.Digits(), "123456789012", 1)
	unknown := strings.Replace(string(good), `"referral_issued"`, `"referral_teleported"`, 1)
	tests := []struct {
		name   string
		body   []byte
		sig    string
		ctype  string
		status int
		code   string
		stored bool
	}{
		{"signed with the new secret", good, signatureValue(ts, good, secretNew), "application/json", 200, "", true},
		{"signed with the old secret during rotation", good, signatureValue(ts, good, "x-unknown-secret-0123456789abcdefghij", secretOld), "application/json; charset=utf-8", 200, "", true},
		{"4 minutes late", good, signatureValue(ts-240, good, secretNew), "application/json", 200, "", true},
		{"6 minutes late", good, signatureValue(ts-360, good, secretNew), "application/json", 401, citysync.CodeUnauthorized, false},
		{"6 minutes early", good, signatureValue(ts+360, good, secretNew), "application/json", 401, citysync.CodeUnauthorized, false},
		{"no signature", good, "", "application/json", 401, citysync.CodeUnauthorized, false},
		{"wrong secret", good, signatureValue(ts, good, "wrong-secret-0123456789abcdefghijklmnop"), "application/json", 401, citysync.CodeUnauthorized, false},
		{"body changed after signing", []byte(strings.Replace(string(good), `"c1"`, `"c2"`, 1)), signatureValue(ts, good, secretNew), "application/json", 401, citysync.CodeUnauthorized, false},
		{"garbage header", good, "v1=zz", "application/json", 401, citysync.CodeUnauthorized, false},
		{"not JSON", good, signatureValue(ts, good, secretNew), "text/plain", 415, citysync.CodeUnsupportedMedia, false},
		{"too large", []byte(`{"changes":[` + strings.Repeat(" ", 70<<10) + `]}`), "t=1,v1=00", "application/json", 413, citysync.CodeTooLarge, false},
		{"malformed JSON", []byte(`{"changes":[{]}`), signatureValue(ts, []byte(`{"changes":[{]}`), secretNew), "application/json", 400, citysync.CodeInvalid, false},
		{"invalid IIN", []byte(badIIN), signatureValue(ts, []byte(badIIN), secretNew), "application/json", 400, citysync.CodeInvalid, false},
		{"unknown kind", []byte(unknown), signatureValue(ts, []byte(unknown), secretNew), "application/json", 400, citysync.CodeInvalid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			store := &recordingStore{}
			w := post(newHandler(t, store, slog.New(slog.NewTextHandler(&logs, nil))), tt.body, tt.sig, tt.ctype)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if (len(store.got) > 0) != tt.stored {
				t.Fatalf("stored = %v, want %v", len(store.got) > 0, tt.stored)
			}
			if tt.code != "" {
				var p city.Problem
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code != tt.code || p.Message == "" {
					t.Fatalf("problem %s (%v), want code %s", w.Body, err, tt.code)
				}
			}
			if tt.name == "invalid IIN" || tt.name == "unknown kind" {
				if !strings.Contains(w.Body.String(), "change 0") {
					t.Fatalf("400 does not name the change: %s", w.Body)
				}
			}
			// Nothing personal in the answer or the log.
			for _, s := range []string{citytest.Snapshot(0, 1).Applicant.IIN.Digits(), "123456789012", "Тестов", secretNew} {
				if strings.Contains(logs.String(), s) || strings.Contains(w.Body.String(), s) {
					t.Fatalf("log or answer contains a personal value or secret: %s | %s", logs.String(), w.Body)
				}
			}
		})
	}
}

func TestPushHandlerStoreDown(t *testing.T) {
	good := body(t, citytest.Change("c1", city.ChangeReferralIssued, citytest.Snapshot(0, 1)))
	h := newHandler(t, &recordingStore{err: errors.New("connection refused")}, nil)
	w := post(h, good, signatureValue(pushNow.Unix(), good, secretNew), "application/json")
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("store down: %d %s", w.Code, w.Body)
	}
	h = newHandler(t, &recordingStore{err: kezekbot.Errorf(kezekbot.EINVALID, "change 0 (c1): application 1: bad queue_number")}, nil)
	if w := post(h, good, signatureValue(pushNow.Unix(), good, secretNew), "application/json"); w.Code != 400 {
		t.Fatalf("store refused a change: %d %s", w.Code, w.Body)
	}
}

func TestNewPushHandlerSecrets(t *testing.T) {
	if _, err := citysync.NewPushHandler(&recordingStore{}, citysync.PushConfig{}); err == nil {
		t.Fatal("no secret accepted")
	}
	if _, err := citysync.NewPushHandler(&recordingStore{}, citysync.PushConfig{Secrets: []string{"short"}}); err == nil {
		t.Fatal("short secret accepted")
	}
	if s, err := citysync.ParseSecrets(secretNew + ", " + secretOld); err != nil || len(s) != 2 || s[1] != secretOld {
		t.Fatalf("ParseSecrets: %v, %v", s, err)
	}
	if _, err := citysync.ParseSecrets(secretNew + ",tiny-value"); err == nil || strings.Contains(err.Error(), "tiny-value") {
		t.Fatalf("ParseSecrets of a short one: %v", err)
	}
}

// Through the real store: a push is answered after the commit, a redelivery is all duplicates.
func TestPushHandlerPostgres(t *testing.T) {
	db := pgtest.New(t)
	h := newHandler(t, db, nil)
	b := body(t, citytest.Change("c1", city.ChangeReferralIssued, citytest.Snapshot(0, 1)),
		citytest.Change("c2", city.ChangeApplicationCreated, citytest.Snapshot(1, 1)))
	sig := signatureValue(pushNow.Unix(), b, secretNew)
	for i, want := range []city.Applied{{Applied: 2}, {Duplicate: 2}} {
		w := post(h, b, sig, "application/json")
		var got city.Applied
		if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != 200 || err != nil || got != want {
			t.Fatalf("delivery %d: %d %s, want %+v", i, w.Code, w.Body, want)
		}
	}
}

func FuzzPushHandler(f *testing.F) {
	good := body(f, citytest.Change("c1", city.ChangeReferralIssued, citytest.Snapshot(0, 1)))
	ts := pushNow.Unix()
	f.Add(signatureValue(ts, good, secretNew), good)
	f.Add(fmt.Sprintf("t=%d,v1=00,v1=", ts), []byte(`{"changes":null}`))
	f.Add("t=1,t=2", []byte(`{}`))
	f.Add(" t = 5 , v1=", []byte(`[`))
	f.Fuzz(func(t *testing.T, sig string, b []byte) {
		h := newHandler(t, &recordingStore{}, nil)
		// Sign the fuzzed body half of the time, so the parser behind the signature is reached.
		for _, s := range []string{sig, signatureValue(ts, b, secretNew)} {
			w := post(h, b, s, "application/json")
			switch w.Code {
			case 200, 400, 401, 413:
			default:
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if w.Code != 200 {
				var p city.Problem
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code == "" {
					t.Fatalf("error answer is not a problem: %s", w.Body)
				}
			}
		}
	})
}

// signatureValue is the header a city sends for body at ts, one v1 per secret (several while
// secrets rotate).
func signatureValue(ts int64, body []byte, secrets ...string) string {
	v := ""
	for i, s := range secrets {
		one := city.Sign([]byte(s), time.Unix(ts, 0), body)
		if i > 0 {
			one = one[strings.Index(one, ",v1="):]
		}
		v += one
	}
	return v
}
