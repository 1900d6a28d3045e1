package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

const (
	testWebhookToken  = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"
	testWebhookSecret = "s3cr3t_-Token_0123456789abcdefghij"
)

// webhookCall is one Bot API request as the fake saw it.
type webhookCall struct {
	token, method string
	params        map[string]string
}

// fakeBotAPI is a tiny Bot API: it parses the multipart/form-data bodies go-telegram/bot
// sends, records them, and answers with a canned reply per method (by default true, or an
// empty WebhookInfo for getWebhookInfo).
type fakeBotAPI struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []webhookCall
	replies map[string]string // method -> JSON body
	status  map[string]int    // method -> HTTP status
}

func newFakeBotAPI(t *testing.T) *fakeBotAPI {
	t.Helper()
	f := &fakeBotAPI{replies: map[string]string{}, status: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Path is /bot<token>/<method>.
		rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
		token, method, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || r.Method != http.MethodPost {
			http.Error(w, `{"ok":false,"error_code":404,"description":"Not Found"}`, http.StatusNotFound)
			return
		}
		params := map[string]string{}
		if err := r.ParseMultipartForm(1 << 20); err != nil && r.ContentLength != 0 {
			// An empty body (getWebhookInfo has no params) is a closed multipart stream.
			if !strings.Contains(err.Error(), "EOF") {
				t.Errorf("%s: parse multipart: %v", method, err)
			}
		}
		if r.MultipartForm != nil {
			for k, v := range r.MultipartForm.Value {
				params[k] = v[0]
			}
		}
		f.mu.Lock()
		f.calls = append(f.calls, webhookCall{token: token, method: method, params: params})
		body, ok := f.replies[method]
		code := f.status[method]
		f.mu.Unlock()
		switch {
		case ok:
		case method == "getWebhookInfo":
			body = `{"ok":true,"result":{"url":"","has_custom_certificate":false,"pending_update_count":0}}`
		default:
			body = `{"ok":true,"result":true}`
		}
		if code == 0 {
			code = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeBotAPI) reply(method string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[method], f.status[method] = body, status
}

func (f *fakeBotAPI) Calls() []webhookCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]webhookCall(nil), f.calls...)
}

