// Package telegramtest is a fake Telegram Bot API for tests and the local sandbox.
//
// It answers the methods kezekbot uses the way Telegram does (the same JSON envelope, error
// codes and descriptions), records every call, serves getUpdates from a queue with real
// offset and long-poll semantics, pushes updates to a registered webhook, and can be told to
// fail: a blocked chat, a chat that does not exist, the next n calls of a method, or a rate
// limit that answers 429 with retry_after.
//
// Requests may be multipart/form-data (what go-telegram/bot sends), urlencoded or JSON.
// Tests wait for calls through WaitFor, which blocks on a channel, never on a sleep.
//
// Control endpoints for the sandbox and load tools (same shapes as bench/fakeapi2):
//
//	GET  /__calls?since=N&wait=2s   calls with Seq >= N as a JSON array
//	POST /__enqueue                 body = one update, served by getUpdates
//	POST /__reset                   forget calls, queued updates, messages and failures
package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot/models"
)

// Call is one recorded Bot API call.
type Call struct {
	Method string            `json:"method"`
	Params map[string]string `json:"params"`
	At     time.Time         `json:"at"`
	// Seq is the call's index since the last reset, starting at 0.
	Seq int `json:"seq"`
	// Result is what the fake answered: a models.Message for message methods, []models.Update
	// for getUpdates, *models.User for getMe, true for the rest, or an *APIError.
	Result any `json:"result,omitempty"`
	// InWebhookAnswer: the bot made the call in its answer to a webhook request, not by
	// calling the Bot API.
	InWebhookAnswer bool `json:"in_webhook_answer,omitempty"`
}

// Failed reports whether the call was answered with an error.
func (c Call) Failed() bool {
	_, ok := c.Result.(*APIError)
	return ok
}

// Err returns the error the call was answered with, or nil.
func (c Call) Err() *APIError {
	e, _ := c.Result.(*APIError)
	return e
}

// ChatID is the call's chat_id parameter, 0 when absent or not numeric.
func (c Call) ChatID() int64 {
	id, _ := strconv.ParseInt(c.Params["chat_id"], 10, 64)
	return id
}

// MessageID is the id of the message a successful message method returned, else 0.
func (c Call) MessageID() int {
	if m, ok := c.Result.(models.Message); ok {
		return m.ID
	}
	return 0
}

// APIError is an error answer in Telegram's shape.
type APIError struct {
	Code        int
	Description string
	RetryAfter  int
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Description) }

// MarshalJSON writes the error as Telegram does.
func (e *APIError) MarshalJSON() ([]byte, error) {
	v := struct {
		OK          bool   `json:"ok"`
		ErrorCode   int    `json:"error_code"`
		Description string `json:"description"`
		Parameters  *struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters,omitempty"`
	}{ErrorCode: e.Code, Description: e.Description}
	if e.RetryAfter > 0 {
		v.Parameters = &struct {
			RetryAfter int `json:"retry_after"`
		}{e.RetryAfter}
	}
	return json.Marshal(v)
}

// Error builds the error Telegram answers with for code: 403 is a blocked bot, 429 carries
// retryAfter, the others take the status text.
func Error(code, retryAfter int) *APIError {
	e := &APIError{Code: code}
	switch code {
	case http.StatusBadRequest:
		e.Description = "Bad Request"
	case http.StatusForbidden:
		e.Description = DescBlocked
	case http.StatusNotFound:
		e.Description = "Not Found"
	case http.StatusConflict:
		e.Description = "Conflict"
	case http.StatusTooManyRequests:
		if retryAfter <= 0 {
			retryAfter = 1
		}
		e.Description = fmt.Sprintf("Too Many Requests: retry after %d", retryAfter)
		e.RetryAfter = retryAfter
	default:
		e.Description = http.StatusText(code)
	}
	return e
}

