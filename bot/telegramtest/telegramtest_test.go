package telegramtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
)

const token = "123456:TEST-token"

func newBot(t *testing.T, srv *telegramtest.Server) *bot.Bot {
	t.Helper()
	b, err := bot.New(token, bot.WithServerURL(srv.URL), bot.WithSkipGetMe())
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	return b
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGetMe(t *testing.T) {
	srv := telegramtest.New(telegramtest.WithToken(token))
	defer srv.Close()
	// Without WithSkipGetMe, bot.New calls getMe itself.
	b, err := bot.New(token, bot.WithServerURL(srv.URL))
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	me, err := b.GetMe(ctxT(t))
	if err != nil || me.Username != "kezek_test_bot" || !me.IsBot {
		t.Fatalf("GetMe = %+v, %v", me, err)
	}
	// A wrong token is refused.
	wrong, _ := bot.New("1:wrong", bot.WithServerURL(srv.URL), bot.WithSkipGetMe())
	if _, err := wrong.GetMe(ctxT(t)); !errors.Is(err, bot.ErrorUnauthorized) {
		t.Fatalf("wrong token: %v, want ErrorUnauthorized", err)
	}
}

func TestMessages(t *testing.T) {
	srv := telegramtest.New()
	defer srv.Close()
	b := newBot(t, srv)
	ctx := ctxT(t)
	kb := &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Go", CallbackData: "apps:0:1"}}}}

	m1, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "hello", ReplyMarkup: kb})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	m2, _ := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "again"})
	m3, _ := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 43, Text: "other chat"})
	if m1.ID != 1 || m2.ID != 2 || m3.ID != 1 {
		t.Fatalf("message ids = %d %d %d, want 1 2 1 (per chat)", m1.ID, m2.ID, m3.ID)
	}
	if m1.Chat.ID != 42 || m1.Text != "hello" || m1.ReplyMarkup == nil || m1.ReplyMarkup.InlineKeyboard[0][0].CallbackData != "apps:0:1" {
		t.Fatalf("message = %+v", m1)
	}

	tests := []struct {
		name     string
		params   *bot.EditMessageTextParams
		wantDesc string // "" = success
	}{
		{"OK", &bot.EditMessageTextParams{ChatID: 42, MessageID: 1, Text: "edited", ReplyMarkup: kb}, ""},
		{"NotModified", &bot.EditMessageTextParams{ChatID: 42, MessageID: 1, Text: "edited", ReplyMarkup: kb}, "message is not modified"},
		{"KeyboardRemoved", &bot.EditMessageTextParams{ChatID: 42, MessageID: 1, Text: "edited"}, ""},
		{"NotFound", &bot.EditMessageTextParams{ChatID: 42, MessageID: 99, Text: "x"}, "message to edit not found"},
		{"Empty", &bot.EditMessageTextParams{ChatID: 42, MessageID: 2, Text: " "}, "message text is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := b.EditMessageText(ctx, tt.params)
			if tt.wantDesc == "" {
				if err != nil || m.ID != tt.params.MessageID {
					t.Fatalf("edit = %+v, %v", m, err)
				}
				return
			}
			if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), tt.wantDesc) {
				t.Fatalf("edit error = %v, want bad request %q", err, tt.wantDesc)
			}
		})
	}
	if text, ok := srv.MessageText(42, 1); !ok || text != "edited" {
		t.Fatalf("MessageText = %q %v", text, ok)
	}

	if _, err := b.EditMessageReplyMarkup(ctx, &bot.EditMessageReplyMarkupParams{ChatID: 42, MessageID: 2, ReplyMarkup: kb}); err != nil {
		t.Fatalf("edit markup: %v", err)
	}
	if ok, err := b.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: 42, MessageID: 2}); !ok || err != nil {
		t.Fatalf("delete = %v %v", ok, err)
	}
	if _, err := b.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: 42, MessageID: 2}); err == nil || !strings.Contains(err.Error(), "message to delete not found") {
		t.Fatalf("second delete = %v", err)
	}
	if ok, err := b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: "q1", Text: "done"}); !ok || err != nil {
		t.Fatalf("answer = %v %v", ok, err)
	}
	if ok, err := b.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: []models.BotCommand{{Command: "start", Description: "Start"}}}); !ok || err != nil {
		t.Fatalf("setMyCommands = %v %v", ok, err)
	}
	if !strings.Contains(srv.Commands(), `"start"`) {
		t.Fatalf("commands = %q", srv.Commands())
	}

	sends := srv.CallsOf("sendMessage")
	if len(sends) != 3 || sends[0].Params["text"] != "hello" || sends[0].ChatID() != 42 || sends[0].MessageID() != 1 ||
		!strings.Contains(sends[0].Params["reply_markup"], "apps:0:1") {
		t.Fatalf("recorded sends = %+v", sends)
	}
	calls := srv.Calls()
	for i, c := range calls {
		if c.Seq != i {
			t.Fatalf("call %d has Seq %d", i, c.Seq)
		}
	}
	if got := srv.CallsSince(len(calls) - 1); len(got) != 1 || got[0].Method != "setMyCommands" {
		t.Fatalf("CallsSince = %+v", got)
	}
}

