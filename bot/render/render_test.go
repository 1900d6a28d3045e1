package render_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/bot/render"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
)

var (
	now       = time.Date(2026, 9, 1, 10, 0, 0, 0, i18n.Astana)
	parentIIN = kezekbot.MustParseIIN("791028302728")
	childIIN  = kezekbot.MustParseIIN("061211600012")
	hostile   = `<script>alert("x")</script> & <b>Иванов</b> 'Ä' &amp;`
)

func newRenderer(t testing.TB) *render.Renderer {
	t.Helper()
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	return render.New(cat)
}

func detail(name string) *kezekbot.ApplicationDetail {
	k := kezekbot.Kindergarten{ID: 1, Name: "ЧДС " + name, Address: "ул. " + name, Lat: 51.12, Lon: 71.43}
	ref := kezekbot.Referral{ID: 20, ApplicationID: 2, Kindergarten: k, IssuedAt: now.Add(-2 * time.Hour), State: kezekbot.ReferralActive,
		EnrolBefore: now.Add(5 * 24 * time.Hour), Extendable: true}
	old := kezekbot.Referral{ID: 19, ApplicationID: 2, Kindergarten: k, IssuedAt: now.Add(-400 * time.Hour), State: kezekbot.ReferralRevoked,
		ClosedAt: now.Add(-390 * time.Hour), RevokeReason: name}
	return &kezekbot.ApplicationDetail{
		Application: kezekbot.Application{
			ID: 2, Number: "УО.2018.000027.1" + name, ChildName: name + " Абубакир", ChildIIN: childIIN,
			ChildBirthDate: childIIN.BirthDate(), ApplicantName: name + " Мать", ApplicantIIN: parentIIN,
			Phone: "7777777777", Email: "1@gmail.com", QueueNumber: 2, BenefitQueueNumber: 1, Benefit: kezekbot.BenefitLargeFamily,
			RegisteredAt: now.Add(-1000 * time.Hour), PEPNumber: name, CONNumber: "", Status: kezekbot.StatusReferralIssued,
			StatusChangedAt: now.Add(-2 * time.Hour), QueuedSince: now.Add(-1000 * time.Hour),
		},
		Referrals: []kezekbot.Referral{ref, old},
		History: []kezekbot.HistoryEntry{
			{At: now.Add(-1000 * time.Hour), Event: kezekbot.EventRegistered, Status: kezekbot.StatusQueued, QueueNumber: 40},
			{At: now.Add(-2 * time.Hour), Event: kezekbot.EventReferralIssued, Status: kezekbot.StatusReferralIssued, Note: name + "\nвторая строка"},
			{At: now.Add(-time.Hour), Event: "unknown_event"},
		},
		Documents: []kezekbot.Document{
			{Kind: "birth_certificate", Number: name, IssuedAt: now.Add(-30000 * time.Hour)},
			{Kind: "weird_kind"},
		},
	}
}

// appButtons are the list's rows as flows draws them.
func appButtons(apps []kezekbot.Application) [][]flows.Button {
	var rows [][]flows.Button
	for i, a := range apps {
		id := a.ID + int64(i)
		if i == 0 {
			id = math.MaxInt64
		}
		rows = append(rows, []flows.Button{{Label: "btn.app", LabelArgs: map[string]any{"Number": a.Number, "Child": flows.ShortName(a.ChildName)}, Action: flows.ActOpen, ID: id}})
	}
	return rows
}

func btn(label string, act flows.ButtonAction, id int64) flows.Button {
	return flows.Button{Label: label, Action: act, ID: id}
}

