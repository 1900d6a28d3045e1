package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/i18n"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// TestServeWebhookEndToEnd runs `kezekbot serve` itself, configured by flags the way an
// operator would, in webhook mode, and has the fake Telegram push updates to it.
func TestServeWebhookEndToEnd(t *testing.T) {
	const (
		secretToken = "e2e-webhook-secret_0123456789"
		chatID      = 7001
	)
	tg := telegramtest.New()
	t.Cleanup(tg.Close)
	dbURL := pgtest.URL(t)
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	trustDir := t.TempDir()
	if err := ca.WriteTrustDir(trustDir); err != nil {
		t.Fatal(err)
	}
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	// serve has no prefix setting: its keys are the default "kz:" ones, so clean this chat's.
	cleanRedisChat(t, chatID)

	addr := freeAddr(t)
	stderr := newWatchWriter("kezekbot serving")
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"serve",
			"-mode=webhook",
			"-telegram-token=" + e2eToken,
			"-telegram-api-url=" + tg.URL,
			"-webhook-secret=" + secretToken,
			"-http-addr=" + addr,
			"-database-url=" + dbURL,
			"-redis-url=" + redisstore.TestURL(e2eRedisDB),
			"-trust-dir=" + trustDir,
			"-link-keys=1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
			"-public-url=https://kezekbot.example",
			"-log-format=json",
			"-shutdown-grace=10s",
		}, io.Discard, stderr)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-exit:
			if code != 0 {
				t.Errorf("serve exited with %d after SIGTERM; log:\n%s", code, stderr.String())
			}
		case <-time.After(e2eWait):
			t.Errorf("serve did not stop within %v", e2eWait)
		}
	}
	t.Cleanup(stop)
	select {
	case <-stderr.seen:
	case code := <-exit:
		t.Fatalf("serve exited with %d before serving; log:\n%s", code, stderr.String())
	case <-time.After(e2eWait):
		t.Fatalf("serve did not start within %v; log:\n%s", e2eWait, stderr.String())
	}

	base := "http://" + addr
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", p, resp.StatusCode)
		}
	}

	// Register the webhook with the fake Telegram as `kezekbot webhook set` would (that
	// command refuses a port Telegram does not deliver to, like this test's).
	form := url.Values{"url": {base + "/telegram/webhook"}, "secret_token": {secretToken}}
	resp, err := http.PostForm(tg.URL+"/bot"+e2eToken+"/setWebhook", form)
	if err != nil {
		t.Fatalf("setWebhook: %v", err)
	}
	_ = resp.Body.Close()

	user := models.User{ID: chatID, FirstName: "Тест", LanguageCode: "ru"}
	// The id is set: PushWebhook gives an update without one a new id on every push.
	start := models.Update{ID: 501, Message: &models.Message{ID: 1, Date: int(time.Now().Unix()),
		Chat: models.Chat{ID: chatID, Type: models.ChatTypePrivate}, From: &user, Text: "/start"}}

	t.Run("wrong_secret", func(t *testing.T) {
		for _, secret := range []string{"", "wrong-secret", secretToken + "x"} {
			body, _ := json.Marshal(start)
			req, _ := http.NewRequest(http.MethodPost, base+"/telegram/webhook", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if secret != "" {
				req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("secret %q: %d, want 401", secret, resp.StatusCode)
			}
		}
		for _, c := range tg.Calls() {
			if c.ChatID() == chatID {
				t.Fatalf("an update with a wrong secret reached the dialog: %s", c.Method)
			}
		}
	})

	t.Run("start", func(t *testing.T) {
		code, err := tg.PushWebhook(context.Background(), start)
		if err != nil || code != http.StatusOK {
			t.Fatalf("push /start: %d %v", code, err)
		}
		// The webhook answers only after handling: the reply is already recorded.
		msgs := callsTo(tg, "sendMessage", chatID)
		if len(msgs) != 1 || !strings.Contains(msgs[0].Params["text"], cat.T("ru", "welcome.title", nil)) {
			t.Fatalf("after /start the chat got %d messages: %v", len(msgs), msgs)
		}
		// The same update again (Telegram retries after a timeout) is not handled twice.
		code, err = tg.PushWebhook(context.Background(), start)
		if err != nil || code != http.StatusOK {
			t.Fatalf("push /start again: %d %v", code, err)
		}
		if n := len(callsTo(tg, "sendMessage", chatID)); n != 1 {
			t.Fatalf("a redelivered update was answered again (%d messages)", n)
		}
	})

	t.Run("press", func(t *testing.T) {
		msgs := callsTo(tg, "sendMessage", chatID)
		if len(msgs) == 0 {
			t.Skip("needs the start subtest")
		}
		var kb models.InlineKeyboardMarkup
		if err := json.Unmarshal([]byte(msgs[0].Params["reply_markup"]), &kb); err != nil {
			t.Fatalf("reply_markup: %v", err)
		}
		data := ""
		for _, row := range kb.InlineKeyboard {
			for _, b := range row {
				if b.Text == cat.T("ru", "btn.bind", nil) {
					data = b.CallbackData
				}
			}
		}
		if data == "" {
			t.Fatal("no bind button")
		}
		press := models.Update{ID: 502, CallbackQuery: &models.CallbackQuery{ID: "wh-cb-1", From: user, Data: data,
			Message: models.MaybeInaccessibleMessage{Type: models.MaybeInaccessibleMessageTypeMessage, Message: &models.Message{
				ID: msgs[0].MessageID(), Date: int(time.Now().Unix()), Chat: models.Chat{ID: chatID, Type: models.ChatTypePrivate}}}}}
		code, err := tg.PushWebhook(context.Background(), press)
		if err != nil || code != http.StatusOK {
			t.Fatalf("push press: %d %v", code, err)
		}
		answers := 0
		for _, c := range tg.CallsOf("answerCallbackQuery") {
			if c.Params["callback_query_id"] == "wh-cb-1" {
				answers++
			}
		}
		if answers != 1 {
			t.Fatalf("the press was answered %d times, want once", answers)
		}
		edits := callsTo(tg, "editMessageText", chatID)
		if len(edits) != 1 || !strings.Contains(edits[0].Params["reply_markup"], "https://kezekbot.example/s/") {
			t.Fatalf("the bind press did not show a signing link on the public URL: %v", edits)
		}
	})

	stop()
	if strings.Contains(stderr.String(), e2eToken) || strings.Contains(stderr.String(), secretToken) {
		t.Fatal("the log carries the bot token or the webhook secret")
	}
}

