package bot

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
)

// fastDecodeUpdate decodes the common webhook updates (a private message with text, a button
// press on a bot message, an edited message) without reflection. It takes only JSON it fully
// understands: every key must be one it knows, spelled exactly, seen once, with a value of the
// right JSON type (no nulls); anything else, however valid, makes it give up (ok=false) and the
// caller falls back to encoding/json. What it does accept decodes to exactly what json.Unmarshal
// into models.Update gives (FuzzFastDecodeUpdate holds it to that).
func fastDecodeUpdate(b []byte) (*models.Update, bool) {
	d := updDecoder{scanner{b: b}}
	u := new(models.Update)
	if !d.update(u) {
		return nil, false
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, false
	}
	return u, true
}

type updDecoder struct{ scanner }

// once marks bit in seen and reports whether it was clear: a repeated key is left to
// encoding/json (it merges repeated objects).
func once(seen *uint32, bit uint32) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

func (d *updDecoder) update(u *models.Update) bool {
	var seen uint32
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "update_id":
			v, ok := d.int64()
			u.ID = v
			return ok && once(&seen, 1)
		case "message":
			u.Message = new(models.Message)
			return once(&seen, 2) && d.message(u.Message)
		case "edited_message":
			u.EditedMessage = new(models.Message)
			return once(&seen, 4) && d.message(u.EditedMessage)
		case "callback_query":
			u.CallbackQuery = new(models.CallbackQuery)
			return once(&seen, 8) && d.callback(u.CallbackQuery)
		}
		return false
	})
}

func (d *updDecoder) message(m *models.Message) bool {
	var seen uint32
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "message_id":
			v, ok := d.intN()
			m.ID = v
			return ok && once(&seen, 1)
		case "from":
			m.From = new(models.User)
			return once(&seen, 2) && d.user(m.From)
		case "chat":
			return once(&seen, 4) && d.chat(&m.Chat)
		case "date":
			v, ok := d.intN()
			m.Date = v
			return ok && once(&seen, 8)
		case "edit_date":
			v, ok := d.intN()
			m.EditDate = v
			return ok && once(&seen, 16)
		case "text":
			v, ok := d.str()
			m.Text = v
			return ok && once(&seen, 32)
		case "entities":
			if !once(&seen, 64) {
				return false
			}
			m.Entities = make([]models.MessageEntity, 0, 1)
			return d.array(func() bool {
				m.Entities = append(m.Entities, models.MessageEntity{})
				return d.entity(&m.Entities[len(m.Entities)-1])
			})
		case "reply_markup":
			m.ReplyMarkup = new(models.InlineKeyboardMarkup)
			return once(&seen, 128) && d.keyboard(m.ReplyMarkup)
		}
		return false
	})
}

func (d *updDecoder) user(u *models.User) bool {
	var seen uint32
	return d.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "id":
			u.ID, ok = d.int64()
			return ok && once(&seen, 1)
		case "is_bot":
			u.IsBot, ok = d.boolean()
			return ok && once(&seen, 2)
		case "first_name":
			u.FirstName, ok = d.str()
			return ok && once(&seen, 4)
		case "last_name":
			u.LastName, ok = d.str()
			return ok && once(&seen, 8)
		case "username":
			u.Username, ok = d.str()
			return ok && once(&seen, 16)
		case "language_code":
			u.LanguageCode, ok = d.str()
			return ok && once(&seen, 32)
		case "is_premium":
			u.IsPremium, ok = d.boolean()
			return ok && once(&seen, 64)
		}
		return false
	})
}

func (d *updDecoder) chat(c *models.Chat) bool {
	var seen uint32
	return d.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "id":
			c.ID, ok = d.int64()
			return ok && once(&seen, 1)
		case "type":
			var t string
			t, ok = d.str()
			c.Type = models.ChatType(t)
			return ok && once(&seen, 2)
		case "title":
			c.Title, ok = d.str()
			return ok && once(&seen, 4)
		case "username":
			c.Username, ok = d.str()
			return ok && once(&seen, 8)
		case "first_name":
			c.FirstName, ok = d.str()
			return ok && once(&seen, 16)
		case "last_name":
			c.LastName, ok = d.str()
			return ok && once(&seen, 32)
		}
		return false
	})
}

