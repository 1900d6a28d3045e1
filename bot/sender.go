package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// Errors the Sender returns for chats that cannot be written to; test with errors.Is, and
// errors.As(err, &*ChatError) for the chat id.
var (
	// ErrBlocked: 403, the user blocked the bot, deleted their account, or never started it.
	ErrBlocked = errors.New("bot blocked by the user")
	// ErrChatNotFound: 400 "chat not found".
	ErrChatNotFound = errors.New("chat not found")
)

// ChatError is a permanent failure to reach a chat. It matches ErrBlocked or ErrChatNotFound.
type ChatError struct {
	ChatID int64
	// Reason is Telegram's description ("Forbidden: bot was blocked by the user").
	Reason string
	kind   error
}

func (e *ChatError) Error() string {
	return fmt.Sprintf("chat %d: %v: %s", e.ChatID, e.kind, e.Reason)
}

func (e *ChatError) Unwrap() error { return e.kind }

// Message is one rendered message: text, parse mode and an optional inline keyboard. It has the
// same fields as render.Message, so one converts to the other.
type Message struct {
	Text      string
	ParseMode string
	Keyboard  *models.InlineKeyboardMarkup
}

// SenderOptions configure a Sender. Zero values take the defaults.
type SenderOptions struct {
	// APIURL is the Bot API base URL (KEZEKBOT_TELEGRAM_API_URL); default https://api.telegram.org.
	APIURL string
	// HTTPClient replaces the tuned default client.
	HTTPClient *http.Client
	// MaxAttempts bounds tries per call, the first included; default 4.
	MaxAttempts int
	// Backoff is the first wait after a transient failure, doubled per attempt up to MaxBackoff;
	// defaults 200ms and 3s.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest 429 retry_after the Sender waits out inside one call; a
	// longer one is returned as the *bot.TooManyRequestsError. Default 10s: a parent waits for
	// the reply and Telegram waits for the webhook.
	MaxRetryAfter time.Duration
	// CallTimeout bounds one HTTP call; default 15s.
	CallTimeout time.Duration
	// OnUnreachable is called, synchronously, when a chat turns out blocked or missing.
	OnUnreachable func(chatID int64, reason string)
	Log           *slog.Logger
}