func TestFailures(t *testing.T) {
	srv := telegramtest.New()
	defer srv.Close()
	b := newBot(t, srv)
	ctx := ctxT(t)
	srv.Block(7)
	srv.ChatNotFound(8)

	send := func(chat int64) error {
		_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: chat, Text: "x"})
		return err
	}
	if err := send(7); !errors.Is(err, bot.ErrorForbidden) || !strings.Contains(err.Error(), "bot was blocked by the user") {
		t.Fatalf("blocked: %v", err)
	}
	if err := send(8); !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "chat not found") {
		t.Fatalf("missing: %v", err)
	}
	srv.Unblock(7)
	if err := send(7); err != nil {
		t.Fatalf("unblocked: %v", err)
	}

	srv.FailNext("sendMessage", 2, http.StatusTooManyRequests, 3)
	for range 2 {
		var tm *bot.TooManyRequestsError
		if err := send(1); !errors.As(err, &tm) || tm.RetryAfter != 3 {
			t.Fatalf("429: %v", err)
		}
	}
	if err := send(1); err != nil {
		t.Fatalf("after 2 failures: %v", err)
	}
	srv.FailNext("", 1, http.StatusBadGateway, 0)
	if err := send(1); err == nil || !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Fatalf("502: %v", err)
	}
	srv.FailNextWith("answerCallbackQuery", 1, &telegramtest.APIError{Code: 400, Description: telegramtest.DescQueryTooOld})
	if _, err := b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: "q"}); err == nil || !strings.Contains(err.Error(), "query is too old") {
		t.Fatalf("too old: %v", err)
	}
	srv.DropNext("sendMessage", 1)
	if err := send(1); err == nil || errors.Is(err, bot.ErrorBadRequest) {
		t.Fatalf("dropped connection: %v", err)
	}
	if err := send(1); err != nil {
		t.Fatalf("after drop: %v", err)
	}
	failed := 0
	for _, c := range srv.Calls() {
		if c.Failed() {
			failed++
		}
	}
	if failed != 7 {
		t.Fatalf("failed calls = %d, want 7", failed)
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestRateLimit(t *testing.T) {
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	srv := telegramtest.New(telegramtest.WithRateLimit(3, 1), telegramtest.WithClock(clk.Now))
	defer srv.Close()
	b := newBot(t, srv)
	ctx := ctxT(t)
	send := func(chat int64) int {
		_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: chat, Text: "x"})
		var tm *bot.TooManyRequestsError
		if errors.As(err, &tm) {
			return tm.RetryAfter
		}
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		return 0
	}
	steps := []struct {
		advance time.Duration
		chat    int64
		want    int // retry_after, 0 = sent
	}{
		{0, 1, 0},
		{0, 1, 1},                       // same chat within a second
		{0, 2, 0},                       // another chat is fine
		{0, 3, 0},                       // third in the second
		{0, 4, 1},                       // global limit of 3/s
		{1001 * time.Millisecond, 1, 0}, // a second later both limits have room again
		{0, 4, 0},
	}
	for i, s := range steps {
		clk.Add(s.advance)
		if got := send(s.chat); got != s.want {
			t.Fatalf("step %d: retry_after = %d, want %d", i, got, s.want)
		}
	}
	if v := srv.Violations(); v != 2 {
		t.Fatalf("violations = %d, want 2", v)
	}
}