// screens returns one rich screen of every kind, with name in every user string.
func screens(name string, lang flows.Lang) []flows.Screen {
	d := detail(name)
	ref := d.Referrals[0]
	closed := &kezekbot.RevokeRefusal{Reason: kezekbot.RefusalWindowClosed, State: kezekbot.ReferralActive, ClosedAt: now.Add(-time.Hour)}
	link := &flows.Link{URL: "https://sign.example/l/abc", Expires: now.Add(15 * time.Minute), Nonce: "n"}
	apps := []kezekbot.Application{d.Application, d.Application, d.Application, d.Application, d.Application}
	common := []flows.Button{btn("btn.menu", flows.ActMenu, 0), btn("btn.cancel", flows.ActCancel, 0)}
	var out []flows.Screen
	for _, s := range []flows.Screen{
		{Kind: flows.ScreenWelcome, Buttons: [][]flows.Button{{btn("btn.lang_kk", flows.ActLangKK, 0), btn("btn.lang_ru", flows.ActLangRU, 0)}, {btn("btn.bind", flows.ActBind, 0)}}},
		{Kind: flows.ScreenWelcome, IIN: parentIIN, Buttons: [][]flows.Button{{btn("btn.apps", flows.ActApps, 0)}}},
		{Kind: flows.ScreenLang, Buttons: [][]flows.Button{{btn("btn.lang_kk", flows.ActLangKK, 0)}, {btn("btn.back", flows.ActRefresh, 0)}}},
		{Kind: flows.ScreenMenu, IIN: parentIIN, Buttons: [][]flows.Button{{btn("btn.apps", flows.ActApps, 0)}, {btn("btn.lang", flows.ActLangMenu, 0), btn("btn.logout", flows.ActLogout, 0)}}},
		{Kind: flows.ScreenBindLink, Link: link, Buttons: [][]flows.Button{{{Label: "btn.sign_auth", URL: link.URL}}, common}},
		{Kind: flows.ScreenList, Apps: apps, Page: 1, Pages: 3, Total: 12, Buttons: append(appButtons(apps),
			[]flows.Button{btn("btn.prev", flows.ActApps, 0), btn("btn.next", flows.ActApps, 2)}, common)},
		{Kind: flows.ScreenList},
		{Kind: flows.ScreenCard, App: d, Buttons: [][]flows.Button{
			{btn("btn.history", flows.ActHistory, 2), btn("btn.docs", flows.ActDocs, 2)},
			{{Label: "btn.referral", LabelArgs: map[string]any{"Name": ref.Kindergarten.Name}, Action: flows.ActReferral, ID: 20}},
			{btn("btn.revoke", flows.ActRevoke, 2)}, {btn("btn.extend", flows.ActExtend, 2)}, {btn("btn.to_list", flows.ActApps, 0)}}},
		{Kind: flows.ScreenHistory, App: d, Buttons: [][]flows.Button{{btn("btn.back", flows.ActOpen, 2)}}},
		{Kind: flows.ScreenDocs, App: d},
		{Kind: flows.ScreenReferral, App: d, Ref: &ref, Buttons: [][]flows.Button{flows.MapButtons(ref.Kindergarten), {btn("btn.revoke", flows.ActPickReferral, 20)}}},
		{Kind: flows.ScreenReferral, App: d, Ref: &d.Referrals[1]},
		{Kind: flows.ScreenExtend, App: d, Ref: &ref},
		{Kind: flows.ScreenExtend, App: d, Ref: &kezekbot.Referral{Kindergarten: ref.Kindergarten, State: kezekbot.ReferralActive}},
		{Kind: flows.ScreenExtend, App: d, Ref: &kezekbot.Referral{Kindergarten: ref.Kindergarten, State: kezekbot.ReferralActive, Extendable: true}},
		{Kind: flows.ScreenExtend, App: d, Ref: &kezekbot.Referral{Kindergarten: ref.Kindergarten, State: kezekbot.ReferralActive, EnrolBefore: now}},
		{Kind: flows.ScreenExtend, App: d},
		{Kind: flows.ScreenRevokePick, App: d, Buttons: [][]flows.Button{
			{{Label: "btn.pick", LabelArgs: map[string]any{"Name": ref.Kindergarten.Name, "IssuedDate": ref.IssuedAt}, Action: flows.ActPickReferral, ID: 20}}, common}},
		{Kind: flows.ScreenRevokeReason, App: d, Ref: &ref, Notice: "notice.reason_too_long", NoticeArgs: map[string]any{"Max": 300}, Buttons: [][]flows.Button{
			{{Text: flows.ReasonPresets[0].Text(lang), Action: flows.ActReasonPreset, ID: 0}}, common}},
		{Kind: flows.ScreenRevokeConfirm, App: d, Ref: &ref, Reason: name, Buttons: [][]flows.Button{{btn("btn.confirm", flows.ActConfirm, 20)}, {btn("btn.change_reason", flows.ActBack, 0)}, common}},
		{Kind: flows.ScreenSignLink, App: d, Ref: &ref, Reason: name, Link: link, Buttons: [][]flows.Button{{{Label: "btn.sign", URL: link.URL}}, common}},
		{Kind: flows.ScreenRevoked, App: d, Ref: &d.Referrals[1], Buttons: [][]flows.Button{{btn("btn.open_app", flows.ActOpen, 2)}}},
		{Kind: flows.ScreenRefused, App: d, Ref: &ref, Refusal: closed},
		{Kind: flows.ScreenRefused, Refusal: &kezekbot.RevokeRefusal{Reason: kezekbot.RefusalWindowClosed}},
		{Kind: flows.ScreenRefused, App: d, Refusal: &kezekbot.RevokeRefusal{Reason: kezekbot.RefusalNotActive, State: kezekbot.ReferralUsed}},
		{Kind: flows.ScreenRefused},
		{Kind: flows.ScreenBound, IIN: parentIIN, Buttons: [][]flows.Button{{btn("btn.apps", flows.ActApps, 0)}}},
		{Kind: flows.ScreenLinkUsed},
		{Kind: flows.ScreenLoggedOut, Buttons: [][]flows.Button{{btn("btn.bind", flows.ActBind, 0)}}},
		{Kind: flows.ScreenHelp, Buttons: [][]flows.Button{{btn("btn.back", flows.ActRefresh, 0)}}},
		{Kind: flows.ScreenGroup},
		{Kind: flows.ScreenError, ErrCode: kezekbot.ENOTFOUND, Buttons: [][]flows.Button{{btn("btn.retry", flows.ActRefresh, 0), btn("btn.menu", flows.ActMenu, 0)}}},
		{Kind: flows.ScreenError, ErrCode: "title"},
		{Kind: flows.ScreenError, ErrCode: "no_such_code"},
		{Kind: flows.ScreenSettings, Muted: map[string]bool{"reminder": true}, Buttons: settingsButtons(map[string]bool{"reminder": true})},
		{Kind: flows.ScreenSettings},
		{Kind: flows.ScreenCard, App: &kezekbot.ApplicationDetail{Application: d.Application, AsOf: now.Add(-time.Hour)}},
		{Kind: flows.ScreenCard, App: &kezekbot.ApplicationDetail{Application: d.Application, AsOf: now.Add(-50 * time.Hour)}},
		{Kind: flows.ScreenRevokePending, App: d, Ref: &ref, Buttons: [][]flows.Button{{btn("btn.open_app", flows.ActOpen, 2)}}},
		{Kind: flows.ScreenRevokeDelayed, App: d, Ref: &ref},
		{Kind: flows.ScreenRevokeRejected, App: d, Ref: &ref, ErrCode: "window_closed"},
		{Kind: flows.ScreenRevokeRejected, App: d, ErrCode: "not_active"},
		{Kind: flows.ScreenRevokeRejected, App: d, ErrCode: "not_applicant"},
		{Kind: flows.ScreenRevokeRejected, App: d, ErrCode: "not_found"},
		{Kind: flows.ScreenRevokeRejected, App: d, ErrCode: "signature_rejected"},
		{Kind: flows.ScreenRevokeRejected, App: d, ErrCode: "invalid_request"},
		{Kind: flows.ScreenRevokeRejected, App: d, ErrCode: "from_the_future"},
		{Kind: "from_the_future"},
	} {
		s.Lang, s.Rev, s.Now = lang, math.MaxUint32, now
		out = append(out, s)
	}
	return out
}