func callsTo(tg *telegramtest.Server, method string, chatID int64) []telegramtest.Call {
	var out []telegramtest.Call
	for _, c := range tg.CallsOf(method) {
		if c.ChatID() == chatID && !c.Failed() {
			out = append(out, c)
		}
	}
	return out
}

// freeAddr returns a loopback address no one listens on right now, for a server that opens its
// own listener from a setting.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// cleanRedisChat deletes a chat's keys under the default prefix in this package's Redis DB,
// before and after the test.
func cleanRedisChat(t *testing.T, chatID int64) {
	t.Helper()
	clean := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := redisstore.Open(ctx, redisstore.TestURL(e2eRedisDB), redisstore.Options{})
		if err != nil {
			t.Fatalf("open redis: %v", err)
		}
		defer st.Close()
		iter := st.Client().Scan(ctx, 0, fmt.Sprintf("kz:{%d}*", chatID), 500).Iterator()
		for iter.Next(ctx) {
			st.Client().Del(ctx, iter.Val())
		}
	}
	clean()
	t.Cleanup(clean)
}

// watchWriter keeps what is written and closes seen once the text contains needle.
type watchWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	needle string
	seen   chan struct{}
	once   sync.Once
}

func newWatchWriter(needle string) *watchWriter {
	return &watchWriter{needle: needle, seen: make(chan struct{})}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.needle) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