// Descriptions Telegram uses, as sent.
const (
	DescBlocked        = "Forbidden: bot was blocked by the user"
	DescChatNotFound   = "Bad Request: chat not found"
	DescNotModified    = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
	DescEditNotFound   = "Bad Request: message to edit not found"
	DescDeleteNotFound = "Bad Request: message to delete not found"
	DescQueryTooOld    = "Bad Request: query is too old and response timeout expired or query id is invalid"
	DescTextEmpty      = "Bad Request: message text is empty"
	DescWebhookActive  = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
	DescPollConflict   = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)

// WebhookInfo is the webhook registered through setWebhook.
type WebhookInfo struct {
	URL            string
	SecretToken    string
	AllowedUpdates []string
	MaxConnections int
}

// Option configures a Handler.
type Option func(*Handler)

// WithToken accepts only this bot token; others get 401 Unauthorized. By default any token works.
func WithToken(token string) Option { return func(h *Handler) { h.token = token } }

// WithBotUser sets what getMe returns.
func WithBotUser(u models.User) Option { return func(h *Handler) { h.me = u } }

// WithRateLimit makes message methods answer 429 when more than global per second in all, or
// more than perChat per second to one chat, are sent. Zero disables that limit.
func WithRateLimit(global, perChat float64) Option {
	return func(h *Handler) { h.globalRate, h.chatRate = global, perChat }
}

// WithClock replaces time.Now, for rate limit tests.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithDelay delays every Bot API answer, standing in for the round trip to Telegram.
func WithDelay(d time.Duration) Option { return func(h *Handler) { h.delay = d } }

// WithHTTPClient sets the client PushWebhook uses.
func WithHTTPClient(c *http.Client) Option { return func(h *Handler) { h.client = c } }

type queued struct {
	id  int64
	upd models.Update
	raw json.RawMessage
}

type message struct {
	text, markup string
}

type failure struct {
	method string // "" = any method
	left   int
	err    *APIError // nil = drop the connection
}

// Handler is the fake Bot API as an http.Handler; use it directly to serve the sandbox on a
// fixed address, or through Server in tests.
type Handler struct {
	token      string
	me         models.User
	now        func() time.Time
	delay      time.Duration
	client     *http.Client
	globalRate float64
	chatRate   float64

	mu       sync.Mutex
	calls    []Call
	changed  chan struct{} // closed and replaced when calls or the update queue change
	closed   chan struct{}
	queue    []queued
	nextUpd  int64
	pollGen  int
	polling  int // getUpdates calls waiting for updates
	msgs     map[int64]map[int]message
	lastMsg  map[int64]int
	blocked  map[int64]bool
	missing  map[int64]bool
	failures []*failure
	webhook  WebhookInfo
	commands string
	chats    map[int64]models.ChatFullInfo // getChat answers (SetChat)
	// rate limit bookkeeping
	window     []time.Time // global sends in the last second
	chatLast   map[int64]time.Time
	violations int
	closeOnce  sync.Once
}

// NewHandler returns a fake Bot API handler.
func NewHandler(opts ...Option) *Handler {
	h := &Handler{
		me:       models.User{ID: 777000111, IsBot: true, FirstName: "Kezek", Username: "kezek_test_bot"},
		now:      time.Now,
		client:   &http.Client{Timeout: 30 * time.Second},
		changed:  make(chan struct{}),
		closed:   make(chan struct{}),
		nextUpd:  1,
		msgs:     map[int64]map[int]message{},
		lastMsg:  map[int64]int{},
		blocked:  map[int64]bool{},
		missing:  map[int64]bool{},
		chatLast: map[int64]time.Time{},
		chats:    map[int64]models.ChatFullInfo{},
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

// SetChat sets what getChat answers for info.ID (a private chat with only its id otherwise).
func (h *Handler) SetChat(info models.ChatFullInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.chats[info.ID] = info
}

// Close wakes every waiting getUpdates and WaitFor; the handler answers no more long polls.
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.closed) })
}