// keyLike finds catalog keys left in a text: a key is printed when a text is missing.
var keyLike = regexp.MustCompile(`\b(btn|answer|notice|error|welcome|lang|menu|bind_link|bound|logged_out|list|card|field|status|benefit|referral|history|docs|doc|extend|revoke_pick|revoke_reason|revoke_confirm|sign_link|revoked|refused|refusal|help|group|common|settings|mute|city)\.[a-z_]+\b`)

func TestEveryKindRendersInBothLanguages(t *testing.T) {
	r := newRenderer(t)
	kinds := screenKinds(t)
	seen := map[flows.ScreenKind]bool{}
	for _, lang := range []flows.Lang{flows.Kazakh, flows.Russian} {
		for _, s := range screens("Иванов", lang) {
			seen[s.Kind] = true
			m := r.Screen(s)
			where := fmt.Sprintf("%s/%s", lang, s.Kind)
			if m.ParseMode != "HTML" || strings.TrimSpace(m.Text) == "" {
				t.Errorf("%s: parse mode %q, text %q", where, m.ParseMode, m.Text)
			}
			checkText(t, where, m.Text)
			if m.Keyboard != nil {
				for _, row := range m.Keyboard.InlineKeyboard {
					for _, b := range row {
						if k := keyLike.FindString(b.Text); k != "" || strings.Contains(b.Text, "<no value>") || b.Text == "" {
							t.Errorf("%s: button label %q", where, b.Text)
						}
						if b.CallbackData != "" {
							if len(b.CallbackData) > 64 {
								t.Errorf("%s: callback data %d bytes", where, len(b.CallbackData))
							}
							if _, err := flows.ParseCallback(b.CallbackData); err != nil {
								t.Errorf("%s: callback %q does not parse", where, b.CallbackData)
							}
						}
						if (b.CallbackData == "") == (b.URL == "") {
							t.Errorf("%s: button %+v", where, b)
						}
					}
				}
			}
		}
	}
	for _, k := range kinds {
		if !seen[k] {
			t.Errorf("ScreenKind %q is not covered by this test", k)
		}
	}
}