// Sender makes every outgoing Bot API call: it retries 429s after retry_after and transient
// failures with capped exponential backoff, turns 403 and "chat not found" into ChatError, and
// treats the harmless 400s (message is not modified, query is too old) as success.
type Sender struct {
	b       *tgbot.Bot
	client  *http.Client
	baseURL string // <api>/bot<token>/
	o       SenderOptions
	log     *slog.Logger
	// sleep waits d or until ctx is done; replaced in tests.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewTransport returns the HTTP transport for the Bot API: keep-alives with enough idle
// connections per host for parallel chats (the default 2 would reconnect constantly), and
// dial/TLS timeouts so a dead network fails fast.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// NewSender builds the Sender and its go-telegram/bot client (without the getMe round trip).
func NewSender(token string, o SenderOptions) (*Sender, error) {
	if o.APIURL == "" {
		o.APIURL = "https://api.telegram.org"
	}
	o.APIURL = strings.TrimRight(o.APIURL, "/")
	if o.HTTPClient == nil {
		// No client-wide Timeout: getUpdates long-polls; every call gets its own deadline.
		o.HTTPClient = &http.Client{Transport: NewAPITransport()}
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 3 * time.Second
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 10 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 15 * time.Second
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	b, err := tgbot.New(token,
		tgbot.WithServerURL(o.APIURL),
		tgbot.WithSkipGetMe(),
		tgbot.WithHTTPClient(time.Minute, bufferedClient{o.HTTPClient}),
		tgbot.WithErrorsHandler(func(err error) { log.Error("telegram client", "err", err) }),
	)
	if err != nil {
		return nil, fmt.Errorf("new sender: %w", err)
	}
	return &Sender{
		b:       b,
		client:  o.HTTPClient,
		baseURL: o.APIURL + "/bot" + token + "/",
		o:       o,
		log:     log,
		sleep:   sleepCtx,
	}, nil
}

// bufferedClient sends go-telegram/bot's streamed multipart bodies in one piece. The library
// writes the form through an io.Pipe, so net/http sends it chunked and flushes every chunk with
// its own write syscall, a dozen per call; reading the body first costs one small copy.
type bufferedClient struct{ c *http.Client }

func (b bufferedClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength == 0 {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return b.c.Do(req)
}

// Bot returns the underlying client for calls the Sender does not wrap (setWebhook, commands).
func (s *Sender) Bot() *tgbot.Bot { return s.b }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SendMessage sends m to chatID and returns the new message's id.
func (s *Sender) SendMessage(ctx context.Context, chatID int64, m Message) (int, error) {
	buf := getBuf()
	defer putBuf(buf)
	buf.B = appendSendMessage(buf.B[:0], chatID, 0, m)
	var res msgResult
	err := s.do(ctx, "sendMessage", chatID, func(ctx context.Context) error {
		return s.raw(ctx, "sendMessage", buf.B, &res)
	})
	if err != nil {
		return 0, fmt.Errorf("send message to chat %d: %w", chatID, err)
	}
	return res.MessageID, nil
}

// EditMessageText edits message msgID of chatID to m and returns the id of the message that now
// shows m: msgID, or a new message's id when msgID could not be edited (deleted, too old, not
// ours) and m was sent instead. An edit to identical content counts as done.
func (s *Sender) EditMessageText(ctx context.Context, chatID int64, msgID int, m Message) (int, error) {
	buf := getBuf()
	defer putBuf(buf)
	buf.B = appendSendMessage(buf.B[:0], chatID, msgID, m)
	err := s.do(ctx, "editMessageText", chatID, func(ctx context.Context) error {
		return s.raw(ctx, "editMessageText", buf.B, nil)
	})
	switch {
	case err == nil:
		return msgID, nil
	case isBadRequest(err, "message is not modified"):
		return msgID, nil
	case isBadRequest(err, "message to edit not found", "message can't be edited", "MESSAGE_ID_INVALID",
		"there is no text in the message to edit", "message identifier is not specified"):
		s.log.Debug("edit impossible, sending a new message", "chat_id", chatID, "message_id", msgID, "err", err)
		return s.SendMessage(ctx, chatID, m)
	}
	return 0, fmt.Errorf("edit message %d in chat %d: %w", msgID, chatID, err)
}

// AnswerCallbackQuery answers a callback query; text may be empty. A query that is too old to
// answer (the parent has long stopped waiting) is not an error.
func (s *Sender) AnswerCallbackQuery(ctx context.Context, queryID, text string, alert bool) error {
	buf := getBuf()
	defer putBuf(buf)
	buf.B = appendAnswer(buf.B[:0], queryID, text, alert)
	err := s.do(ctx, "answerCallbackQuery", 0, func(ctx context.Context) error {
		return s.raw(ctx, "answerCallbackQuery", buf.B, nil)
	})
	if err != nil && !isBadRequest(err, "query is too old", "query ID is invalid") {
		return fmt.Errorf("answer callback query: %w", err)
	}
	return nil
}

// do runs call with the retry policy. chatID (0 = none) names the chat for ChatError.
func (s *Sender) do(ctx context.Context, method string, chatID int64, call func(context.Context) error) error {
	backoff := s.o.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, s.o.CallTimeout)
		err = call(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", method, ctx.Err())
		}
		var wait time.Duration
		var tooMany *tgbot.TooManyRequestsError
		switch {
		case errors.As(err, &tooMany):
			wait = time.Duration(max(tooMany.RetryAfter, 1)) * time.Second
			if wait > s.o.MaxRetryAfter {
				return err
			}
		case errors.Is(err, tgbot.ErrorForbidden):
			return s.unreachable(chatID, ErrBlocked, err)
		case isBadRequest(err, "chat not found"):
			return s.unreachable(chatID, ErrChatNotFound, err)
		case isTransient(err):
			wait = backoff + rand.N(backoff/2+1) // jitter spreads out a burst of retries
			backoff = min(backoff*2, s.o.MaxBackoff)
		default:
			return err
		}
		if attempt >= s.o.MaxAttempts {
			return fmt.Errorf("%d attempts: %w", attempt, err)
		}
		s.log.Debug("telegram call failed, retrying", "method", method, "chat_id", chatID, "attempt", attempt, "wait", wait, "err", err)
		if serr := s.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%s: %w (after %w)", method, serr, err)
		}
	}
}