// Server is a Handler on an httptest server.
type Server struct {
	*Handler
	// URL is the base URL to give go-telegram/bot (bot.WithServerURL).
	URL string
	srv *httptest.Server
}

// New starts a fake Bot API on a loopback port. Close it when done.
func New(opts ...Option) *Server {
	h := NewHandler(opts...)
	srv := httptest.NewServer(h)
	return &Server{Handler: h, URL: srv.URL, srv: srv}
}

// Close stops the server, first ending the long polls that would hold it open.
func (s *Server) Close() {
	s.Handler.Close()
	s.srv.Close()
}

// Client returns an http.Client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// notifyLocked wakes waiters; h.mu must be held.
func (h *Handler) notifyLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// Calls returns a copy of every recorded call.
func (h *Handler) Calls() []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// CallsSince returns the calls with Seq >= seq.
func (h *Handler) CallsSince(seq int) []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	if seq < 0 {
		seq = 0
	}
	if seq >= len(h.calls) {
		return nil
	}
	return slices.Clone(h.calls[seq:])
}

// CallsOf returns the calls of one method.
func (h *Handler) CallsOf(method string) []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Call
	for _, c := range h.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// WaitFor returns the first recorded call, past or future, for which match is true. It
// blocks until one is recorded, ctx is done or the handler is closed.
func (h *Handler) WaitFor(ctx context.Context, match func(Call) bool) (Call, error) {
	next := 0
	for {
		h.mu.Lock()
		for ; next < len(h.calls); next++ {
			if match(h.calls[next]) {
				c := h.calls[next]
				h.mu.Unlock()
				return c, nil
			}
		}
		ch := h.changed
		h.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Call{}, fmt.Errorf("wait for call: %w", ctx.Err())
		case <-h.closed:
			return Call{}, errors.New("wait for call: fake bot api closed")
		}
	}
}

// Method matches calls of a method, for WaitFor.
func Method(name string) func(Call) bool {
	return func(c Call) bool { return c.Method == name }
}

// EnqueueUpdate queues an update for getUpdates. An update without an id gets the next one.
// It returns the update id.
func (h *Handler) EnqueueUpdate(upd models.Update) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if upd.ID == 0 {
		upd.ID = h.nextUpd
	}
	if upd.ID >= h.nextUpd {
		h.nextUpd = upd.ID + 1
	}
	raw, err := json.Marshal(&upd)
	if err != nil {
		// Only a MaybeInaccessibleMessage with an out-of-range Type fails; serve the id alone so
		// the poller still sees (and skips) it.
		raw = fmt.Appendf(nil, `{"update_id":%d}`, upd.ID)
	}
	h.queue = append(h.queue, queued{id: upd.ID, upd: upd, raw: raw})
	h.notifyLocked()
	return upd.ID
}

// Pending returns how many updates are queued.
func (h *Handler) Pending() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queue)
}

// Webhook returns the registered webhook (URL empty when none).
func (h *Handler) Webhook() WebhookInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.webhook
	w.AllowedUpdates = slices.Clone(w.AllowedUpdates)
	return w
}