func webhookEnv(f *fakeBotAPI, over map[string]string) func(string) string {
	m := map[string]string{
		"KEZEKBOT_TELEGRAM_TOKEN":   testWebhookToken,
		"KEZEKBOT_TELEGRAM_API_URL": f.URL + "/", // the trailing slash must not double up
		"KEZEKBOT_WEBHOOK_SECRET":   testWebhookSecret,
		"KEZEKBOT_PUBLIC_URL":       "https://kezek.example.kz/",
	}
	for k, v := range over {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

func runWebhookTest(t *testing.T, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runWebhookEnv(context.Background(), args, &out, &errb, getenv)
	for _, s := range []string{out.String(), errb.String()} {
		if strings.Contains(s, testWebhookToken) || strings.Contains(s, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_") {
			t.Errorf("output leaks the token:\n%s", s)
		}
		if strings.Contains(s, testWebhookSecret) {
			t.Errorf("output leaks the webhook secret:\n%s", s)
		}
	}
	return code, out.String(), errb.String()
}

func TestWebhookSet(t *testing.T) {
	f := newFakeBotAPI(t)
	code, out, errs := runWebhookTest(t, webhookEnv(f, nil), "set")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	calls := f.Calls()
	if len(calls) != 1 || calls[0].method != "setWebhook" || calls[0].token != testWebhookToken {
		t.Fatalf("calls = %+v", calls)
	}
	p := calls[0].params
	if p["url"] != "https://kezek.example.kz/telegram/webhook" {
		t.Errorf("url = %q", p["url"])
	}
	if p["secret_token"] != testWebhookSecret {
		t.Errorf("secret_token = %q", p["secret_token"])
	}
	if p["max_connections"] != "40" {
		t.Errorf("max_connections = %q, want the default 40", p["max_connections"])
	}
	if _, ok := p["drop_pending_updates"]; ok {
		t.Errorf("drop_pending_updates sent without -drop-pending: %q", p["drop_pending_updates"])
	}
	var allowed []string
	if err := json.Unmarshal([]byte(p["allowed_updates"]), &allowed); err != nil {
		t.Fatalf("allowed_updates %q: %v", p["allowed_updates"], err)
	}
	if strings.Join(allowed, ",") != "message,edited_message,callback_query,my_chat_member" {
		t.Errorf("allowed_updates = %v", allowed)
	}
	if !strings.Contains(out, "https://kezek.example.kz/telegram/webhook") {
		t.Errorf("stdout %q does not name the URL", out)
	}
}

func TestWebhookSetFlagsOverrideEnv(t *testing.T) {
	f := newFakeBotAPI(t)
	env := webhookEnv(f, map[string]string{"KEZEKBOT_WEBHOOK_PATH": "/from-env"})

	code, _, errs := runWebhookTest(t, env, "set", "-webhook-path", "/tg/hook", "-max-connections", "10", "-drop-pending")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	code, _, errs = runWebhookTest(t, env, "set", "--url", "https://other.example.kz:8443/x")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	code, _, errs = runWebhookTest(t, webhookEnv(f, map[string]string{"KEZEKBOT_TELEGRAM_API_URL": "http://127.0.0.1:1"}),
		"info", "-telegram-api-url", f.URL)
	if code != 0 {
		t.Fatalf("-telegram-api-url did not override the env: exit %d, stderr %q", code, errs)
	}

	calls := f.Calls()
	if len(calls) != 3 {
		t.Fatalf("calls = %+v", calls)
	}
	if p := calls[0].params; p["url"] != "https://kezek.example.kz/tg/hook" || p["max_connections"] != "10" || p["drop_pending_updates"] != "true" {
		t.Errorf("first set params = %v", p)
	}
	if p := calls[1].params; p["url"] != "https://other.example.kz:8443/x" {
		t.Errorf("-url set params = %v", p)
	}
	if calls[2].method != "getWebhookInfo" {
		t.Errorf("third call = %s", calls[2].method)
	}
}

func TestWebhookEnvPath(t *testing.T) {
	f := newFakeBotAPI(t)
	code, _, errs := runWebhookTest(t, webhookEnv(f, map[string]string{"KEZEKBOT_WEBHOOK_PATH": "/hook/abc"}), "set")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if got := f.Calls()[0].params["url"]; got != "https://kezek.example.kz/hook/abc" {
		t.Fatalf("url = %q", got)
	}
}

func TestWebhookDelete(t *testing.T) {
	f := newFakeBotAPI(t)
	code, out, errs := runWebhookTest(t, webhookEnv(f, map[string]string{"KEZEKBOT_WEBHOOK_SECRET": "", "KEZEKBOT_PUBLIC_URL": ""}),
		"delete", "-drop-pending")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q (delete needs neither secret nor public URL)", code, errs)
	}
	calls := f.Calls()
	if len(calls) != 1 || calls[0].method != "deleteWebhook" || calls[0].params["drop_pending_updates"] != "true" {
		t.Fatalf("calls = %+v", calls)
	}
	if !strings.Contains(out, "deleted") {
		t.Errorf("stdout = %q", out)
	}

	code, _, _ = runWebhookTest(t, webhookEnv(f, nil), "delete")
	if code != 0 {
		t.Fatalf("plain delete: exit %d", code)
	}
	if p := f.Calls()[1].params; len(p) != 0 {
		t.Errorf("plain delete sent params %v", p)
	}
}

func TestWebhookInfo(t *testing.T) {
	f := newFakeBotAPI(t)
	f.reply("getWebhookInfo", http.StatusOK, `{"ok":true,"result":{"url":"https://kezek.example.kz/telegram/webhook",
		"has_custom_certificate":false,"pending_update_count":3,"last_error_date":1700000000,
		"last_error_message":"Wrong response from the webhook: 502 Bad Gateway","max_connections":40,
		"allowed_updates":["message","callback_query"]}}`)
	code, out, errs := runWebhookTest(t, webhookEnv(f, nil), "info")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if got["url"] != "https://kezek.example.kz/telegram/webhook" || got["pending_update_count"] != float64(3) ||
		got["last_error_message"] != "Wrong response from the webhook: 502 Bad Gateway" {
		t.Errorf("info = %v", got)
	}
}

func TestWebhookAPIErrors(t *testing.T) {
	f := newFakeBotAPI(t)
	f.reply("setWebhook", http.StatusUnauthorized, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
	f.reply("deleteWebhook", http.StatusTooManyRequests, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}`)
	f.reply("getWebhookInfo", http.StatusOK, `{"ok":true,"result":false}`) // not an object: a decode error

	for _, tc := range []struct{ action, want string }{
		{"set", "Unauthorized"},
		{"delete", "retry_after 5"},
		{"info", "getWebhookInfo"},
	} {
		code, out, errs := runWebhookTest(t, webhookEnv(f, nil), tc.action)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1 for a Bot API error", tc.action, code)
		}
		if out != "" || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%s: stdout %q, stderr %q; want one stderr line containing %q", tc.action, out, errs, tc.want)
		}
	}

	f.reply("setWebhook", http.StatusOK, `{"ok":true,"result":false}`)
	if code, _, errs := runWebhookTest(t, webhookEnv(f, nil), "set"); code != 1 || !strings.Contains(errs, "false") {
		t.Errorf("result false: exit %d, stderr %q", code, errs)
	}
}

func TestWebhookUnreachableAPIHidesToken(t *testing.T) {
	f := newFakeBotAPI(t)
	url := f.URL
	f.Close() // connection refused; *url.Error carries the request URL, which holds the token
	code, _, errs := runWebhookTest(t, webhookEnv(f, map[string]string{"KEZEKBOT_TELEGRAM_API_URL": url}), "info")
	if code != 1 || errs == "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestWebhookSettingErrors(t *testing.T) {
	f := newFakeBotAPI(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // substring of the one stderr line
	}{
		{"no action", nil, nil, "missing action"},
		{"unknown action", nil, []string{"enable"}, `unknown action "enable"`},
		{"missing token", map[string]string{"KEZEKBOT_TELEGRAM_TOKEN": ""}, []string{"info"}, "KEZEKBOT_TELEGRAM_TOKEN: not set"},
		{"malformed token", map[string]string{"KEZEKBOT_TELEGRAM_TOKEN": "123/../evil:abcdefghijklmnopqrstuvwxyz"}, []string{"info"}, "KEZEKBOT_TELEGRAM_TOKEN: does not look like"},
		{"missing secret", map[string]string{"KEZEKBOT_WEBHOOK_SECRET": ""}, []string{"set"}, "KEZEKBOT_WEBHOOK_SECRET: not set"},
		{"secret with space", map[string]string{"KEZEKBOT_WEBHOOK_SECRET": "has space"}, []string{"set"}, "KEZEKBOT_WEBHOOK_SECRET: must be 1-256"},
		{"secret too long", map[string]string{"KEZEKBOT_WEBHOOK_SECRET": strings.Repeat("a", 257)}, []string{"set"}, "KEZEKBOT_WEBHOOK_SECRET: must be 1-256"},
		{"secret too short", map[string]string{"KEZEKBOT_WEBHOOK_SECRET": "a"}, []string{"set"}, "KEZEKBOT_WEBHOOK_SECRET: too short"},
		{"missing public url", map[string]string{"KEZEKBOT_PUBLIC_URL": ""}, []string{"set"}, "KEZEKBOT_PUBLIC_URL: not set"},
		{"plain http", map[string]string{"KEZEKBOT_PUBLIC_URL": "http://kezek.example.kz"}, []string{"set"}, "HTTPS only"},
		{"bad port", nil, []string{"set", "-url", "https://kezek.example.kz:8080/hook"}, "ports 443, 80, 88 and 8443"},
		{"query in url", nil, []string{"set", "-url", "https://kezek.example.kz/hook?x=1"}, "without user info, query or fragment"},
		{"relative path", map[string]string{"KEZEKBOT_WEBHOOK_PATH": "hook"}, []string{"set"}, "KEZEKBOT_WEBHOOK_PATH"},
		{"bad api url", map[string]string{"KEZEKBOT_TELEGRAM_API_URL": "ftp://x"}, []string{"info"}, "KEZEKBOT_TELEGRAM_API_URL"},
		{"max connections", nil, []string{"set", "-max-connections", "101"}, "-max-connections: Telegram accepts 1-100"},
		{"unknown flag", nil, []string{"set", "-token", "x"}, "flag provided but not defined: -token"},
		{"stray argument", nil, []string{"info", "now"}, `unexpected argument "now"`},
		{"set-only flag on delete", nil, []string{"delete", "-url", "https://kezek.example.kz/x"}, "apply to set only"},
		{"drop on info", nil, []string{"info", "-drop-pending"}, "only set and delete"},
		{"zero timeout", nil, []string{"info", "-timeout", "0s"}, "-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runWebhookTest(t, webhookEnv(f, tt.env), tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, tt.want) {
				t.Errorf("stdout %q, stderr %q; want one stderr line containing %q", out, errs, tt.want)
			}
		})
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("a setting error still called the Bot API %d times", n)
	}
}

func TestWebhookHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"set", "-h"}} {
		var out, errb bytes.Buffer
		code := runWebhookEnv(context.Background(), args, &out, &errb, func(string) string { return "" })
		if code != 0 || !strings.Contains(out.String(), "Usage: kezekbot webhook") || !strings.Contains(out.String(), "-max-connections") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
		}
	}
}

// TestWebhookRegistered checks the subcommand is reachable through main's dispatcher and
// reads the real environment.
func TestWebhookRegistered(t *testing.T) {
	f := newFakeBotAPI(t)
	t.Setenv("KEZEKBOT_TELEGRAM_TOKEN", testWebhookToken)
	t.Setenv("KEZEKBOT_TELEGRAM_API_URL", f.URL)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"webhook", "info"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if c := f.Calls(); len(c) != 1 || c[0].method != "getWebhookInfo" {
		t.Fatalf("calls = %+v", c)
	}
}