func TestWebhook(t *testing.T) {
	srv := telegramtest.New()
	defer srv.Close()
	b := newBot(t, srv)
	ctx := ctxT(t)

	got := make(chan *http.Request, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		got <- r
		w.WriteHeader(http.StatusAccepted)
	}))
	defer hook.Close()

	if _, err := srv.PushWebhook(ctx, models.Update{}); err == nil {
		t.Fatal("PushWebhook without a webhook succeeded")
	}
	ok, err := b.SetWebhook(ctx, &bot.SetWebhookParams{URL: hook.URL + "/hook", SecretToken: "s3cret", AllowedUpdates: []string{"message", "callback_query"}, MaxConnections: 10})
	if !ok || err != nil {
		t.Fatalf("setWebhook = %v %v", ok, err)
	}
	wh := srv.Webhook()
	if wh.URL != hook.URL+"/hook" || wh.SecretToken != "s3cret" || len(wh.AllowedUpdates) != 2 || wh.MaxConnections != 10 {
		t.Fatalf("webhook = %+v", wh)
	}
	info, err := b.GetWebhookInfo(ctx)
	if err != nil || info.URL != wh.URL || len(info.AllowedUpdates) != 2 {
		t.Fatalf("getWebhookInfo = %+v %v", info, err)
	}

	status, err := srv.PushWebhook(ctx, models.Update{ID: 55, Message: &models.Message{ID: 1, Date: 1, Chat: models.Chat{ID: 9, Type: "private"}, Text: "/start"}})
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("push = %d %v", status, err)
	}
	r := <-got
	if r.Header.Get("X-Telegram-Bot-Api-Secret-Token") != "s3cret" || r.URL.Path != "/hook" {
		t.Fatalf("pushed request: %v %v", r.URL, r.Header)
	}
	var upd models.Update
	if err := json.NewDecoder(r.Body).Decode(&upd); err != nil || upd.ID != 55 || upd.Message.Text != "/start" {
		t.Fatalf("pushed update = %+v %v", upd, err)
	}

	// getUpdates is refused while a webhook is set, as Telegram does.
	if _, err := getUpdates(ctx, srv, 0, 0); err == nil || !strings.Contains(err.Error(), "webhook is active") {
		t.Fatalf("getUpdates with webhook: %v", err)
	}
	if ok, err := b.DeleteWebhook(ctx, &bot.DeleteWebhookParams{}); !ok || err != nil {
		t.Fatalf("deleteWebhook = %v %v", ok, err)
	}
	if srv.Webhook().URL != "" {
		t.Fatal("webhook still set")
	}
}

type apiResp struct {
	OK          bool              `json:"ok"`
	Result      []models.Update   `json:"result"`
	ErrorCode   int               `json:"error_code"`
	Description string            `json:"description"`
	Parameters  map[string]any    `json:"parameters"`
	Extra       map[string]string `json:"-"`
}