// PushWebhook delivers upd to the registered webhook as Telegram does (POST, JSON, the secret
// header) and returns the HTTP status. An update without an id gets the next one.
func (h *Handler) PushWebhook(ctx context.Context, upd models.Update) (int, error) {
	h.mu.Lock()
	wh := h.webhook
	if upd.ID == 0 {
		upd.ID = h.nextUpd
	}
	if upd.ID >= h.nextUpd {
		h.nextUpd = upd.ID + 1
	}
	h.mu.Unlock()
	if wh.URL == "" {
		return 0, errors.New("push webhook: no webhook set")
	}
	body, err := json.Marshal(&upd)
	if err != nil {
		return 0, fmt.Errorf("push webhook: marshal update: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("push webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if wh.SecretToken != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", wh.SecretToken)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("push webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		h.WebhookAnswer(resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// WebhookAnswer carries out the method call a 200 webhook answer may hold, as Telegram does
// (https://core.telegram.org/bots/api#making-requests-when-getting-updates): the bot learns
// nothing of its result; the call is recorded with InWebhookAnswer set. PushWebhook calls it;
// a test that posts updates to the bot itself hands it the bot's answer. It reads resp.Body.
func (h *Handler) WebhookAnswer(resp *http.Response) {
	if resp.ContentLength == 0 {
		return
	}
	r := &http.Request{Method: http.MethodPost, Header: resp.Header, Body: resp.Body, URL: &url.URL{}}
	params, err := parseParams(r)
	method := params["method"]
	if err != nil || method == "" {
		return
	}
	delete(params, "method")
	at := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	result := h.callLocked(method, params, at)
	h.calls = append(h.calls, Call{Method: method, Params: params, At: at, Seq: len(h.calls), Result: result, InWebhookAnswer: true})
	h.notifyLocked()
}

// Block makes every call addressed to chatID fail with 403 "bot was blocked by the user".
func (h *Handler) Block(chatID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.blocked[chatID] = true
}

// Unblock undoes Block.
func (h *Handler) Unblock(chatID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.blocked, chatID)
}

// ChatNotFound makes every call addressed to chatID fail with 400 "chat not found".
func (h *Handler) ChatNotFound(chatID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.missing[chatID] = true
}

// FailNext makes the next n calls of method ("" = any method) fail with code, as Telegram
// would answer it (see Error); retryAfter is used for 429.
func (h *Handler) FailNext(method string, n, code, retryAfter int) {
	h.FailNextWith(method, n, Error(code, retryAfter))
}

// FailNextWith makes the next n calls of method ("" = any method) fail with e.
func (h *Handler) FailNextWith(method string, n int, e *APIError) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures = append(h.failures, &failure{method: method, left: n, err: e})
}

// DropNext makes the next n calls of method ("" = any method) end with the connection closed
// and no answer, like a network failure.
func (h *Handler) DropNext(method string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures = append(h.failures, &failure{method: method, left: n})
}

// Violations counts calls answered 429 by the rate limit.
func (h *Handler) Violations() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.violations
}

// Commands returns the commands JSON of the last setMyCommands.
func (h *Handler) Commands() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.commands
}

// MessageText returns the current text of a message the bot sent, and whether it exists.
func (h *Handler) MessageText(chatID int64, msgID int) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, ok := h.msgs[chatID][msgID]
	return m.text, ok
}

// MessageMarkup returns the reply_markup JSON of a message as it stands now ("" when it has
// no buttons).
func (h *Handler) MessageMarkup(chatID int64, msgID int) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, ok := h.msgs[chatID][msgID]
	return m.markup, ok
}

// LastMessage returns the newest message the bot sent to chatID that still exists: its id,
// text and reply_markup JSON.
func (h *Handler) LastMessage(chatID int64) (id int, text, markup string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id = h.lastMsg[chatID]
	m, ok := h.msgs[chatID][id]
	if !ok {
		return 0, "", "", false
	}
	return id, m.text, m.markup, true
}

// Reset forgets calls, queued updates, messages, failures, blocks and the webhook.
func (h *Handler) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = nil
	h.queue = nil
	h.msgs = map[int64]map[int]message{}
	h.lastMsg = map[int64]int{}
	h.blocked = map[int64]bool{}
	h.missing = map[int64]bool{}
	h.failures = nil
	h.webhook = WebhookInfo{}
	h.window = nil
	h.chatLast = map[int64]time.Time{}
	h.violations = 0
	h.notifyLocked()
}

