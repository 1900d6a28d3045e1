package broadcast_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	seedBindings(t, db, 60000, 10)
	api := broadcast.NewAdminAPI(db, "s3cret-token", nil)
	do := func(method, path, token, body string) (int, map[string]any, []any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rr := httptest.NewRecorder()
		api.ServeHTTP(rr, req)
		var obj map[string]any
		var arr []any
		if strings.HasPrefix(strings.TrimSpace(rr.Body.String()), "[") {
			_ = json.Unmarshal(rr.Body.Bytes(), &arr)
		} else {
			_ = json.Unmarshal(rr.Body.Bytes(), &obj)
		}
		return rr.Code, obj, arr
	}
	const tok = "s3cret-token"
	tests := []struct {
		name, method, path, token, body string
		status                          int
		check                           func(t *testing.T, obj map[string]any, arr []any)
	}{
		{"no token", "GET", "/admin/broadcasts", "", "", 401, nil},
		{"wrong token", "GET", "/admin/broadcasts", "s3cret-tokeN", "", 401, nil},
		{"prefix of token", "GET", "/admin/broadcasts", "s3cret", "", 401, nil},
		{"empty list", "GET", "/admin/broadcasts", tok, "", 200, func(t *testing.T, _ map[string]any, arr []any) {
			if arr == nil || len(arr) != 0 {
				t.Errorf("list = %v", arr)
			}
		}},
		{"dry run", "POST", "/admin/broadcasts", tok, `{"audience":{},"text_ru":"Привет","dry_run":true}`, 200,
			func(t *testing.T, obj map[string]any, _ []any) {
				if obj["recipients"] != 10.0 {
					t.Errorf("dry run = %v", obj)
				}
			}},
		{"create", "POST", "/admin/broadcasts", tok, `{"audience":{},"text_ru":"Привет","text_kk":"Сәлем"}`, 201,
			func(t *testing.T, obj map[string]any, _ []any) {
				if obj["id"] != 1.0 || obj["total"] != 10.0 || obj["state"] != "running" || obj["source"] != "api" {
					t.Errorf("created = %v", obj)
				}
			}},
		{"show", "GET", "/admin/broadcasts/1", tok, "", 200, nil},
		{"stop", "POST", "/admin/broadcasts/1/stop", tok, "", 200, func(t *testing.T, obj map[string]any, _ []any) {
			if obj["state"] != "stopped" {
				t.Errorf("stop = %v", obj)
			}
		}},
		{"resume", "POST", "/admin/broadcasts/1/resume", tok, "", 200, func(t *testing.T, obj map[string]any, _ []any) {
			if obj["state"] != "running" {
				t.Errorf("resume = %v", obj)
			}
		}},
		{"missing", "GET", "/admin/broadcasts/99", tok, "", 404, nil},
		{"bad id", "GET", "/admin/broadcasts/x", tok, "", 404, nil},
		{"no text", "POST", "/admin/broadcasts", tok, `{"audience":{}}`, 400, nil},
		{"unknown field", "POST", "/admin/broadcasts", tok, `{"audience":{},"text":"x"}`, 400, nil},
		{"bad status", "POST", "/admin/broadcasts", tok, `{"audience":{"status":"gone"},"text_ru":"x"}`, 400, nil},
		{"iin in text", "POST", "/admin/broadcasts", tok, `{"text_ru":"ИИН 850101300015"}`, 400, nil},
		{"events", "POST", "/admin/events", tok, `[{"kind":"status_changed","payload":{"application_number":"УО.1","status":"queued","event_id":"e1"}}]`, 202,
			func(t *testing.T, obj map[string]any, _ []any) {
				if obj["imported"] != 1.0 {
					t.Errorf("import = %v", obj)
				}
			}},
		{"events wrapped", "POST", "/admin/events", tok, `{"events":[{"kind":"queue_changed","payload":{"application_id":5,"queue_number":3}}]}`, 202, nil},
		{"event without subject", "POST", "/admin/events", tok, `[{"kind":"status_changed","payload":{"status":"queued"}}]`, 400, nil},
		{"reminder not importable", "POST", "/admin/events", tok, `[{"kind":"revocation_reminder","payload":{"referral_id":1}}]`, 400, nil},
		{"wrong method", "DELETE", "/admin/broadcasts/1", tok, "", 405, nil},
	}
	for _, tt := range tests {
		status, obj, arr := do(tt.method, tt.path, tt.token, tt.body)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d (%v)", tt.name, status, tt.status, obj)
			continue
		}
		if tt.check != nil {
			tt.check(t, obj, arr)
		}
	}

	t.Run("an API without a token refuses everything", func(t *testing.T) {
		open := broadcast.NewAdminAPI(db, "", nil)
		req := httptest.NewRequest("GET", "/admin/broadcasts", nil)
		req.Header.Set("Authorization", "Bearer ")
		rr := httptest.NewRecorder()
		open.ServeHTTP(rr, req)
		if rr.Code != http.StatusUnauthorized {
			t.Fatalf("status %d", rr.Code)
		}
	})
	t.Run("body limit", func(t *testing.T) {
		big := `{"text_ru":"` + strings.Repeat("a", broadcast.MaxAPIBody) + `"}`
		if status, _, _ := do("POST", "/admin/broadcasts", tok, big); status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", status)
		}
	})
}

func FuzzParseBroadcastRequest(f *testing.F) {
	f.Add([]byte(`{"audience":{"kindergarten_id":3,"numbers":["a","b"]},"text_ru":"x"}`))
	f.Add([]byte(`{"audience":{"year_from":2020},"text_kk":"y","paid":true}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := broadcast.ParseBroadcastRequest(body)
		if err != nil {
			return
		}
		if req.TextRU == "" && req.TextKK == "" {
			t.Fatal("accepted a request without text")
		}
		if err := req.Audience.Validate(); err != nil {
			t.Fatalf("accepted an invalid audience: %v", err)
		}
	})
}

func FuzzParseEvents(f *testing.F) {
	f.Add([]byte(`[{"kind":"status_changed","payload":{"application_number":"A","status":"queued"}}]`))
	f.Add([]byte(`{"events":[{"kind":"queue_changed","payload":{"application_id":1,"queue_number":2}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := broadcast.ParseEvents(body)
		if err != nil {
			return
		}
		for _, ev := range evs {
			if ev.Validate() != nil || ev.Kind == postgres.OutboxRevocationReminder {
				t.Fatalf("accepted %+v", ev)
			}
		}
	})
}