func checkText(t *testing.T, where, text string) {
	t.Helper()
	if k := keyLike.FindString(text); k != "" {
		t.Errorf("%s: catalog key %q in the text:\n%s", where, k, text)
	}
	if strings.Contains(text, "<no value>") || strings.Contains(text, "&lt;no value&gt;") {
		t.Errorf("%s: an argument is missing:\n%s", where, text)
	}
	if n := utf8.RuneCountInString(text); n > render.MaxTextLen {
		t.Errorf("%s: %d characters", where, n)
	}
	if err := wellFormed(text); err != nil {
		t.Errorf("%s: %v:\n%s", where, err, text)
	}
}

// wellFormed checks the HTML Telegram will parse: only <b> and <i>, properly nested, and
// every & starts an entity.
func wellFormed(s string) error {
	var stack []string
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return fmt.Errorf("unclosed < at %d", i)
			}
			tag := s[i : i+j+1]
			switch tag {
			case "<b>", "<i>":
				stack = append(stack, tag[1:2])
			case "</b>", "</i>":
				if len(stack) == 0 || stack[len(stack)-1] != tag[2:3] {
					return fmt.Errorf("misnested %s at %d", tag, i)
				}
				stack = stack[:len(stack)-1]
			default:
				return fmt.Errorf("tag %q at %d", tag, i)
			}
			i += j
		case '>':
			return fmt.Errorf("bare > at %d", i)
		case '&':
			ok := false
			for _, e := range []string{"&lt;", "&gt;", "&amp;", "&#34;", "&#39;", "&quot;"} {
				if strings.HasPrefix(s[i:], e) {
					ok = true
				}
			}
			if !ok {
				return fmt.Errorf("bare & at %d", i)
			}
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %v", stack)
	}
	return nil
}