func (d *updDecoder) entity(e *models.MessageEntity) bool {
	var seen uint32
	return d.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "type":
			var t string
			t, ok = d.str()
			e.Type = models.MessageEntityType(t)
			return ok && once(&seen, 1)
		case "offset":
			e.Offset, ok = d.intN()
			return ok && once(&seen, 2)
		case "length":
			e.Length, ok = d.intN()
			return ok && once(&seen, 4)
		}
		return false
	})
}

func (d *updDecoder) callback(cq *models.CallbackQuery) bool {
	var seen uint32
	return d.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "id":
			cq.ID, ok = d.str()
			return ok && once(&seen, 1)
		case "from":
			return once(&seen, 2) && d.user(&cq.From)
		case "message":
			// MaybeInaccessibleMessage decides by date; an inaccessible one (date 0) is rare
			// enough to leave to encoding/json.
			m := new(models.Message)
			if !once(&seen, 4) || !d.message(m) || m.Date == 0 {
				return false
			}
			cq.Message = models.MaybeInaccessibleMessage{Type: models.MaybeInaccessibleMessageTypeMessage, Message: m}
			return true
		case "inline_message_id":
			cq.InlineMessageID, ok = d.str()
			return ok && once(&seen, 8)
		case "chat_instance":
			cq.ChatInstance, ok = d.str()
			return ok && once(&seen, 16)
		case "data":
			cq.Data, ok = d.str()
			return ok && once(&seen, 32)
		}
		return false
	})
}

func (d *updDecoder) keyboard(kb *models.InlineKeyboardMarkup) bool {
	var seen uint32
	return d.object(func(key []byte) bool {
		if string(key) != "inline_keyboard" || !once(&seen, 1) {
			return false
		}
		kb.InlineKeyboard = make([][]models.InlineKeyboardButton, 0, 4)
		return d.array(func() bool {
			row := make([]models.InlineKeyboardButton, 0, 2)
			ok := d.array(func() bool {
				row = append(row, models.InlineKeyboardButton{})
				return d.button(&row[len(row)-1])
			})
			kb.InlineKeyboard = append(kb.InlineKeyboard, row)
			return ok
		})
	})
}

func (d *updDecoder) button(k *models.InlineKeyboardButton) bool {
	var seen uint32
	return d.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "text":
			k.Text, ok = d.str()
			return ok && once(&seen, 1)
		case "callback_data":
			k.CallbackData, ok = d.str()
			return ok && once(&seen, 2)
		case "url":
			k.URL, ok = d.str()
			return ok && once(&seen, 4)
		}
		return false
	})
}

// int64 reads a plain integer of at most 18 digits (so it cannot overflow); anything else
// (fractions, exponents, longer numbers) fails.
func (s *scanner) int64() (int64, bool) {
	s.ws()
	neg := false
	if s.i < len(s.b) && s.b[s.i] == '-' {
		neg = true
		s.i++
	}
	start := s.i
	var n int64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	if d := s.i - start; d == 0 || d > 18 || (s.b[start] == '0' && d > 1) {
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

func (s *scanner) intN() (int, bool) {
	v, ok := s.int64()
	return int(v), ok
}

// str reads a JSON string as encoding/json decodes it: escapes resolved, invalid UTF-8 and
// unpaired surrogates replaced by U+FFFD.
func (s *scanner) str() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			return string(s.b[start:j]), true
		case c == '\\' || c < 0x20:
			return s.strSlow(start)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s.b[j:])
			if r == utf8.RuneError && size == 1 {
				return s.strSlow(start)
			}
			j += size - 1
		}
	}
	return "", false
}

// strSlow is encoding/json's unquote from start (just after the opening quote).
func (s *scanner) strSlow(start int) (string, bool) {
	out := make([]byte, 0, 64)
	for r := start; r < len(s.b); {
		c := s.b[r]
		switch {
		case c == '"':
			s.i = r + 1
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if r+1 >= len(s.b) {
				return "", false
			}
			switch e := s.b[r+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				rr := getu4(s.b[r:])
				if rr < 0 {
					return "", false
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s.b[r:])); dec != unicode.ReplacementChar {
						r += 6
						out = utf8.AppendRune(out, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, rr)
				continue
			default:
				return "", false
			}
			r += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s.b[r:])
			r += size
			out = utf8.AppendRune(out, rr)
		}
	}
	return "", false
}

// getu4 decodes \uXXXX at the start of b, or returns -1.
func getu4(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