// ServeHTTP routes /bot<token>/<method> and the control endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch p {
	case "/__calls":
		h.serveCalls(w, r)
		return
	case "/__enqueue":
		h.serveEnqueue(w, r)
		return
	case "/__reset":
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		h.Reset()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !strings.HasPrefix(p, "/bot") {
		writeJSON(w, Error(http.StatusNotFound, 0))
		return
	}
	rest := p[len("/bot"):]
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 {
		writeJSON(w, Error(http.StatusNotFound, 0))
		return
	}
	token, method := rest[:slash], strings.TrimPrefix(rest[slash+1:], "test/")
	if h.token != "" && token != h.token {
		writeJSON(w, &APIError{Code: http.StatusUnauthorized, Description: "Unauthorized"})
		return
	}
	at := h.now()
	params, err := parseParams(r)
	if err != nil {
		e := &APIError{Code: http.StatusBadRequest, Description: "Bad Request: " + err.Error()}
		h.record(method, params, at, e)
		writeJSON(w, e)
		return
	}
	if h.delay > 0 {
		t := time.NewTimer(h.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if method == "getUpdates" {
		h.getUpdates(w, r, params, at)
		return
	}
	h.mu.Lock()
	f := h.takeFailureLocked(method)
	var result any
	if f != nil {
		if f.err == nil {
			h.recordLocked(method, params, at, &APIError{Code: 0, Description: "connection dropped"})
			h.mu.Unlock()
			drop(w)
			return
		}
		result = f.err
	} else {
		result = h.callLocked(method, params, at)
	}
	h.recordLocked(method, params, at, result)
	h.mu.Unlock()
	writeResult(w, result)
}

func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // net/http closes the connection without an answer
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func (h *Handler) record(method string, params map[string]string, at time.Time, result any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recordLocked(method, params, at, result)
}

func (h *Handler) recordLocked(method string, params map[string]string, at time.Time, result any) {
	h.calls = append(h.calls, Call{Method: method, Params: params, At: at, Seq: len(h.calls), Result: result})
	h.notifyLocked()
}

func (h *Handler) takeFailureLocked(method string) *failure {
	for i, f := range h.failures {
		if f.method == "" || f.method == method {
			f.left--
			if f.left <= 0 {
				h.failures = slices.Delete(h.failures, i, i+1)
			}
			return f
		}
	}
	return nil
}

var messageMethods = map[string]bool{
	"sendMessage": true, "editMessageText": true, "editMessageReplyMarkup": true,
	"sendPhoto": true, "sendDocument": true,
}

// callLocked answers one method; h.mu is held.
func (h *Handler) callLocked(method string, p map[string]string, at time.Time) any {
	var chatID int64
	if s, ok := p["chat_id"]; ok {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return &APIError{Code: http.StatusBadRequest, Description: DescChatNotFound}
		}
		chatID = id
		if h.blocked[chatID] {
			return Error(http.StatusForbidden, 0)
		}
		if h.missing[chatID] {
			return &APIError{Code: http.StatusBadRequest, Description: DescChatNotFound}
		}
	}
	if messageMethods[method] && chatID != 0 {
		if e := h.rateLimitLocked(chatID, at); e != nil {
			return e
		}
	}
	switch method {
	case "getMe":
		me := h.me
		return &me
	case "sendMessage":
		if _, ok := p["chat_id"]; !ok {
			return &APIError{Code: http.StatusBadRequest, Description: "Bad Request: chat_id is empty"}
		}
		if strings.TrimSpace(p["text"]) == "" {
			return &APIError{Code: http.StatusBadRequest, Description: DescTextEmpty}
		}
		h.lastMsg[chatID]++
		id := h.lastMsg[chatID]
		if h.msgs[chatID] == nil {
			h.msgs[chatID] = map[int]message{}
		}
		h.msgs[chatID][id] = message{text: p["text"], markup: p["reply_markup"]}
		return h.messageResult(chatID, id, p["text"], p["reply_markup"], at)
	case "editMessageText", "editMessageReplyMarkup":
		if p["inline_message_id"] != "" {
			return true
		}
		id, _ := strconv.Atoi(p["message_id"])
		m, ok := h.msgs[chatID][id]
		if !ok {
			return &APIError{Code: http.StatusBadRequest, Description: DescEditNotFound}
		}
		next := m
		next.markup = p["reply_markup"]
		if method == "editMessageText" {
			if strings.TrimSpace(p["text"]) == "" {
				return &APIError{Code: http.StatusBadRequest, Description: DescTextEmpty}
			}
			next.text = p["text"]
		}
		if next == m {
			return &APIError{Code: http.StatusBadRequest, Description: DescNotModified}
		}
		h.msgs[chatID][id] = next
		return h.messageResult(chatID, id, next.text, next.markup, at)
	case "deleteMessage":
		id, _ := strconv.Atoi(p["message_id"])
		if _, ok := h.msgs[chatID][id]; !ok {
			return &APIError{Code: http.StatusBadRequest, Description: DescDeleteNotFound}
		}
		delete(h.msgs[chatID], id)
		return true
	case "answerCallbackQuery":
		if p["callback_query_id"] == "" {
			return &APIError{Code: http.StatusBadRequest, Description: DescQueryTooOld}
		}
		if len([]rune(p["text"])) > 200 {
			return &APIError{Code: http.StatusBadRequest, Description: "Bad Request: MESSAGE_TOO_LONG"}
		}
		return true
	case "setWebhook":
		u, err := url.Parse(p["url"])
		if p["url"] != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https")) {
			return &APIError{Code: http.StatusBadRequest, Description: "Bad Request: bad webhook: invalid URL"}
		}
		h.webhook = WebhookInfo{URL: p["url"], SecretToken: p["secret_token"]}
		h.webhook.MaxConnections, _ = strconv.Atoi(p["max_connections"])
		if s := p["allowed_updates"]; s != "" {
			if err := json.Unmarshal([]byte(s), &h.webhook.AllowedUpdates); err != nil {
				return &APIError{Code: http.StatusBadRequest, Description: "Bad Request: can't parse allowed updates"}
			}
		}
		if p["drop_pending_updates"] == "true" {
			h.queue = nil
		}
		return true
	case "deleteWebhook":
		h.webhook = WebhookInfo{}
		if p["drop_pending_updates"] == "true" {
			h.queue = nil
		}
		return true
	case "getWebhookInfo":
		return &models.WebhookInfo{
			URL:                h.webhook.URL,
			PendingUpdateCount: len(h.queue),
			MaxConnections:     h.webhook.MaxConnections,
			AllowedUpdates:     slices.Clone(h.webhook.AllowedUpdates),
		}
	case "setMyCommands":
		h.commands = p["commands"]
		return true
	case "deleteMyCommands", "sendChatAction", "leaveChat":
		return true
	case "getChat":
		id, err := strconv.ParseInt(p["chat_id"], 10, 64)
		if err != nil {
			return Error(http.StatusBadRequest, 0)
		}
		if c, ok := h.chats[id]; ok {
			return c
		}
		return models.ChatFullInfo{ID: id, Type: models.ChatTypePrivate}
	}
	return Error(http.StatusNotFound, 0)
}

