// Package sandbox is the local stand-in for the Telegram app: a web page at / that looks and
// behaves like a Telegram chat (text input, commands, inline keyboards, edited messages,
// callback answers), for several simulated parents and a staff member.
//
// It is not a second bot. The page only puts updates into the fake Bot API
// (bot/telegramtest) and reads back what the real bot called on it, exactly as Telegram would
// see it; everything in between is the production intake, flows and stores.
package sandbox

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
)

//go:embed static
var static embed.FS

// Persona is a simulated Telegram user talking to the bot in a private chat (chat id = user id).
type Persona struct {
	ChatID int64  `json:"chat_id"`
	Name   string `json:"name"`
	Role   string `json:"role"` // parent | staff
	Lang   string `json:"lang"` // Telegram language_code
	Note   string `json:"note"` // what the demo data holds for this persona
	// Device is "phone" for a persona on a phone: the page draws the chat phone-sized and
	// opens links in a phone-sized window, where the signing page offers eGov mobile first.
	Device string `json:"device,omitempty"`
}

// Event is one thing the page draws in a chat.
type Event struct {
	Seq       int             `json:"seq"`
	Kind      string          `json:"kind"` // user | message | edit | delete | answer | press
	MessageID int             `json:"message_id,omitempty"`
	Text      string          `json:"text,omitempty"`
	ParseMode string          `json:"parse_mode,omitempty"`
	Keyboard  json.RawMessage `json:"keyboard,omitempty"`
	Alert     bool            `json:"alert,omitempty"`
	At        time.Time       `json:"at"`
}

// UI serves the page and keeps one transcript per persona.
type UI struct {
	api      *telegramtest.Handler
	personas []Persona
	log      *slog.Logger

	mu        sync.Mutex
	changed   chan struct{}
	chats     map[int64][]Event
	callbacks map[string]int64 // callback_query_id → chat, to place answers
	nextSeq   int
	nextMsg   int
	nextCB    int
}

// New returns the sandbox page for personas, driving api. Call Run to follow the bot's calls.
func New(api *telegramtest.Handler, personas []Persona, log *slog.Logger) *UI {
	return &UI{
		api: api, personas: personas, log: log,
		changed:   make(chan struct{}),
		chats:     make(map[int64][]Event),
		callbacks: make(map[string]int64),
		nextMsg:   1,
	}
}

// Run copies the bot's calls into the transcripts until ctx is done.
func (u *UI) Run(ctx context.Context) error {
	next := 0
	for {
		calls := u.api.CallsSince(next)
		if len(calls) == 0 {
			want := next
			if _, err := u.api.WaitFor(ctx, func(c telegramtest.Call) bool { return c.Seq >= want }); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("follow bot api calls: %w", err)
			}
			continue
		}
		for _, c := range calls {
			u.record(c)
			next = c.Seq + 1
		}
	}
}

func (u *UI) record(c telegramtest.Call) {
	if c.Failed() {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	p := c.Params
	ev := Event{At: c.At, Text: p["text"], ParseMode: p["parse_mode"]}
	if m := p["reply_markup"]; m != "" && json.Valid([]byte(m)) {
		ev.Keyboard = json.RawMessage(m)
	}
	chat := c.ChatID()
	switch c.Method {
	case "sendMessage":
		ev.Kind, ev.MessageID = "message", c.MessageID()
	case "editMessageText", "editMessageReplyMarkup":
		ev.Kind = "edit"
		ev.MessageID, _ = strconv.Atoi(p["message_id"])
		if c.Method == "editMessageReplyMarkup" {
			ev.Kind = "markup"
		}
	case "deleteMessage":
		ev.Kind = "delete"
		ev.MessageID, _ = strconv.Atoi(p["message_id"])
	case "answerCallbackQuery":
		chat = u.callbacks[p["callback_query_id"]]
		delete(u.callbacks, p["callback_query_id"])
		if p["text"] == "" {
			return
		}
		ev.Kind, ev.Alert = "answer", p["show_alert"] == "true"
	default:
		return
	}
	if chat == 0 {
		return
	}
	u.appendLocked(chat, ev)
}

func (u *UI) appendLocked(chat int64, ev Event) {
	u.nextSeq++
	ev.Seq = u.nextSeq
	u.chats[chat] = append(u.chats[chat], ev)
	close(u.changed)
	u.changed = make(chan struct{})
}

func (u *UI) persona(chat int64) (Persona, bool) {
	for _, p := range u.personas {
		if p.ChatID == chat {
			return p, true
		}
	}
	return Persona{}, false
}

// ServeHTTP serves the page, its static files and the page's small JSON API.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		u.serveStatic(w, r, "index.html")
	case strings.HasPrefix(r.URL.Path, "/sandbox/static/") && r.Method == http.MethodGet:
		u.serveStatic(w, r, strings.TrimPrefix(r.URL.Path, "/sandbox/static/"))
	case r.URL.Path == "/sandbox/api/personas" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, u.personas)
	case r.URL.Path == "/sandbox/api/events" && r.Method == http.MethodGet:
		u.events(w, r)
	case r.URL.Path == "/sandbox/api/send" && r.Method == http.MethodPost:
		u.send(w, r)
	case r.URL.Path == "/sandbox/api/press" && r.Method == http.MethodPost:
		u.press(w, r)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
	}
}

