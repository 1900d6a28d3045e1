package bot

import (
	"bytes"
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

// answer is the part of a Bot API answer the Sender reads.
type answer struct {
	OK          bool
	ErrorCode   int
	Description string
	RetryAfter  int
	MessageID   int
}

// scanAnswer reads an answer without reflection: the envelope's fields, and message_id when
// the result is an object. It fails (ok=false) on anything unusual (escapes in the description,
// odd numbers, invalid JSON); the caller then falls back to encoding/json.
func scanAnswer(b []byte) (a answer, ok bool) {
	s := scanner{b: b}
	ok = s.object(func(key []byte) bool {
		switch k := s.known(key, "ok", "error_code", "description", "parameters", "result"); k {
		case "ok":
			v, ok := s.boolean()
			a.OK = v
			return ok
		case "error_code":
			v, ok := s.int()
			a.ErrorCode = v
			return ok
		case "description":
			v, ok := s.plainString()
			a.Description = string(v)
			return ok && utf8.Valid(v) // encoding/json would replace bad bytes
		case "parameters", "result":
			// A repeated key replaces the earlier value, as in encoding/json.
			if k == "result" {
				a.MessageID = 0
			} else {
				a.RetryAfter = 0
			}
			if s.peek() != '{' {
				return s.peek() != 0 && k == "result" && s.skip()
			}
			want := "message_id"
			if k == "parameters" {
				want = "retry_after"
			}
			return s.object(func(key []byte) bool {
				switch s.known(key, want) {
				case "":
					return s.skip()
				case "message_id":
					v, ok := s.int()
					a.MessageID = v
					return ok
				default:
					v, ok := s.int()
					a.RetryAfter = v
					return ok
				}
			})
		case "":
			return s.skip()
		}
		return false // a known key in another case: leave it to encoding/json
	})
	s.ws()
	return a, ok && s.i == len(s.b)
}

// scanner is a minimal JSON reader over b: enough to walk objects and skip values.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// known returns the name key equals, "" for an unknown key, or "?" for a key that equals a
// name only without regard to case (encoding/json would take it; the scanner gives up).
func (s *scanner) known(key []byte, names ...string) string {
	for _, n := range names {
		if string(key) == n {
			return n
		}
	}
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return "?"
		}
	}
	return ""
}

// object walks {"key": value, ...}, calling field at each value; field must consume it.
func (s *scanner) object(field func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		key, ok := s.plainString()
		if !ok || s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if !field(key) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// plainString reads a string without escapes (keys, Telegram's descriptions); a string with
// an escape or a control character fails, which sends the caller to encoding/json.
func (s *scanner) plainString() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func (s *scanner) boolean() (bool, bool) {
	s.ws()
	switch {
	case s.lit("true"):
		return true, true
	case s.lit("false"):
		return false, true
	}
	return false, false
}

// int reads a plain integer (no fraction or exponent) that fits in 32 bits.
func (s *scanner) int() (int, bool) {
	s.ws()
	neg := false
	if s.i < len(s.b) && s.b[s.i] == '-' {
		neg = true
		s.i++
	}
	start, n := s.i, 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
		if s.i-start > 9 {
			return 0, false
		}
	}
	if s.i == start || (s.b[start] == '0' && s.i-start > 1) {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// array walks [v, ...], calling elem at each value; elem must consume it.
func (s *scanner) array(elem func() bool) bool {
	if s.peek() != '[' {
		return false
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// skip consumes any JSON value, checking its structure enough to stay in step.
func (s *scanner) skip() bool {
	switch c := s.peek(); {
	case c == '{':
		return s.object(func([]byte) bool { return s.skip() })
	case c == '[':
		return s.array(s.skip)
	case c == '"':
		return s.skipString()
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.skipNumber()
	}
	return false
}

func (s *scanner) skipString() bool {
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			j++
			if j >= len(s.b) {
				return false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[j+1 : j+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		}
	}
	return false
}

// skipNumber consumes a number as JSON defines it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) skipNumber() bool {
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