func (h *Handler) messageResult(chatID int64, id int, text, markup string, at time.Time) models.Message {
	me := h.me
	m := models.Message{
		ID:   id,
		From: &me,
		Date: int(at.Unix()),
		Chat: models.Chat{ID: chatID, Type: models.ChatTypePrivate},
		Text: text,
	}
	if chatID < 0 {
		m.Chat.Type = models.ChatTypeSupergroup
	}
	if markup != "" {
		var kb models.InlineKeyboardMarkup
		if json.Unmarshal([]byte(markup), &kb) == nil && kb.InlineKeyboard != nil {
			m.ReplyMarkup = &kb
		}
	}
	return m
}

// rateLimitLocked applies WithRateLimit: a one-second sliding window overall, and a minimum
// spacing per chat.
func (h *Handler) rateLimitLocked(chatID int64, at time.Time) *APIError {
	if h.globalRate <= 0 && h.chatRate <= 0 {
		return nil
	}
	if h.chatRate > 0 {
		gap := time.Duration(float64(time.Second) / h.chatRate)
		if last, ok := h.chatLast[chatID]; ok && at.Sub(last) < gap {
			h.violations++
			return Error(http.StatusTooManyRequests, retryAfter(gap-at.Sub(last)))
		}
	}
	if h.globalRate > 0 {
		cut := at.Add(-time.Second)
		i := 0
		for i < len(h.window) && !h.window[i].After(cut) {
			i++
		}
		h.window = h.window[i:]
		if float64(len(h.window)) >= h.globalRate {
			h.violations++
			return Error(http.StatusTooManyRequests, retryAfter(h.window[0].Sub(cut)))
		}
		h.window = append(h.window, at)
	}
	if h.chatRate > 0 {
		h.chatLast[chatID] = at
	}
	return nil
}

