package bot

import (
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
)

// Request bodies of the hot methods, written by hand: encoding/json spends most of its time on
// reflection here, and it writes "copy_text":{"text":""} into every button (CopyTextButton is
// a struct field with omitempty, which never omits a struct).

type byteBuf struct{ B []byte }

var bufPool = sync.Pool{New: func() any { return &byteBuf{B: make([]byte, 0, 2048)} }}

func getBuf() *byteBuf { return bufPool.Get().(*byteBuf) }

func putBuf(b *byteBuf) {
	if cap(b.B) <= 64<<10 { // don't keep a rare huge buffer alive
		bufPool.Put(b)
	}
}

// appendSendMessage writes sendMessage's body, or editMessageText's when msgID is not 0.
func appendSendMessage(b []byte, chatID int64, msgID int, m Message) []byte {
	b = append(b, `{"chat_id":`...)
	b = strconv.AppendInt(b, chatID, 10)
	if msgID != 0 {
		b = append(b, `,"message_id":`...)
		b = strconv.AppendInt(b, int64(msgID), 10)
	}
	b = append(b, `,"text":`...)
	b = appendString(b, m.Text)
	if m.ParseMode != "" {
		b = append(b, `,"parse_mode":`...)
		b = appendString(b, m.ParseMode)
	}
	if m.Keyboard != nil {
		b = append(b, `,"reply_markup":`...)
		b = appendKeyboard(b, m.Keyboard)
	}
	return append(b, '}')
}

func appendAnswer(b []byte, queryID, text string, alert bool) []byte {
	b = append(b, `{"callback_query_id":`...)
	b = appendString(b, queryID)
	if text != "" {
		b = append(b, `,"text":`...)
		b = appendString(b, text)
	}
	if alert {
		b = append(b, `,"show_alert":true`...)
	}
	return append(b, '}')
}

func appendKeyboard(b []byte, kb *models.InlineKeyboardMarkup) []byte {
	b = append(b, `{"inline_keyboard":[`...)
	for i, row := range kb.InlineKeyboard {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j := range row {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendButton(b, &row[j])
		}
		b = append(b, ']')
	}
	return append(b, "]}"...)
}

func appendButton(b []byte, k *models.InlineKeyboardButton) []byte {
	b = append(b, `{"text":`...)
	b = appendString(b, k.Text)
	str := func(name, v string) {
		if v != "" {
			b = append(b, ',', '"')
			b = append(b, name...)
			b = append(b, '"', ':')
			b = appendString(b, v)
		}
	}
	obj := func(name string, v any) {
		raw, err := json.Marshal(v)
		if err != nil {
			return
		}
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = append(b, raw...)
	}
	str("icon_custom_emoji_id", k.IconCustomEmojiID)
	str("style", k.Style)
	str("url", k.URL)
	str("callback_data", k.CallbackData)
	if k.WebApp != nil {
		obj("web_app", k.WebApp)
	}
	if k.LoginURL != nil {
		obj("login_url", k.LoginURL)
	}
	str("switch_inline_query", k.SwitchInlineQuery)
	str("switch_inline_query_current_chat", k.SwitchInlineQueryCurrentChat)
	if k.SwitchInlineQueryChosenChat != nil {
		obj("switch_inline_query_chosen_chat", k.SwitchInlineQueryChosenChat)
	}
	if k.CopyText.Text != "" {
		obj("copy_text", k.CopyText)
	}
	if k.CallbackGame != nil {
		obj("callback_game", k.CallbackGame)
	}
	if k.Pay {
		b = append(b, `,"pay":true`...)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way encoding/json does: invalid UTF-8 becomes
// U+FFFD, control characters are escaped, and so are <, >, & and U+2028/U+2029.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