func TestHostileStringsEscaped(t *testing.T) {
	r := newRenderer(t)
	for _, lang := range []flows.Lang{flows.Kazakh, flows.Russian} {
		for _, s := range screens(hostile, lang) {
			m := r.Screen(s)
			where := fmt.Sprintf("%s/%s", lang, s.Kind)
			checkText(t, where, m.Text)
			if strings.Contains(m.Text, "<script>") || strings.Contains(m.Text, "<b>Иванов</b>") {
				t.Errorf("%s: unescaped:\n%s", where, m.Text)
			}
		}
	}
	m := r.Screen(flows.Screen{Kind: flows.ScreenCard, Lang: flows.Russian, App: detail(hostile), Now: now})
	if !strings.Contains(m.Text, "&lt;script&gt;") || !strings.Contains(m.Text, "&amp;amp;") {
		t.Errorf("escaping lost the text:\n%s", m.Text)
	}
	// A reason typed over several lines cannot break the markup either.
	d := detail("x")
	d.History[1].Note = "<i>\n</i>" + strings.Repeat("&", 500)
	m = r.Screen(flows.Screen{Kind: flows.ScreenHistory, Lang: flows.Kazakh, App: d, Now: now})
	checkText(t, "history", m.Text)
}

func TestChildIINOnlyMasked(t *testing.T) {
	r := newRenderer(t)
	for _, lang := range []flows.Lang{flows.Kazakh, flows.Russian} {
		for _, s := range screens("Иванов", lang) {
			m := r.Screen(s)
			for _, iin := range []kezekbot.IIN{childIIN, parentIIN} {
				if strings.Contains(m.Text, iin.Digits()) || strings.Contains(m.Text, iin.Digits()[6:]) {
					t.Errorf("%s/%s: IIN in clear:\n%s", lang, s.Kind, m.Text)
				}
			}
			if s.Kind == flows.ScreenCard && !strings.Contains(m.Text, childIIN.Masked()) {
				t.Errorf("%s card: no masked child IIN %s:\n%s", lang, childIIN.Masked(), m.Text)
			}
		}
	}
	if childIIN.Masked() != "0612******12" {
		t.Fatalf("mask %q", childIIN.Masked())
	}
}

