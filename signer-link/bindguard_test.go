package signerlink_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	signerlink "github.com/kezekbot/kezekbot/signer-link"
)

type accounts map[int64]signerlink.Account

func (a accounts) Account(_ context.Context, chatID int64) (signerlink.Account, error) {
	acct, ok := a[chatID]
	if !ok {
		return signerlink.Account{}, errors.New("chat not found")
	}
	return acct, nil
}

type alerts struct {
	mu   sync.Mutex
	sent map[string][]string // IIN digits → texts
}

func (a *alerts) AlertChatsOf(_ context.Context, iin kezekbot.IIN, text string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent[iin.Digits()] = append(a.sent[iin.Digits()], text)
	return nil
}

func (a *alerts) of(iin kezekbot.IIN) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sent[iin.Digits()]
}

func tail4(chatID int64) string {
	s := strconv.FormatInt(chatID, 10)
	return "…" + s[len(s)-4:]
}

// TestBindNamesTheAccount: before anything is signed, the bind page names the Telegram
// account that will be bound and warns, in the parent's language, not to sign a link someone
// else sent; the document she signs (and the evidence kept) names it too.
func TestBindNamesTheAccount(t *testing.T) {
	t.Parallel()
	acc := accounts{}
	e := newEnv(t, func(c *signerlink.Config) { c.Accounts = acc })
	p := e.parent(time.Hour)
	// A right-to-left override in the name must not reach the page.
	acc[p.ChatID] = signerlink.Account{FirstName: "Ер\u202eлан", LastName: "Хакеров", Username: "erlan_h"}

	for _, tt := range []struct {
		lang flows.Lang
		want []string
	}{
		{flows.Russian, []string{"Ерлан Хакеров @erlan_h, чат " + tail4(p.ChatID), "Аккаунт Telegram, который получит доступ", "прислал кто-то другой", "не подписывайте"}},
		{flows.Kazakh, []string{"Ерлан Хакеров @erlan_h, чат " + tail4(p.ChatID), "басқа біреу жіберсе", "қол қоймаңыз"}},
	} {
		l, err := e.svc.Issue(context.Background(), flows.SignRequest{ChatID: p.ChatID, Action: kezekbot.ActionBind, Lang: tt.lang})
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		if st := b.open(l.URL); st != http.StatusOK {
			t.Fatalf("page → %d", st)
		}
		for _, w := range tt.want {
			if !strings.Contains(b.page, w) {
				t.Errorf("%s page lacks %q", tt.lang, w)
			}
		}
		if strings.Contains(b.page, "\u202e") {
			t.Error("page carries a bidi override from the account name")
		}
		doc := string(b.document())
		for _, w := range []string{"<telegramName>Ерлан Хакеров</telegramName>", "<telegramUsername>erlan_h</telegramUsername>", "@erlan_h, чат " + tail4(p.ChatID), "<chat>" + strconv.FormatInt(p.ChatID, 10) + "</chat>"} {
			if !strings.Contains(doc, w) {
				t.Errorf("%s document lacks %q:\n%s", tt.lang, w, doc)
			}
		}
		if tt.lang == flows.Russian {
			continue
		}
		// The evidence kept is that document, signed.
		wantStatus(t, b.post(e.sign([]byte(doc), p.Auth)), http.StatusOK, "ok")
		var evidence []byte
		if err := e.db.Pool().QueryRow(context.Background(), `SELECT evidence_xml FROM audit_log WHERE action = 'bind' AND chat_id = $1`, p.ChatID).Scan(&evidence); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(evidence), "<telegramUsername>erlan_h</telegramUsername>") {
			t.Errorf("evidence does not name the account")
		}
	}

	// Without a lookup (or when getChat fails) the chat's last digits still identify it.
	q := e.parent(time.Hour)
	l := e.issueBind(q)
	b := e.browser()
	b.open(l.URL)
	if !strings.Contains(b.page, "аккаунт Telegram без имени, чат "+tail4(q.ChatID)) {
		t.Errorf("page without a known account lacks the chat digits")
	}
}

// TestBindPhishingRefused is the attack: the parent's chat is bound; an attacker asks for a
// bind link in his own chat and gets her to sign it. The binding is refused, her chat is
// told at once which account tried, and the attacker's chat stays unbound.
func TestBindPhishingRefused(t *testing.T) {
	t.Parallel()
	acc := accounts{}
	al := &alerts{sent: map[string][]string{}}
	e := newEnv(t, func(c *signerlink.Config) { c.Accounts = acc; c.BindAlerts = al })
	victim := e.parent(time.Hour)
	b := e.browser()
	b.open(e.issueBind(victim).URL)
	wantStatus(t, b.post(e.sign(b.document(), victim.Auth)), http.StatusOK, "ok")
	e.res.next(t)

	attackerChat := victim.ChatID + 1_000_000
	acc[attackerChat] = signerlink.Account{FirstName: "Служба", LastName: "поддержки", Username: "kezek_support_kz"}
	l, err := e.svc.Issue(context.Background(), flows.SignRequest{ChatID: attackerChat, Action: kezekbot.ActionBind, Lang: flows.Russian})
	if err != nil {
		t.Fatal(err)
	}
	vb := e.browser() // the victim opens the attacker's link
	vb.open(l.URL)
	r := vb.post(e.sign(vb.document(), victim.Auth))
	wantStatus(t, r, http.StatusConflict, "bound_elsewhere")
	if got := e.boundIIN(attackerChat); !got.IsZero() {
		t.Fatalf("attacker's chat bound to %v", got)
	}
	if got := e.boundIIN(victim.ChatID); !got.Equal(victim.IIN) {
		t.Fatalf("victim's chat now bound to %v", got)
	}
	ev := e.res.next(t)
	if s, ok := ev.Event.(flows.Signed); !ok || ev.ChatID != attackerChat || s.OK || s.Code != kezekbot.EFORBIDDEN {
		t.Errorf("attacker's chat told %#v", ev.Event)
	}
	sent := al.of(victim.IIN)
	if len(sent) != 1 || !strings.Contains(sent[0], "@kezek_support_kz, чат "+tail4(attackerChat)) ||
		!strings.Contains(sent[0], "/logout") || !strings.Contains(sent[0], "Біреу сіздің ЭЦҚ-ңызбен") {
		t.Errorf("alerts to the victim's chats = %q", sent)
	}
}
