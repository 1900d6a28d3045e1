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
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// TestServeWebhookEndToEnd runs `kezekbot serve` itself, configured by flags the way an
// operator would, in webhook mode, and has the fake Telegram push updates to it.
func TestServeWebhookEndToEnd(t *testing.T) {
	const (
		secretToken = "e2e-webhook-secret_0123456789abcdef"
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

// TestWebhookReplicasEndToEnd runs two webhook replicas on the same PostgreSQL and Redis, as
// the compose and Kubernetes deployments do, with a load balancer's choices made by the test:
// a link handed out by one replica is signed on the other, and two updates of one chat that
// reach both replicas at once are handled one after the other.
func TestWebhookReplicasEndToEnd(t *testing.T) {
	const secret = "replica-secret_0123456789abcdefghij"
	e := newE2EEnv(t)
	publicAddr := ""
	replica := func() *e2eRun {
		return e.launch("127.0.0.1:0", func(actual string) map[string]string {
			if publicAddr == "" {
				publicAddr = actual // the first replica stands in for the load balancer's address
			}
			e.addr = publicAddr
			return map[string]string{
				"KEZEKBOT_MODE":           "webhook",
				"KEZEKBOT_WEBHOOK_SECRET": secret,
				"KEZEKBOT_HTTP_ADDR":      actual,
				"KEZEKBOT_PUBLIC_URL":     "https://" + publicAddr,
			}
		})
	}
	a, b := replica(), replica()
	t.Cleanup(func() { e.halt(b); e.halt(a) })

	var nextID atomic.Int64
	nextID.Store(1000)
	push := func(r *e2eRun, upd models.Update) error {
		upd.ID = nextID.Add(1)
		body, err := json.Marshal(upd)
		if err != nil {
			return err
		}
		req, err := http.NewRequest(http.MethodPost, "https://"+r.addr+"/telegram/webhook", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		resp, err := e.client.Do(req)
		if err != nil {
			return fmt.Errorf("push to %s: %w", r.addr, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("push to %s: %d", r.addr, resp.StatusCode)
		}
		return nil
	}
	mustPush := func(r *e2eRun, upd models.Update) {
		t.Helper()
		if err := push(r, upd); err != nil {
			t.Fatal(err)
		}
	}

	c := e.chat(7101, "ru", 1)
	mustPush(a, c.textUpdate("/start"))
	msg, bind, ok := c.findButton(e.tr("ru", "btn.bind", nil))
	if !ok {
		t.Fatal("no bind button after /start on replica A")
	}
	upd, _ := c.callback(msg, bind.CallbackData)
	mustPush(b, upd) // the press reaches replica B, which has A's state from Redis
	link := c.linkOf("btn.sign_auth")

	br := e.browser()
	br.open(link) // the page and the document from replica A…
	doc := br.document()
	br.link = strings.Replace(link, publicAddr, b.addr, 1) // …the signature to replica B
	seq := len(e.tg.Calls())
	if r := br.post(e.sign(doc, e.keys[1].auth)); !r.OK {
		t.Fatalf("signature posted to the other replica: %d %q (%s)", r.Status, r.Reason, r.Message)
	}
	c.wantText(c.result(seq, ""), e.tr("ru", "bound.title", nil))

	// Two updates of the same chat at the same moment, one per replica: the chat's lock in
	// Redis makes them take turns, and both are answered.
	seq = len(e.tg.Calls())
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for _, x := range []struct {
		r    *e2eRun
		text string
	}{{a, "/apps"}, {b, "/help"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- push(x.r, c.textUpdate(x.text))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := c.result(seq, "")
	if len(s.Shows) != 2 {
		t.Fatalf("two updates at once got %d replies, want 2", len(s.Shows))
	}
	st := e.state(c.id)
	if st.Name != flows.SList || st.MsgID != s.MsgID {
		t.Fatalf("state after both: %q message %d, want %q and the last reply %d", st.Name, st.MsgID, flows.SList, s.MsgID)
	}
	e.logMu.Lock()
	logs := e.logs.String()
	e.logMu.Unlock()
	if strings.Contains(logs, "dialog state changed meanwhile") {
		t.Fatal("a turn committed over another replica's")
	}
	e.checkAnswered()
	e.checkLogs()
}