// getUpdates calls the fake with a JSON body, as kezekbot's poller does.
func getUpdates(ctx context.Context, srv *telegramtest.Server, offset int64, timeout int) ([]models.Update, error) {
	body := `{"offset":` + itoa(offset) + `,"timeout":` + itoa(int64(timeout)) + `,"allowed_updates":["message"]}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/bot"+token+"/getUpdates", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r apiResp
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if !r.OK {
		return nil, errors.New(r.Description)
	}
	return r.Result, nil
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestGetUpdates(t *testing.T) {
	srv := telegramtest.New()
	defer srv.Close()
	ctx := ctxT(t)

	msg := func(text string) models.Update {
		return models.Update{Message: &models.Message{ID: 1, Date: 1, Chat: models.Chat{ID: 5, Type: "private"}, Text: text}}
	}
	id1 := srv.EnqueueUpdate(msg("one"))
	id2 := srv.EnqueueUpdate(msg("two"))
	if id1 != 1 || id2 != 2 {
		t.Fatalf("ids = %d %d", id1, id2)
	}
	got, err := getUpdates(ctx, srv, 0, 30)
	if err != nil || len(got) != 2 || got[0].Message.Text != "one" {
		t.Fatalf("first poll = %+v %v", got, err)
	}
	// Without a higher offset nothing is confirmed.
	if got, _ := getUpdates(ctx, srv, 0, 0); len(got) != 2 {
		t.Fatalf("unconfirmed = %d updates", len(got))
	}
	// offset = last+1 confirms both; the long poll then waits until an update arrives.
	done := make(chan []models.Update, 1)
	go func() {
		got, err := getUpdates(ctx, srv, id2+1, 30)
		if err != nil {
			t.Errorf("long poll: %v", err)
		}
		done <- got
	}()
	if err := srv.WaitPolling(ctx); err != nil {
		t.Fatalf("WaitPolling: %v", err)
	}
	srv.EnqueueUpdate(msg("three"))
	if got := <-done; len(got) != 1 || got[0].ID != 3 || got[0].Message.Text != "three" {
		t.Fatalf("long poll = %+v", got)
	}
	if srv.Pending() != 1 {
		t.Fatalf("pending = %d, want 1 (update 3 not yet confirmed)", srv.Pending())
	}

	// A second poller terminates the first with 409, as Telegram does.
	first := make(chan error, 1)
	go func() {
		_, err := getUpdates(ctx, srv, 4, 30)
		first <- err
	}()
	if err := srv.WaitPolling(ctx); err != nil {
		t.Fatalf("WaitPolling: %v", err)
	}
	if got, err := getUpdates(ctx, srv, 4, 0); err != nil || len(got) != 0 {
		t.Fatalf("second poller = %v %v", got, err)
	}
	if err := <-first; err == nil || !strings.Contains(err.Error(), "terminated by other getUpdates") {
		t.Fatalf("first poller = %v, want conflict", err)
	}

	// A long poll with nothing queued ends after its timeout with an empty result.
	if got, err := getUpdates(ctx, srv, 4, 1); err != nil || len(got) != 0 {
		t.Fatalf("timed out poll = %v %v", got, err)
	}
}

func TestPollingWithLibrary(t *testing.T) {
	srv := telegramtest.New()
	defer srv.Close()
	got := make(chan *models.Update, 4)
	b, err := bot.New(token, bot.WithServerURL(srv.URL), bot.WithSkipGetMe(),
		bot.WithDefaultHandler(func(ctx context.Context, b *bot.Bot, u *models.Update) { got <- u }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	stopped := make(chan struct{})
	go func() { b.Start(ctx); close(stopped) }()
	srv.EnqueueUpdate(models.Update{CallbackQuery: &models.CallbackQuery{ID: "cb1", From: models.User{ID: 5}, Data: "menu:0:1",
		Message: models.MaybeInaccessibleMessage{Message: &models.Message{ID: 3, Date: 1, Chat: models.Chat{ID: 5, Type: "private"}}}}})
	select {
	case u := <-got:
		if u.CallbackQuery == nil || u.CallbackQuery.Data != "menu:0:1" || u.CallbackQuery.Message.Message.ID != 3 {
			t.Fatalf("update = %+v", u)
		}
	case <-ctx.Done():
		t.Fatal("no update delivered")
	}
	cancel()
	<-stopped
}

func TestBodiesAndControl(t *testing.T) {
	srv := telegramtest.New()
	defer srv.Close()
	post := func(path, ct, body string) (int, string) {
		resp, err := http.Post(srv.URL+path, ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, path, ct, body string
		wantStatus           int
		wantBody             string
	}{
		{"JSON", "/bot1:a/sendMessage", "application/json", `{"chat_id":9007199254740993,"text":"json","reply_markup":{"inline_keyboard":[]}}`, 200, `"chat":{"id":9007199254740993`},
		{"Form", "/bot1:a/sendMessage", "application/x-www-form-urlencoded", url.Values{"chat_id": {"5"}, "text": {"form"}}.Encode(), 200, `"text":"form"`},
		{"UnknownMethod", "/bot1:a/sendRocket", "application/json", `{}`, 404, `{"ok":false,"error_code":404,"description":"Not Found"}`},
		{"NoToken", "/sendMessage", "application/json", `{}`, 404, `"ok":false`},
		{"BadJSON", "/bot1:a/sendMessage", "application/json", `{`, 400, `"ok":false`},
		{"Enqueue", "/__enqueue", "application/json", `{"message":{"message_id":1,"date":1,"chat":{"id":5,"type":"private"},"text":"hi"}}`, 200, `"update_id":1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(tt.path, tt.ct, tt.body)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("%s = %d %s, want %d containing %s", tt.path, status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	if c := srv.CallsOf("sendMessage")[0]; c.Params["chat_id"] != "9007199254740993" || c.Params["reply_markup"] != `{"inline_keyboard":[]}` {
		t.Fatalf("JSON params = %v", c.Params)
	}
	if srv.Pending() != 1 {
		t.Fatalf("pending = %d", srv.Pending())
	}

	resp, err := http.Get(srv.URL + "/__calls?since=1")
	if err != nil {
		t.Fatal(err)
	}
	var calls []telegramtest.Call
	err = json.NewDecoder(resp.Body).Decode(&calls)
	resp.Body.Close()
	if err != nil || len(calls) == 0 || calls[0].Seq != 1 || calls[0].Params["text"] != "form" || resp.Header.Get("X-Calls-Total") == "" {
		t.Fatalf("/__calls = %+v %v", calls, err)
	}
	// wait= long-polls for the next call.
	ctx := ctxT(t)
	next := len(srv.Calls())
	done := make(chan []telegramtest.Call, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/__calls?wait=5s&since="+itoa(int64(next)), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- nil
			return
		}
		defer resp.Body.Close()
		var out []telegramtest.Call
		_ = json.NewDecoder(resp.Body).Decode(&out)
		done <- out
	}()
	post("/bot1:a/getMe", "application/json", "")
	if out := <-done; len(out) != 1 || out[0].Method != "getMe" {
		t.Fatalf("/__calls wait = %+v", out)
	}
	if status, _ := post("/__reset", "", ""); status != http.StatusNoContent || len(srv.Calls()) != 0 {
		t.Fatalf("reset: %d, %d calls", status, len(srv.Calls()))
	}
}

func TestWaitForDeadline(t *testing.T) {
	srv := telegramtest.New()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := srv.WaitFor(ctx, telegramtest.Method("sendMessage")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor = %v", err)
	}
}