func (u *UI) serveStatic(w http.ResponseWriter, r *http.Request, name string) {
	sub, _ := fs.Sub(static, "static")
	if name == "" || strings.Contains(name, "..") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, sub, name)
}

// events answers the transcript of one chat after seq since, waiting up to 25 s for news so
// the page can long-poll.
func (u *UI) events(w http.ResponseWriter, r *http.Request) {
	chat, err := strconv.ParseInt(r.URL.Query().Get("chat"), 10, 64)
	if _, ok := u.persona(chat); err != nil || !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown chat"})
		return
	}
	since, _ := strconv.Atoi(r.URL.Query().Get("since"))
	wait := 25 * time.Second
	if r.URL.Query().Get("wait") == "0" {
		wait = 0
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		u.mu.Lock()
		var out []Event
		for _, ev := range u.chats[chat] {
			if ev.Seq > since {
				out = append(out, ev)
			}
		}
		ch := u.changed
		u.mu.Unlock()
		if len(out) > 0 || wait == 0 {
			writeJSON(w, http.StatusOK, map[string]any{"events": out})
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			writeJSON(w, http.StatusOK, map[string]any{"events": []Event{}})
			return
		case <-r.Context().Done():
			return
		}
	}
}

type sendReq struct {
	Chat int64  `json:"chat"`
	Text string `json:"text"`
}

// maxText is Telegram's limit for one message.
const maxText = 4096

func (u *UI) send(w http.ResponseWriter, r *http.Request) {
	var req sendReq
	p, err := u.decode(w, r, &req)
	if err != nil {
		return
	}
	req.Text = strings.TrimSpace(req.Text)
	if req.Text == "" || !utf8.ValidString(req.Text) || utf8.RuneCountInString(req.Text) > maxText {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "text must be 1-4096 characters"})
		return
	}
	u.mu.Lock()
	msgID := u.nextMsg
	u.nextMsg++
	u.appendLocked(p.ChatID, Event{Kind: "user", Text: req.Text, At: time.Now()})
	u.mu.Unlock()
	msg := &models.Message{
		ID:   msgID,
		From: &models.User{ID: p.ChatID, FirstName: p.Name, LanguageCode: p.Lang},
		Chat: models.Chat{ID: p.ChatID, Type: models.ChatTypePrivate, FirstName: p.Name},
		Date: int(time.Now().Unix()),
		Text: req.Text,
	}
	if strings.HasPrefix(req.Text, "/") {
		cmd, _, _ := strings.Cut(req.Text, " ")
		msg.Entities = []models.MessageEntity{{Type: models.MessageEntityTypeBotCommand, Offset: 0, Length: utf16Len(cmd)}}
	}
	id := u.api.EnqueueUpdate(models.Update{Message: msg})
	writeJSON(w, http.StatusOK, map[string]any{"update_id": id})
}

type pressReq struct {
	Chat      int64  `json:"chat"`
	MessageID int    `json:"message_id"`
	Data      string `json:"data"`
}

func (u *UI) press(w http.ResponseWriter, r *http.Request) {
	var req pressReq
	p, err := u.decode(w, r, &req)
	if err != nil {
		return
	}
	if req.Data == "" || len(req.Data) > 64 || req.MessageID <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "data must be 1-64 bytes and message_id set"})
		return
	}
	u.mu.Lock()
	u.nextCB++
	cbID := fmt.Sprintf("sandbox-%d-%d", p.ChatID, u.nextCB)
	u.callbacks[cbID] = p.ChatID
	u.mu.Unlock()
	text, _ := u.api.MessageText(p.ChatID, req.MessageID)
	upd := models.Update{CallbackQuery: &models.CallbackQuery{
		ID:           cbID,
		From:         models.User{ID: p.ChatID, FirstName: p.Name, LanguageCode: p.Lang},
		ChatInstance: strconv.FormatInt(p.ChatID, 10),
		Data:         req.Data,
		Message: models.MaybeInaccessibleMessage{
			Type: models.MaybeInaccessibleMessageTypeMessage,
			Message: &models.Message{
				ID:   req.MessageID,
				Chat: models.Chat{ID: p.ChatID, Type: models.ChatTypePrivate, FirstName: p.Name},
				Date: int(time.Now().Unix()),
				Text: text,
			},
		},
	}}
	id := u.api.EnqueueUpdate(upd)
	writeJSON(w, http.StatusOK, map[string]any{"update_id": id})
}

// decode reads a small JSON body and finds the persona it names. It answers the request
// itself on error.
func (u *UI) decode(w http.ResponseWriter, r *http.Request, dst any) (Persona, error) {
	// The page posts JSON from its own origin; a cross-site form cannot set this type.
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "want application/json"})
		return Persona{}, errors.New("content type")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 32<<10)
	if err := json.NewDecoder(r.Body).Decode(dst); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON"})
		return Persona{}, err
	}
	var chat int64
	switch v := dst.(type) {
	case *sendReq:
		chat = v.Chat
	case *pressReq:
		chat = v.Chat
	}
	p, ok := u.persona(chat)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown chat"})
		return Persona{}, errors.New("unknown chat")
	}
	return p, nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
