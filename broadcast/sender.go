package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// Message is one outgoing text message. Text is plain: no parse mode, so a staff member's
// asterisks and angle brackets reach parents as typed and cannot break the message.
type Message struct {
	ChatID  int64
	Text    string
	Buttons [][]Button
	// Paid sends with allow_paid_broadcast, which lifts the bulk limit to 1000 messages/s for a
	// fee in Telegram Stars.
	Paid bool
}

// Button is an inline button: exactly one of Data (callback data, ≤ 64 bytes) and URL.
type Button struct {
	Text string `json:"text"`
	Data string `json:"data,omitempty"`
	URL  string `json:"url,omitempty"`
}

// Sender sends and edits messages. Errors must keep the Bot API's meaning reachable through
// errors.As/errors.Is or the description text, for Classify.
type Sender interface {
	Send(ctx context.Context, m Message) (messageID int, err error)
	Edit(ctx context.Context, chatID int64, messageID int, text string, buttons [][]Button) error
}

// TelegramSender sends through go-telegram/bot. It is the thin adapter this package needs
// until bot/ offers a Sender with the same two methods; it deliberately does not retry or
// sleep on 429, because the engine pauses every replica through the shared pacer instead.
type TelegramSender struct{ B *tgbot.Bot }

// keyboard is the reply_markup of a message with buttons. It is not a
// models.InlineKeyboardMarkup: encoding/json writes every button of that as
// {"text":…,"callback_data":…,"copy_text":{"text":""}} (CopyText is a struct, which omitempty
// never drops), a button of two types that Telegram refuses (BUTTON_COPY_TEXT_INVALID). This
// one writes exactly the fields a Button uses.
func keyboard(rows [][]Button) models.ReplyMarkup {
	if len(rows) == 0 {
		return nil
	}
	return inlineKeyboard(rows)
}

type inlineKeyboard [][]Button

// MarshalJSON writes {"inline_keyboard":[[{"text":…,"callback_data"|"url":…}]]}.
func (kb inlineKeyboard) MarshalJSON() ([]byte, error) {
	type wireButton struct {
		Text         string `json:"text"`
		CallbackData string `json:"callback_data,omitempty"`
		URL          string `json:"url,omitempty"`
	}
	rows := make([][]wireButton, len(kb))
	for i, row := range kb {
		rows[i] = make([]wireButton, len(row))
		for j, b := range row {
			rows[i][j] = wireButton{Text: b.Text, CallbackData: b.Data, URL: b.URL}
		}
	}
	return json.Marshal(struct {
		InlineKeyboard [][]wireButton `json:"inline_keyboard"`
	}{rows})
}

var noPreview = &models.LinkPreviewOptions{IsDisabled: tgbot.True()}

// Send implements Sender.
func (s TelegramSender) Send(ctx context.Context, m Message) (int, error) {
	msg, err := s.B.SendMessage(ctx, &tgbot.SendMessageParams{
		ChatID: m.ChatID, Text: m.Text, ReplyMarkup: keyboard(m.Buttons),
		AllowPaidBroadcast: m.Paid, LinkPreviewOptions: noPreview,
	})
	if err != nil {
		return 0, err
	}
	return msg.ID, nil
}

// Edit implements Sender.
func (s TelegramSender) Edit(ctx context.Context, chatID int64, messageID int, text string, buttons [][]Button) error {
	_, err := s.B.EditMessageText(ctx, &tgbot.EditMessageTextParams{
		ChatID: chatID, MessageID: messageID, Text: text, ReplyMarkup: keyboard(buttons), LinkPreviewOptions: noPreview,
	})
	return err
}

// Class is what an error from the Bot API means for a delivery.
type Class uint8

const (
	// Transient: a network failure, a 5xx, a timeout; retry with backoff, up to a cap.
	Transient Class = iota
	// Flood: 429; pause every sender for RetryAfter, then retry the same message.
	Flood
	// Unreachable: the chat cannot receive messages (blocked, deactivated, kicked, not found);
	// mark it and never try again until it writes to the bot.
	Unreachable
	// Permanent: the request itself is wrong (400 other than chat not found); retrying
	// would fail the same way.
	Permanent
	// Fatal: the bot's token is wrong (401) or the bot is misconfigured; nothing can be sent,
	// so stop for a while without spending attempts.
	Fatal
	// NotModified: an edit to identical content; it is done already.
	NotModified
)

// Classified is an error's meaning: the class, for Flood the wait, for Unreachable the reason
// (blocked, deactivated, kicked, not_found).
type Classified struct {
	Class      Class
	RetryAfter time.Duration
	Reason     string
}

// retryAfterer is how other senders (bot/'s Sender) can expose a 429 wait.
type retryAfterer interface{ RetryAfter() time.Duration }

// Classify reads an error from a Sender. It understands go-telegram/bot's errors
// (TooManyRequestsError, ErrorForbidden, ErrorBadRequest, …) and, for any other sender,
// Telegram's description text, which is the only place the causes of a 400 or 403 differ.
func Classify(err error) Classified {
	if err == nil {
		return Classified{}
	}
	var tm *tgbot.TooManyRequestsError
	if errors.As(err, &tm) {
		return Classified{Class: Flood, RetryAfter: time.Duration(max(tm.RetryAfter, 1)) * time.Second}
	}
	var ra retryAfterer
	if errors.As(err, &ra) {
		return Classified{Class: Flood, RetryAfter: max(ra.RetryAfter(), time.Second)}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Classified{Class: Transient}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return Classified{Class: Transient}
	}
	d := strings.ToLower(err.Error())
	switch {
	case strings.Contains(d, "too many requests"):
		return Classified{Class: Flood, RetryAfter: time.Second}
	case strings.Contains(d, "bot was blocked by the user"), strings.Contains(d, "bot can't initiate conversation"):
		return Classified{Class: Unreachable, Reason: "blocked"}
	case strings.Contains(d, "user is deactivated"):
		return Classified{Class: Unreachable, Reason: "deactivated"}
	case strings.Contains(d, "bot was kicked"), strings.Contains(d, "not a member of the"):
		return Classified{Class: Unreachable, Reason: "kicked"}
	case strings.Contains(d, "chat not found"), strings.Contains(d, "user not found"):
		return Classified{Class: Unreachable, Reason: "not_found"}
	case strings.Contains(d, "message is not modified"):
		return Classified{Class: NotModified}
	}
	switch {
	case errors.Is(err, tgbot.ErrorUnauthorized), strings.Contains(d, "unauthorized"):
		return Classified{Class: Fatal}
	case errors.Is(err, tgbot.ErrorForbidden), strings.Contains(d, "forbidden"):
		return Classified{Class: Unreachable, Reason: "blocked"}
	case errors.Is(err, tgbot.ErrorBadRequest), strings.Contains(d, "bad request"):
		return Classified{Class: Permanent}
	}
	return Classified{Class: Transient}
}

// describe is the error text kept on a failed row: the Bot API's description, cut short.
// Descriptions name no person; the message text is never part of an error.
func describe(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
