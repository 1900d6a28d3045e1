package signerlink

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
)

// Bind phishing (issue 17): an attacker asks for a bind link in his own chat and sends it to a
// parent; she signs with her own key and her IIN lands in his chat. Three controls here:
//
//   - the page and the signed document name the Telegram account being bound (name,
//     @username and the last 4 digits of the chat id, as Telegram reports them when the link
//     is issued), and the page warns in plain words not to sign a link someone else sent;
//   - a second chat for an IIN that is bound already is refused (the store's
//     kezekbot.ErrBoundElsewhere): a parent who uses the bot cannot be taken over;
//   - the chats bound to that IIN are told at once which account tried, so the parent learns
//     that her signature was asked for by someone else.

// Account is a Telegram account as the bot knows it.
type Account struct {
	FirstName, LastName, Username string
}

// AccountLookup returns the Telegram account of a private chat (the binary asks the Bot API's
// getChat). Optional: without it the page names the chat by its digits only.
type AccountLookup interface {
	Account(ctx context.Context, chatID int64) (Account, error)
}

// BindAlerter tells every chat bound to iin a text (the binary sends a Telegram message to
// each). Optional: without it no one is told.
type BindAlerter interface {
	AlertChatsOf(ctx context.Context, iin kezekbot.IIN, text string) error
}

// lookupTimeout bounds the getChat call made while issuing a bind link.
const lookupTimeout = 3 * time.Second

// maxNameRunes caps a name shown on the page and put into the document: Telegram allows 64
// characters per name, so this only guards against a misbehaving API.
const maxNameRunes = 64

// account looks up the chat's account; a failure is logged and leaves the name empty (the
// chat's digits still identify it).
func (s *Service) account(ctx context.Context, chatID int64) Account {
	if s.accounts == nil {
		return Account{}
	}
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	a, err := s.accounts.Account(lctx, chatID)
	if err != nil {
		s.log.WarnContext(ctx, "look up the Telegram account of a bind link", slog.Int64("chat_id", chatID), slog.Any("err", err))
		return Account{}
	}
	return Account{FirstName: cleanName(a.FirstName), LastName: cleanName(a.LastName), Username: cleanUsername(a.Username)}
}

// cleanName drops control and invisible format characters (a right-to-left override could
// make a name read as something else) and caps the length.
func cleanName(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		if n == maxNameRunes {
			b.WriteRune('…')
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// cleanUsername keeps a Telegram username only when it has Telegram's shape (5-32 of
// A-Z a-z 0-9 _).
func cleanUsername(s string) string {
	if len(s) < 5 || len(s) > 32 {
		return ""
	}
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return ""
		}
	}
	return s
}

// chatTail is the last 4 digits of a chat id: enough for a parent to compare with her own
// (Telegram shows it in some clients and bots), too little to address the chat.
func chatTail(chatID int64) string {
	d := strconv.FormatInt(chatID, 10)
	d = strings.TrimPrefix(d, "-")
	if len(d) > 4 {
		d = d[len(d)-4:]
	}
	return "…" + d
}

// accountLabel is how the page, the document and the alert name the account being bound:
// "Name Surname (@username), chat …1234"; parts Telegram did not give are left out.
func accountLabel(lang flows.Lang, name, username string, chatID int64) string {
	var parts []string
	if name != "" {
		parts = append(parts, name)
	}
	if username != "" {
		parts = append(parts, "@"+username)
	}
	who := strings.Join(parts, " ")
	if who == "" {
		who = t(lang, "account.unknown")
	}
	return t(lang, "account.label", "who", who, "chat", chatTail(chatID))
}

func (a Account) name() string { return strings.TrimSpace(a.FirstName + " " + a.LastName) }

// alertBoundElsewhere tells the chats bound to iin that the chat of rec tried to bind it and
// was refused; in both languages, since a bound chat's language is not known here.
func (s *Service) alertBoundElsewhere(ctx context.Context, rec *record, iin kezekbot.IIN) {
	if s.alerts == nil {
		return
	}
	var parts []string
	for _, lang := range []flows.Lang{flows.Kazakh, flows.Russian} {
		parts = append(parts, t(lang, "alert.bind_refused", "account", accountLabel(lang, rec.TgName, rec.TgUser, rec.ChatID)))
	}
	if err := s.alerts.AlertChatsOf(ctx, iin, strings.Join(parts, "\n\n")); err != nil {
		s.log.ErrorContext(ctx, "alert the chats of an IIN about a refused binding", slog.Any("err", err))
	}
}