func (s *Sender) unreachable(chatID int64, kind, err error) error {
	reason := err.Error()
	// The library prefixes the description with its sentinel ("forbidden, Forbidden: …").
	if i := strings.Index(reason, ", "); i >= 0 {
		reason = reason[i+2:]
	}
	if chatID != 0 && s.o.OnUnreachable != nil {
		s.o.OnUnreachable(chatID, reason)
	}
	return &ChatError{ChatID: chatID, Reason: reason, kind: kind}
}

// isBadRequest reports whether err is a 400 whose description contains one of the fragments.
// The Bot API has no sub-codes, so the description is all there is (notes §1.5).
func isBadRequest(err error, fragments ...string) bool {
	if !errors.Is(err, tgbot.ErrorBadRequest) {
		return false
	}
	msg := err.Error()
	for _, f := range fragments {
		if strings.Contains(msg, f) {
			return true
		}
	}
	return false
}

// isTransient reports whether a failed call may succeed when repeated: a 5xx, a network error,
// a timeout, or an answer that was not the Bot API's JSON (a proxy's error page).
func isTransient(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	if code := statusOf(err); code >= 500 {
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "error decode response body") || strings.HasPrefix(msg, "error read response body")
}

// statusOf digs the error_code out of go-telegram/bot's generic error, which it formats as
// "error response from telegram for method <m>, <code> <description>" for codes it has no
// sentinel for (5xx among them).
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Code
	}
	const prefix = "error response from telegram for method "
	msg := err.Error()
	i := strings.Index(msg, prefix)
	if i < 0 {
		return 0
	}
	rest := msg[i+len(prefix):]
	j := strings.Index(rest, ", ")
	if j < 0 {
		return 0
	}
	rest = rest[j+2:]
	k := strings.IndexByte(rest, ' ')
	if k < 0 {
		k = len(rest)
	}
	code, _ := strconv.Atoi(rest[:k])
	return code
}

// apiError is a Bot API error answer for the calls the Sender makes itself (getUpdates), for
// codes go-telegram/bot has no sentinel for.
type apiError struct {
	Method      string
	Code        int
	Description string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: telegram error %d: %s", e.Method, e.Code, e.Description)
}

// msgResult is the part of a sent Message the Sender needs; decoding only it skips the
// reflection over models.Message's hundred fields.
type msgResult struct {
	MessageID int `json:"message_id"`
}