// retryAfter rounds a wait up to whole seconds, as Telegram's retry_after is.
func retryAfter(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

func (h *Handler) getUpdates(w http.ResponseWriter, r *http.Request, p map[string]string, at time.Time) {
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	limit, _ := strconv.Atoi(p["limit"])
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, _ := strconv.Atoi(p["timeout"])
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(time.Duration(timeout) * time.Second)
		defer t.Stop()
		deadline = t.C
	}

	h.mu.Lock()
	if f := h.takeFailureLocked("getUpdates"); f != nil {
		if f.err == nil {
			h.recordLocked("getUpdates", p, at, &APIError{Description: "connection dropped"})
			h.mu.Unlock()
			drop(w)
			return
		}
		h.recordLocked("getUpdates", p, at, f.err)
		h.mu.Unlock()
		writeJSON(w, f.err)
		return
	}
	if h.webhook.URL != "" {
		e := &APIError{Code: http.StatusConflict, Description: DescWebhookActive}
		h.recordLocked("getUpdates", p, at, e)
		h.mu.Unlock()
		writeJSON(w, e)
		return
	}
	// Confirm everything below offset; a negative offset keeps only the last -offset updates.
	switch {
	case offset > 0:
		i := 0
		for i < len(h.queue) && h.queue[i].id < offset {
			i++
		}
		h.queue = h.queue[i:]
	case offset < 0:
		if n := int(-offset); n < len(h.queue) {
			h.queue = h.queue[len(h.queue)-n:]
		}
	}
	h.pollGen++
	gen := h.pollGen
	h.notifyLocked() // an older poll still waiting learns that it was terminated
	for {
		if gen != h.pollGen {
			e := &APIError{Code: http.StatusConflict, Description: DescPollConflict}
			h.recordLocked("getUpdates", p, at, e)
			h.mu.Unlock()
			writeJSON(w, e)
			return
		}
		if len(h.queue) > 0 || deadline == nil {
			n := min(limit, len(h.queue))
			batch := h.queue[:n:n]
			upds := make([]models.Update, n)
			raws := make([]json.RawMessage, n)
			for i, q := range batch {
				upds[i], raws[i] = q.upd, q.raw
			}
			h.recordLocked("getUpdates", p, at, upds)
			h.mu.Unlock()
			writeResult(w, raws)
			return
		}
		h.polling++
		h.notifyLocked()
		ch := h.changed
		h.mu.Unlock()
		gone := false
		select {
		case <-ch:
		case <-deadline:
			deadline = nil
		case <-r.Context().Done():
			gone = true
		case <-h.closed:
			deadline = nil
		}
		h.mu.Lock()
		h.polling--
		if gone {
			h.mu.Unlock()
			return
		}
	}
}