func TestCardFields(t *testing.T) {
	r := newRenderer(t)
	m := r.Screen(flows.Screen{Kind: flows.ScreenCard, Lang: flows.Russian, App: detail("Иванов"), Now: now})
	for _, want := range []string{
		"Информация о заявителе", "Данные ребенка", "Номер очереди:</b> 2", "Номер очереди по льготной категории:</b> 1",
		"Дети из многодетных семей", "Номер ЦОН:</b> —", "Принято решение (Выдано направление)",
		"11 декабря 2006", "Отозвать направление можно до 2 сентября 2026, 08:00 (осталось 22 ч)",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("card lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "7777777777") || strings.Contains(m.Text, "gmail") {
		t.Errorf("card shows the applicant's contacts:\n%s", m.Text)
	}
	m = r.Screen(flows.Screen{Kind: flows.ScreenRefused, Lang: flows.Kazakh, Now: now,
		Refusal: &kezekbot.RevokeRefusal{Reason: kezekbot.RefusalWindowClosed, ClosedAt: now.Add(-time.Hour)}})
	if !strings.Contains(m.Text, "2026 жылғы 1 қыркүйек, 09:00") {
		t.Errorf("refusal does not say when the window closed:\n%s", m.Text)
	}
	m = r.Screen(flows.Screen{Kind: flows.ScreenReferral, Lang: flows.Russian, Now: now, App: detail("x"), Ref: &detail("x").Referrals[0],
		Buttons: [][]flows.Button{flows.MapButtons(detail("x").Referrals[0].Kindergarten)}})
	if m.Keyboard == nil || !strings.HasPrefix(m.Keyboard.InlineKeyboard[0][0].URL, "https://2gis.kz/astana/geo/71.43") {
		t.Errorf("map button: %+v", m.Keyboard)
	}
}

// settingsButtons are the toggles of /settings as flows draws them.
func settingsButtons(muted map[string]bool) [][]flows.Button {
	var rows [][]flows.Button
	for i, k := range flows.MuteKinds {
		label := "btn.mute_on"
		if muted[k.Kind] {
			label = "btn.mute_off"
		}
		rows = append(rows, []flows.Button{{Label: label, LabelArgs: map[string]any{"Kind": flows.CatalogKey(k.Label)}, Action: flows.ActMute, ID: int64(i)}})
	}
	return append(rows, []flows.Button{btn("btn.menu", flows.ActMenu, 0)})
}

func TestSettings(t *testing.T) {
	r := newRenderer(t)
	muted := map[string]bool{"reminder": true}
	for _, tc := range []struct {
		lang                     flows.Lang
		title, on, off, reminder string
		reminderBtn, referralBtn string
		answerMuted              string
	}{
		{flows.Russian, "🔔 Уведомления", "включено", "выключено", "Напоминание о сроке отзыва",
			"🔕 Напоминание о сроке отзыва", "🔔 Выдано направление", "Выключено: Напоминание о сроке отзыва."},
		{flows.Kazakh, "🔔 Хабарландырулар", "қосулы", "өшірулі", "Кері қайтару туралы еске салу",
			"🔕 Кері қайтару туралы еске салу", "🔔 Жолдама берілді", "Өшірілді: Кері қайтару туралы еске салу."},
	} {
		m := r.Screen(flows.Screen{Kind: flows.ScreenSettings, Lang: tc.lang, Rev: 1000, Muted: muted, Buttons: settingsButtons(muted)})
		checkText(t, string(tc.lang), m.Text)
		if !strings.HasPrefix(m.Text, "<b>"+tc.title+"</b>\n") || !strings.Contains(m.Text, "🔕 "+tc.reminder+" — <i>"+tc.off+"</i>") ||
			strings.Count(m.Text, "<i>"+tc.on+"</i>") != len(flows.MuteKinds)-1 {
			t.Errorf("%s: text\n%s", tc.lang, m.Text)
		}
		kb := m.Keyboard.InlineKeyboard
		if len(kb) != len(flows.MuteKinds)+1 || kb[1][0].Text != tc.reminderBtn || kb[1][0].CallbackData != "1:mute:1:rs" ||
			kb[0][0].Text != tc.referralBtn || kb[len(kb)-1][0].CallbackData != "1:menu:0:rs" {
			t.Errorf("%s: keyboard %+v", tc.lang, kb)
		}
		if got := r.Text(tc.lang, "answer.muted", map[string]any{"Kind": flows.CatalogKey("mute.reminder")}); got != tc.answerMuted {
			t.Errorf("%s: answer %q", tc.lang, got)
		}
	}
}

func TestButtons(t *testing.T) {
	r := newRenderer(t)
	m := r.Screen(flows.Screen{Kind: flows.ScreenMenu, Lang: flows.Kazakh, Rev: 1000, Buttons: [][]flows.Button{
		{btn("btn.apps", flows.ActApps, 12345)},
		{{Label: "btn.map_2gis", URL: "javascript:alert(1)"}, {Label: "btn.map_2gis", URL: "http://plain.example"}, {Label: "x"}},
		{{Text: strings.Repeat("ұ", 100), Action: flows.ActOpen, ID: 1}},
	}})
	kb := m.Keyboard.InlineKeyboard
	if len(kb) != 2 || kb[0][0].CallbackData != "1:apps:9ix:rs" || kb[0][0].Text != "📋 Өтініштер журналы" {
		t.Fatalf("keyboard %+v", kb)
	}
	if n := utf8.RuneCountInString(kb[1][0].Text); n > 64 {
		t.Errorf("label of %d characters", n)
	}
	if r.Screen(flows.Screen{Kind: flows.ScreenHelp}).Keyboard != nil {
		t.Error("keyboard without buttons")
	}
}

func TestText(t *testing.T) {
	r := newRenderer(t)
	if got := r.Text(flows.Kazakh, "answer.stale", nil); got != "Бұл мәзір ескірген — өзектісін көрсетемін." {
		t.Errorf("%q", got)
	}
	cat, _ := i18n.New()
	for _, k := range cat.Keys() {
		if !strings.HasPrefix(k, "answer.") {
			continue
		}
		for _, l := range []flows.Lang{flows.Kazakh, flows.Russian} {
			if n := utf8.RuneCountInString(cat.T(string(l), k, nil)); n > render.MaxAnswerLen {
				t.Errorf("%s %s: %d characters", l, k, n)
			}
		}
	}
	if got := r.Text(flows.Russian, "notice.type_reason", nil); utf8.RuneCountInString(got) > 200 {
		t.Errorf("%q", got)
	}
}

func TestLongTextsStayWithinLimits(t *testing.T) {
	r := newRenderer(t)
	d := detail(strings.Repeat("Ж", 5000))
	for range 50 {
		d.History = append(d.History, kezekbot.HistoryEntry{At: now, Event: kezekbot.EventQueueChanged, QueueNumber: 3, Note: strings.Repeat("<&>", 300)})
		d.Documents = append(d.Documents, kezekbot.Document{Kind: "applicant_id", Number: strings.Repeat("9", 500)})
	}
	for _, k := range []flows.ScreenKind{flows.ScreenCard, flows.ScreenHistory, flows.ScreenDocs, flows.ScreenRevokeConfirm} {
		m := r.Screen(flows.Screen{Kind: k, Lang: flows.Russian, App: d, Ref: &d.Referrals[0], Reason: strings.Repeat("я", 300), Now: now})
		checkText(t, string(k), m.Text)
	}
}

// TestKeysUsedInCodeExist: every catalog key written in flows/ or here is in both catalogs.
func TestKeysUsedInCodeExist(t *testing.T) {
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`^[a-z_]+\.[a-z_]+$`)
	n := 0
	for _, dir := range []string{"../../flows", "."} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(node ast.Node) bool {
				lit, ok := node.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil || !key.MatchString(s) || strings.HasPrefix(s, "kezekbot.") {
					return true
				}
				n++
				for _, l := range i18n.Languages {
					if !cat.Has(l, s) {
						t.Errorf("%s: key %q has no %s text", file, s, l)
					}
				}
				return true
			})
		}
	}
	if n < 50 {
		t.Errorf("found only %d keys in the code", n)
	}
}