// envelope is a Bot API answer with the result decoded into R in the same pass.
type envelope[R any] struct {
	OK          bool   `json:"ok"`
	Result      R      `json:"result"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// rawJSON encodes params as JSON and posts them to method (see raw).
func (s *Sender) rawJSON(ctx context.Context, method string, params any, dest any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("%s: encode params: %w", method, err)
	}
	return s.raw(ctx, method, body, dest)
}

// raw posts a JSON body to method and decodes the result into dest (nil: ignore it). It goes
// around go-telegram/bot, whose every call builds a multipart form by reflection in a goroutine
// through a pipe and decodes the whole models.Message; that was half of the bot's CPU per
// update. Errors take go-telegram/bot's shapes (sentinels with the description,
// *TooManyRequestsError), so callers classify both paths alike; the token never appears in them.
func (s *Sender) raw(ctx context.Context, method string, body []byte, dest any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.baseURL+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", method, redact(err, s.baseURL))
	}
	req.Header["Content-Type"] = jsonContentType
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, redact(err, s.baseURL))
	}
	defer resp.Body.Close()
	in := getBuf()
	defer putBuf(in)
	in.B, err = readAll(in.B[:0], io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", method, err)
	}
	r := envelope[json.RawMessage]{}
	if a, ok := scanAnswer(in.B); ok && (a.OK || a.ErrorCode != 0) && (dest == nil || isMsg(dest)) {
		// The common answers, read without reflection.
		if m, ok := dest.(*msgResult); ok {
			m.MessageID = a.MessageID
		}
		r.OK, r.ErrorCode, r.Description, r.Parameters.RetryAfter = a.OK, a.ErrorCode, a.Description, a.RetryAfter
	} else {
		var typed error
		switch d := dest.(type) {
		case *msgResult:
			e := envelope[*msgResult]{Result: d}
			typed = json.Unmarshal(in.B, &e)
			r.OK, r.ErrorCode, r.Description, r.Parameters = e.OK, e.ErrorCode, e.Description, e.Parameters
		default:
			typed = json.Unmarshal(in.B, &r)
		}
		if typed != nil {
			var ute *json.UnmarshalTypeError
			if !errors.As(typed, &ute) || !r.OK {
				// A proxy's error page: its HTTP status says whether to retry.
				return &apiError{Method: method, Code: resp.StatusCode, Description: "answer is not Bot API JSON"}
			}
			// An edit of an inline message answers true instead of a Message: fine.
		}
	}
	if !r.OK {
		switch r.ErrorCode {
		case http.StatusTooManyRequests:
			return &tgbot.TooManyRequestsError{Message: fmt.Sprintf("%s, %s", tgbot.ErrorTooManyRequests, r.Description), RetryAfter: r.Parameters.RetryAfter}
		case http.StatusBadRequest:
			return fmt.Errorf("%s: %w, %s", method, tgbot.ErrorBadRequest, r.Description)
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: %w, %s", method, tgbot.ErrorUnauthorized, r.Description)
		case http.StatusForbidden:
			return fmt.Errorf("%s: %w, %s", method, tgbot.ErrorForbidden, r.Description)
		case http.StatusNotFound:
			return fmt.Errorf("%s: %w, %s", method, tgbot.ErrorNotFound, r.Description)
		case http.StatusConflict:
			return fmt.Errorf("%s: %w, %s", method, tgbot.ErrorConflict, r.Description)
		}
		return &apiError{Method: method, Code: r.ErrorCode, Description: r.Description}
	}
	if _, ok := dest.(*msgResult); !ok && dest != nil {
		if err := json.Unmarshal(r.Result, dest); err != nil {
			return fmt.Errorf("%s: decode result: %w", method, err)
		}
	}
	return nil
}

var jsonContentType = []string{"application/json"}

func isMsg(dest any) bool {
	_, ok := dest.(*msgResult)
	return ok
}

// readAll appends r to b, growing it as io.ReadAll would.
func readAll(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				return b, nil
			}
			return b, err
		}
	}
}

// redact removes the bot token from a url.Error's URL.
func redact(err error, baseURL string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = strings.Replace(ue.URL, baseURL, "<bot api>/", 1)
	}
	return err
}

type getUpdatesParams struct {
	Offset         int64    `json:"offset,omitempty"`
	Limit          int      `json:"limit,omitempty"`
	Timeout        int      `json:"timeout"`
	AllowedUpdates []string `json:"allowed_updates,omitempty"`
}

// GetUpdates long-polls for updates from offset (one call, no retries: the poller owns the
// backoff). timeout is rounded down to whole seconds.
func (s *Sender) GetUpdates(ctx context.Context, offset int64, limit int, timeout time.Duration, allowed []string) ([]models.Update, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout+s.o.CallTimeout)
	defer cancel()
	var out []models.Update
	err := s.rawJSON(cctx, "getUpdates", getUpdatesParams{Offset: offset, Limit: limit, Timeout: int(timeout / time.Second), AllowedUpdates: allowed}, &out)
	if err != nil {
		return nil, err
	}
	return out, nil
}