// WaitPolling blocks until a getUpdates call is waiting for updates (a long poll in progress).
func (h *Handler) WaitPolling(ctx context.Context) error {
	for {
		h.mu.Lock()
		n, ch := h.polling, h.changed
		h.mu.Unlock()
		if n > 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for a long poll: %w", ctx.Err())
		case <-h.closed:
			return errors.New("wait for a long poll: fake bot api closed")
		}
	}
}

func (h *Handler) serveCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, _ := strconv.Atoi(q.Get("since"))
	since = max(since, 0)
	wait, _ := time.ParseDuration(q.Get("wait"))
	wait = min(wait, 30*time.Second)
	var timer <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	for {
		h.mu.Lock()
		total := len(h.calls)
		var out []Call
		if since < total {
			out = slices.Clone(h.calls[since:])
		}
		ch := h.changed
		h.mu.Unlock()
		if out != nil || timer == nil {
			if out == nil {
				out = []Call{}
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Calls-Total", strconv.Itoa(total))
			_ = json.NewEncoder(w).Encode(out)
			return
		}
		select {
		case <-ch:
		case <-timer:
			timer = nil
		case <-r.Context().Done():
			return
		case <-h.closed:
			timer = nil
		}
	}
}

func (h *Handler) serveEnqueue(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var upd models.Update
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&upd); err != nil {
		http.Error(w, "bad update: "+err.Error(), http.StatusBadRequest)
		return
	}
	id := h.EnqueueUpdate(upd)
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"ok":true,"update_id":%d}`+"\n", id)
}

func writeResult(w http.ResponseWriter, result any) {
	if e, ok := result.(*APIError); ok {
		writeJSON(w, e)
		return
	}
	b, err := json.Marshal(result)
	if err != nil {
		writeJSON(w, &APIError{Code: http.StatusInternalServerError, Description: "Internal Server Error"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	buf := make([]byte, 0, len(b)+32)
	buf = append(buf, `{"ok":true,"result":`...)
	buf = append(buf, b...)
	buf = append(buf, '}')
	_, _ = w.Write(buf)
}

func writeJSON(w http.ResponseWriter, e *APIError) {
	b, _ := e.MarshalJSON()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Code)
	_, _ = w.Write(b)
}

// parseParams reads a Bot API request's parameters from the query and a multipart, urlencoded
// or JSON body. JSON numbers keep their exact digits; nested JSON stays JSON text, which is how
// multipart clients send it too.
func parseParams(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	if r.Body == nil || r.Method == http.MethodGet {
		return out, nil
	}
	body := http.MaxBytesReader(nil, r.Body, 10<<20)
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) { // also an empty body: go-telegram/bot sends one for methods without params
				return out, nil
			}
			if err != nil {
				return out, fmt.Errorf("can't parse multipart: %w", err)
			}
			b, err := io.ReadAll(part)
			if err != nil {
				return out, fmt.Errorf("can't read multipart: %w", err)
			}
			if name := part.FormName(); name != "" {
				if part.FileName() != "" {
					out[name] = "attach:" + part.FileName()
				} else {
					out[name] = string(b)
				}
			}
		}
	case "application/json":
		var m map[string]json.RawMessage
		b, err := io.ReadAll(body)
		if err != nil {
			return out, fmt.Errorf("can't read body: %w", err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return out, nil
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return out, fmt.Errorf("can't parse JSON object: %w", err)
		}
		for k, v := range m {
			var s string
			if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
				out[k] = s
			} else {
				out[k] = string(v)
			}
		}
	default:
		b, err := io.ReadAll(body)
		if err != nil {
			return out, fmt.Errorf("can't read body: %w", err)
		}
		vals, err := url.ParseQuery(string(b))
		if err != nil {
			return out, fmt.Errorf("can't parse form: %w", err)
		}
		for k, v := range vals {
			out[k] = v[0]
		}
	}
	return out, nil
}