// screenKinds reads the ScreenKind constants from flows/flows.go, so that a new kind without
// a template fails TestEveryKindRendersInBothLanguages.
func screenKinds(t *testing.T) []flows.ScreenKind {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../flows/flows.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []flows.ScreenKind
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "ScreenKind" {
				continue
			}
			for _, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok {
					s, _ := strconv.Unquote(lit.Value)
					out = append(out, flows.ScreenKind(s))
				}
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("found %d screen kinds", len(out))
	}
	return out
}

func BenchmarkRenderList(b *testing.B) {
	r := newRenderer(b)
	s := screens("Иванов", flows.Kazakh)[5]
	if s.Kind != flows.ScreenList {
		b.Fatal(s.Kind)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Screen(s)
	}
}

func BenchmarkRenderCard(b *testing.B) {
	r := newRenderer(b)
	s := screens("Иванов", flows.Russian)[7]
	if s.Kind != flows.ScreenCard {
		b.Fatal(s.Kind)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Screen(s)
	}
}

// TestPhoneRouteHint: with the eGov mobile route on, both link screens say in one line which
// route fits which device; without it, they do not mention eGov mobile.
func TestPhoneRouteHint(t *testing.T) {
	r := newRenderer(t)
	link := &flows.Link{URL: "https://sign.example/l/abc", Expires: now.Add(15 * time.Minute), Nonce: "n"}
	for _, kind := range []flows.ScreenKind{flows.ScreenBindLink, flows.ScreenSignLink} {
		for _, lang := range []flows.Lang{flows.Kazakh, flows.Russian} {
			s := flows.Screen{Kind: kind, Lang: lang, Link: link}
			r.PhoneRoute = false
			if m := r.Screen(s); strings.Contains(m.Text, "eGov") {
				t.Errorf("%s/%s without the phone route mentions eGov:\n%s", lang, kind, m.Text)
			}
			r.PhoneRoute = true
			if m := r.Screen(s); strings.Count(m.Text, "eGov mobile") != 2 || !strings.Contains(m.Text, "NCALayer") {
				t.Errorf("%s/%s lacks the route line:\n%s", lang, kind, m.Text)
			}
		}
	}
}
