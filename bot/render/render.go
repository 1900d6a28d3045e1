// Package render turns a flows.Screen into the text and inline keyboard of a Telegram message,
// in the parent's language. Text is HTML (parse mode "HTML"): every string that comes from
// the catalogs, the database or the user is escaped, and only the renderer adds markup.
package render

import (
	"html"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
)

// ParseMode is the parse mode of every rendered message.
const ParseMode = string(models.ParseModeHTML)

// Limits of what a message shows.
const (
	MaxTextLen     = 4096 // Telegram's limit on a message text, in characters
	MaxAnswerLen   = 200  // Telegram's limit on a callback answer
	maxField       = 200  // longest name, address or number shown
	maxNote        = 160  // longest history note shown
	maxButtonLabel = 64
	maxHistory     = 10
	maxDocs        = 15
	maxReferrals   = 5
)

// Message is a rendered screen.
type Message struct {
	Text      string
	ParseMode string
	Keyboard  *models.InlineKeyboardMarkup
}

// Renderer renders screens with one catalog. It is safe for concurrent use.
type Renderer struct {
	cat   *i18n.Catalog
	langs map[string]*langTexts
	// PhoneRoute adds a line to the signing-link screens saying which route fits which device
	// (eGov mobile on a phone, NCALayer or the QR code on a computer). Set it before use when
	// the signing pages serve eGov mobile.
	PhoneRoute bool
}

// langTexts caches, for one language, the texts that take no arguments: escaped for HTML, and
// the domain values' texts by value (status, benefit, referral state), so that the list
// screen on the hot path does no key building and no template work.
type langTexts struct {
	esc      map[string]string // key → escaped text, for texts without arguments
	status   map[kezekbot.Status]string
	benefit  map[kezekbot.Benefit]string
	refState map[kezekbot.ReferralState]string
}

// New returns a renderer over cat.
func New(cat *i18n.Catalog) *Renderer {
	r := &Renderer{cat: cat, langs: map[string]*langTexts{}}
	for _, l := range []string{"kk", "ru"} {
		lt := &langTexts{
			esc:      map[string]string{},
			status:   map[kezekbot.Status]string{},
			benefit:  map[kezekbot.Benefit]string{},
			refState: map[kezekbot.ReferralState]string{},
		}
		for _, k := range cat.Keys() {
			if cat.Has(l, k) && len(cat.Vars(l, k)) == 0 {
				lt.esc[k] = html.EscapeString(cat.T(l, k, nil))
			}
		}
		for _, v := range kezekbot.Statuses {
			lt.status[v] = cat.T(l, "status."+string(v), nil)
		}
		for _, v := range kezekbot.Benefits {
			lt.benefit[v] = cat.T(l, "benefit."+string(v), nil)
		}
		for _, v := range kezekbot.ReferralStates {
			lt.refState[v] = cat.T(l, "referral."+string(v), nil)
		}
		r.langs[l] = lt
	}
	return r
}

// Text returns a catalog text for a callback answer: plain text, at most 200 characters.
func (r *Renderer) Text(lang kezekbot.Lang, key string, args map[string]any) string {
	l := langOf(lang)
	return clip(r.cat.T(l, key, r.args(l, args)), MaxAnswerLen)
}

// Screen renders s.
func (r *Renderer) Screen(s flows.Screen) Message {
	if s.Raw != nil {
		return rawMessage(s.Raw)
	}
	w := &writer{r: r, lang: langOf(s.Lang), s: &s}
	w.lt = r.langs[w.lang]
	w.b.Grow(2048)
	if s.Notice != "" {
		w.raw("ℹ️ <i>")
		w.text(s.Notice, r.args(w.lang, s.NoticeArgs))
		w.raw("</i>\n\n")
	}
	w.screen()
	return Message{Text: limitText(w.b.String()), ParseMode: ParseMode, Keyboard: r.keyboard(w.lang, s)}
}

// rawMessage shows a pre-rendered screen as it is: its text is not escaped (it is in its own
// parse mode, plain text when ""), only kept within Telegram's limit; buttons with neither a
// callback of at most MaxCallbackLen bytes nor an acceptable URL are dropped.
func rawMessage(raw *flows.RawScreen) Message {
	m := Message{Text: limitText(raw.Text), ParseMode: raw.ParseMode}
	if raw.ParseMode != "" && m.Text != raw.Text {
		// A cut might break markup we did not write: show the cut text plain instead.
		m.ParseMode = ""
	}
	var rows [][]models.InlineKeyboardButton
	for _, row := range raw.Buttons {
		var out []models.InlineKeyboardButton
		for _, b := range row {
			kb := models.InlineKeyboardButton{Text: clip(b.Text, maxButtonLabel)}
			switch {
			case b.Data != "" && b.URL == "":
				if len(b.Data) > flows.MaxCallbackLen || !utf8.ValidString(b.Data) {
					continue
				}
				kb.CallbackData = b.Data
			case b.URL != "" && b.Data == "":
				if !okURL(b.URL) {
					continue
				}
				kb.URL = b.URL
			default:
				continue
			}
			if strings.TrimSpace(kb.Text) == "" {
				kb.Text = "•"
			}
			out = append(out, kb)
		}
		if len(out) > 0 {
			rows = append(rows, out)
		}
	}
	if len(rows) > 0 {
		m.Keyboard = &models.InlineKeyboardMarkup{InlineKeyboard: rows}
	}
	return m
}

func langOf(l kezekbot.Lang) string {
	if l == kezekbot.Kazakh {
		return "kk"
	}
	return "ru"
}

// args formats the times and durations flows put into label and notice arguments: a key
// ending in "Date" gets the date, any other time the date and time. A flows.CatalogKey gets
// its text.
func (r *Renderer) args(lang string, in map[string]any) map[string]any {
	conv := false
	for _, v := range in {
		switch v.(type) {
		case time.Time, time.Duration, kezekbot.IIN, flows.CatalogKey:
			conv = true
		}
	}
	if !conv {
		return in
	}
	out := make(map[string]any, len(in))
	for k, v := range in {
		switch x := v.(type) {
		case time.Time:
			if strings.HasSuffix(k, "Date") {
				out[k] = i18n.Date(lang, x)
			} else {
				out[k] = i18n.DateTime(lang, x)
			}
		case time.Duration:
			out[k] = i18n.Duration(lang, x)
		case kezekbot.IIN:
			out[k] = x.Masked()
		case flows.CatalogKey:
			out[k] = r.cat.T(lang, string(x), nil)
		default:
			out[k] = v
		}
	}
	return out
}

func (r *Renderer) keyboard(lang string, s flows.Screen) *models.InlineKeyboardMarkup {
	if len(s.Buttons) == 0 {
		return nil
	}
	n := 0
	for _, row := range s.Buttons {
		n += len(row)
	}
	all := make([]models.InlineKeyboardButton, 0, n) // one backing array for every row
	rows := make([][]models.InlineKeyboardButton, 0, len(s.Buttons))
	for _, row := range s.Buttons {
		start := len(all)
		for _, b := range row {
			label := b.Text
			if label == "" {
				label = r.cat.T(lang, b.Label, r.args(lang, b.LabelArgs))
			}
			kb := models.InlineKeyboardButton{Text: clip(label, maxButtonLabel)}
			switch {
			case b.URL != "":
				if !okURL(b.URL) {
					continue
				}
				kb.URL = b.URL
			case b.Action != "":
				kb.CallbackData = flows.EncodeCallback(b, s.Rev)
				if len(kb.CallbackData) > flows.MaxCallbackLen {
					continue
				}
			default:
				continue
			}
			if strings.TrimSpace(kb.Text) == "" {
				kb.Text = "•"
			}
			all = append(all, kb)
		}
		if len(all) > start {
			rows = append(rows, all[start:len(all):len(all)])
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return &models.InlineKeyboardMarkup{InlineKeyboard: rows}
}

// okURL accepts absolute https links, the only ones a button of ours carries in production,
// and http links to this machine's loopback address, which is where `kezekbot sandbox` serves
// its signing pages (without them the sandbox chat has no button to sign with).
func okURL(s string) bool {
	if len(s) > 2048 {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.HasPrefix(s, "https://") {
		return true
	}
	if !strings.HasPrefix(s, "http://") {
		return false
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// clip cuts s to n characters, marking the cut with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, c := 0, 0
	for j := range s {
		if c == n-1 {
			i = j
			break
		}
		c++
	}
	return s[:i] + "…"
}

// limitText keeps a text within Telegram's limit, cutting at a line break (tags never span
// lines, so the HTML stays well-formed).
func limitText(s string) string {
	if len(s) <= MaxTextLen || utf8.RuneCountInString(s) <= MaxTextLen {
		return s
	}
	cut := clip(s, MaxTextLen-1)
	cut = strings.TrimSuffix(cut, "…")
	if i := strings.LastIndexByte(cut, '\n'); i > 0 {
		cut = cut[:i]
	}
	return cut + "\n…"
}

// ---- the text ----

type writer struct {
	r    *Renderer
	lt   *langTexts
	lang string
	s    *flows.Screen
	b    strings.Builder
}

func (w *writer) raw(s string) { w.b.WriteString(s) }

// esc writes a database or user string, clipped and escaped.
func (w *writer) esc(s string) { w.b.WriteString(html.EscapeString(clip(s, maxField))) }

// text writes a catalog text, escaped.
func (w *writer) text(key string, args map[string]any) {
	if args == nil {
		if t, ok := w.lt.esc[key]; ok {
			w.b.WriteString(t)
			return
		}
	}
	w.b.WriteString(html.EscapeString(w.r.cat.T(w.lang, key, args)))
}

func (w *writer) t(key string) string { return w.r.cat.T(w.lang, key, nil) }

func (w *writer) title(key string) {
	w.raw("<b>")
	w.text(key, nil)
	w.raw("</b>\n")
}

func (w *writer) nl() { w.b.WriteByte('\n') }

// field writes "<b>Label:</b> value" with an escaped value, or "—" for an empty one.
func (w *writer) field(key, value string) {
	w.raw("<b>")
	w.text(key, nil)
	w.raw(":</b> ")
	if value == "" {
		w.text("common.none", nil)
	} else {
		w.esc(value)
	}
	w.nl()
}

func (w *writer) date(t time.Time) string     { return i18n.Date(w.lang, t) }
func (w *writer) dateTime(t time.Time) string { return i18n.DateTime(w.lang, t) }

func (w *writer) keyOr(key, fallback string) string {
	if w.r.cat.Has(w.lang, key) {
		return w.t(key)
	}
	return fallback
}

func (w *writer) status(s kezekbot.Status) string {
	if t, ok := w.lt.status[s]; ok {
		return t
	}
	return string(s)
}

func (w *writer) benefit(b kezekbot.Benefit) string {
	if t, ok := w.lt.benefit[b]; ok {
		return t
	}
	return string(b)
}

func (w *writer) refState(s kezekbot.ReferralState) string {
	if t, ok := w.lt.refState[s]; ok {
		return t
	}
	return string(s)
}

func (w *writer) screen() {
	s := w.s
	switch s.Kind {
	case flows.ScreenWelcome:
		w.title("welcome.title")
		w.text("welcome.body", nil)
		w.raw("\n\n")
		if s.IIN.IsZero() {
			w.text("welcome.unbound", nil)
		} else {
			w.text("welcome.bound", map[string]any{"IIN": s.IIN.Masked()})
		}
		w.raw("\n\n")
		w.text("welcome.lang_hint", nil)
	case flows.ScreenLang:
		w.title("lang.title")
	case flows.ScreenMenu:
		w.title("menu.title")
		w.text("menu.body", map[string]any{"IIN": s.IIN.Masked()})
	case flows.ScreenBindLink:
		w.title("bind_link.title")
		w.text("bind_link.body", nil)
		w.routeHint()
		w.linkExpiry("bind_link.expires")
	case flows.ScreenLinkUsed:
		w.title("link_used.title")
		w.text("link_used.body", nil)
	case flows.ScreenBound:
		w.title("bound.title")
		w.text("bound.body", map[string]any{"IIN": s.IIN.Masked()})
	case flows.ScreenLoggedOut:
		w.title("logged_out.title")
		w.text("logged_out.body", nil)
	case flows.ScreenList:
		w.list()
	case flows.ScreenCard:
		w.card()
	case flows.ScreenHistory:
		w.history()
	case flows.ScreenDocs:
		w.docs()
	case flows.ScreenReferral:
		w.referral()
	case flows.ScreenExtend:
		w.extend()
	case flows.ScreenRevokePick:
		w.revokePick()
	case flows.ScreenRevokeReason:
		w.revokeReason()
	case flows.ScreenRevokeConfirm:
		w.revokeConfirm()
	case flows.ScreenSignLink:
		w.title("sign_link.title")
		w.appLine()
		w.refLine()
		if s.Reason != "" {
			w.field("field.reason", s.Reason)
		}
		w.nl()
		w.text("sign_link.body", nil)
		w.routeHint()
		w.linkExpiry("sign_link.expires")
	case flows.ScreenRevoked:
		w.revoked()
	case flows.ScreenRevokePending, flows.ScreenRevokeDelayed, flows.ScreenRevokeRejected:
		w.cityAnswer()
	case flows.ScreenRefused:
		w.refused()
	case flows.ScreenHelp:
		w.title("help.title")
		w.text("help.body", nil)
	case flows.ScreenGroup:
		w.text("group.body", nil)
	case flows.ScreenSettings:
		w.settings()
	default: // ScreenError and anything unknown
		w.title("error.title")
		key := "error." + s.ErrCode
		if s.ErrCode == "" || s.ErrCode == "title" || !w.r.cat.Has(w.lang, key) {
			key = "error." + kezekbot.EINTERNAL
		}
		w.text(key, nil)
	}
}

// routeHint is one line on which route fits the parent's device, when there are two.
func (w *writer) routeHint() {
	if w.r.PhoneRoute {
		w.raw("\n\n")
		w.text("egov.route_hint", nil)
	}
}

func (w *writer) linkExpiry(key string) {
	if l := w.s.Link; l != nil && !l.Expires.IsZero() {
		w.raw("\n\n")
		w.text(key, map[string]any{"Time": w.dateTime(l.Expires)})
	}
}

func (w *writer) list() {
	s := w.s
	w.title("list.title")
	if s.Total == 0 && len(s.Apps) == 0 {
		w.nl()
		w.text("list.empty", nil)
		return
	}
	pages := max(s.Pages, 1)
	w.text("list.summary", map[string]any{"Total": s.Total, "Page": s.Page + 1, "Pages": pages})
	w.raw("\n\n")
	queue := w.lt.esc["list.queue"]
	for _, a := range s.Apps {
		w.raw("<b>")
		w.esc(a.Number)
		w.raw("</b> — ")
		surname, initial := flows.ShortNameParts(a.ChildName)
		w.esc(surname)
		if initial != "" {
			w.raw(" ")
			w.esc(initial)
			w.raw(".")
		}
		w.raw("\n")
		w.raw(queue)
		w.b.WriteString(strconv.Itoa(a.QueueNumber))
		w.raw(" · ")
		w.raw(html.EscapeString(w.status(a.Status)))
		w.raw(" · ")
		w.raw(html.EscapeString(w.benefit(a.Benefit)))
		w.raw("\n\n")
	}
	w.text("list.hint", nil)
}

func (w *writer) appLine() {
	if a := w.s.App; a != nil {
		w.field("field.number", a.Number)
		w.raw("<b>")
		w.text("field.child", nil)
		w.raw(":</b> ")
		w.esc(flows.ShortName(a.ChildName))
		w.nl()
	}
}

func (w *writer) refLine() {
	if r := w.s.Ref; r != nil {
		w.field("field.kindergarten", r.Kindergarten.Name)
		w.field("field.issued", w.dateTime(r.IssuedAt))
	}
}

func num(n int) string { return strconv.Itoa(n) }

func (w *writer) card() {
	s := w.s
	w.title("card.title")
	a := s.App
	if a == nil {
		return
	}
	w.asOf(a.AsOf)
	w.nl()
	w.raw("<b>")
	w.text("card.applicant", nil)
	w.raw("</b>\n")
	w.field("field.full_name", a.ApplicantName)
	w.field("field.iin", a.ApplicantIIN.Masked())

	w.raw("\n<b>")
	w.text("card.child", nil)
	w.raw("</b>\n")
	w.field("field.full_name", a.ChildName)
	w.field("field.iin", a.ChildIIN.Masked())
	birth := a.ChildBirthDate
	if birth.IsZero() {
		birth = a.ChildIIN.BirthDate()
	}
	w.field("field.birth_date", w.date(birth))
	w.field("field.benefit", w.benefit(a.Benefit))
	w.field("field.queue", num(a.QueueNumber))
	w.field("field.benefit_queue", num(a.BenefitQueueNumber))

	w.raw("\n<b>")
	w.text("card.app", nil)
	w.raw("</b>\n")
	w.field("field.number", a.Number)
	w.field("field.registered", w.dateTime(a.RegisteredAt))
	w.field("field.pep", a.PEPNumber)
	w.field("field.con", a.CONNumber)
	w.field("field.status", w.status(a.Status))
	changed := w.dateTime(a.StatusChangedAt)
	if !a.QueuedSince.IsZero() && a.Status == kezekbot.StatusQueued {
		changed += " (" + w.r.cat.T(w.lang, "card.queued_since", map[string]any{"Since": w.dateTime(a.QueuedSince)}) + ")"
	}
	w.field("field.changed", changed)

	if len(a.Referrals) > 0 {
		w.raw("\n<b>")
		w.text("card.referrals", nil)
		w.raw("</b>\n")
		for i, ref := range a.Referrals {
			if i == maxReferrals {
				break
			}
			w.raw("🏫 ")
			w.esc(ref.Kindergarten.Name)
			w.raw(" — ")
			w.raw(html.EscapeString(w.refState(ref.State)))
			w.raw(", ")
			w.esc(w.date(ref.IssuedAt))
			w.nl()
			if ref.State == kezekbot.ReferralActive {
				w.revokeWindow(ref)
			}
		}
	}
}

// revokeWindow says until when, and how long, the referral can still be revoked, or when the
// window closed.
func (w *writer) revokeWindow(ref kezekbot.Referral) {
	until := ref.RevocableUntil()
	if w.s.Now.Before(until) {
		w.text("card.revoke_until", map[string]any{"Until": w.dateTime(until), "Left": i18n.Left(w.lang, until.Sub(w.s.Now))})
	} else {
		w.text("card.revoke_closed", map[string]any{"At": w.dateTime(until)})
	}
	w.nl()
}

func (w *writer) history() {
	s := w.s
	w.title("history.title")
	if s.App == nil {
		return
	}
	w.asOf(s.App.AsOf)
	w.raw("<b>")
	w.esc(s.App.Number)
	w.raw("</b>\n\n")
	h := s.App.History
	if len(h) == 0 {
		w.text("history.empty", nil)
		return
	}
	start := max(0, len(h)-maxHistory)
	for _, e := range h[start:] {
		w.raw("• ")
		w.esc(w.dateTime(e.At))
		w.raw(" — ")
		w.raw(html.EscapeString(w.keyOr("history."+string(e.Event), string(e.Event))))
		if e.Status != "" {
			w.raw(" · ")
			w.raw(html.EscapeString(w.status(e.Status)))
		}
		if e.QueueNumber > 0 {
			w.raw(" · ")
			w.text("history.queue", map[string]any{"Queue": e.QueueNumber})
		}
		if e.Note != "" {
			w.raw("\n  <i>")
			w.b.WriteString(html.EscapeString(clip(oneLine(e.Note), maxNote)))
			w.raw("</i>")
		}
		w.nl()
	}
	if start > 0 {
		w.nl()
		w.text("history.more", map[string]any{"Shown": maxHistory, "Total": len(h)})
	}
}

// oneLine keeps user text on one line, so that no tag spans a line break.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

func (w *writer) docs() {
	s := w.s
	w.title("docs.title")
	if s.App == nil {
		return
	}
	w.asOf(s.App.AsOf)
	w.raw("<b>")
	w.esc(s.App.Number)
	w.raw("</b>\n\n")
	if len(s.App.Documents) == 0 {
		w.text("docs.empty", nil)
		return
	}
	for i, d := range s.App.Documents {
		if i == maxDocs {
			break
		}
		w.raw("• ")
		kind := w.keyOr("doc."+d.Kind, "")
		if kind == "" {
			kind = w.t("docs.other")
		}
		w.raw(html.EscapeString(kind))
		if d.Number != "" {
			w.raw(" ")
			w.text("docs.number", nil)
			w.raw(" ")
			w.esc(oneLine(d.Number))
		}
		if !d.IssuedAt.IsZero() {
			w.raw(", ")
			w.text("docs.issued", nil)
			w.raw(" ")
			w.esc(w.date(d.IssuedAt))
		}
		w.nl()
	}
}

func (w *writer) referral() {
	s := w.s
	w.title("referral.title")
	if s.App != nil {
		w.asOf(s.App.AsOf)
		w.raw("<b>")
		w.esc(s.App.Number)
		w.raw("</b>\n")
	}
	ref := s.Ref
	if ref == nil {
		return
	}
	w.nl()
	w.field("field.kindergarten", ref.Kindergarten.Name)
	w.field("field.address", ref.Kindergarten.Address)
	w.field("field.issued", w.dateTime(ref.IssuedAt))
	w.field("field.ref_state", w.refState(ref.State))
	if !ref.EnrolBefore.IsZero() {
		w.field("field.enrol_before", w.date(ref.EnrolBefore))
	}
	if ref.RevokeReason != "" {
		w.field("field.reason", oneLine(ref.RevokeReason))
	}
	if ref.State == kezekbot.ReferralActive {
		w.nl()
		w.revokeWindow(*ref)
	}
}

func (w *writer) extend() {
	s := w.s
	w.title("extend.title")
	ref := s.Ref
	if ref == nil || ref.State != kezekbot.ReferralActive {
		w.text("extend.none", nil)
		return
	}
	args := map[string]any{"Name": clip(ref.Kindergarten.Name, maxField), "Before": w.date(ref.EnrolBefore)}
	key := "extend.unavailable"
	if ref.Extendable {
		key = "extend.how"
	}
	if ref.EnrolBefore.IsZero() {
		key += "_nodate"
	}
	w.text(key, args)
}

func (w *writer) revokePick() {
	s := w.s
	w.title("revoke_pick.title")
	w.appLine()
	w.nl()
	w.text("revoke_pick.body", nil)
	w.nl()
	if s.App == nil {
		return
	}
	for _, r := range s.App.Revocable(s.Now) {
		w.raw("• ")
		w.esc(r.Kindergarten.Name)
		w.raw(" — ")
		w.esc(w.date(r.IssuedAt))
		w.nl()
	}
}

func (w *writer) revokeReason() {
	w.title("revoke_reason.title")
	w.appLine()
	w.refLine()
	w.nl()
	w.text("revoke_reason.body", nil)
}

func (w *writer) revokeConfirm() {
	s := w.s
	w.title("revoke_confirm.title")
	w.nl()
	w.appLine()
	w.refLine()
	w.field("field.reason", oneLine(s.Reason))
	w.nl()
	name := ""
	if s.Ref != nil {
		name = clip(s.Ref.Kindergarten.Name, maxField)
	}
	w.text("revoke_confirm.consequence", map[string]any{"Name": name})
	w.raw("\n\n")
	if s.Ref != nil {
		w.revokeWindow(*s.Ref)
		w.nl()
	}
	w.text("revoke_confirm.next", nil)
}

func (w *writer) revoked() {
	s := w.s
	w.title("revoked.title")
	if s.App == nil {
		return
	}
	name := ""
	if s.Ref != nil {
		name = clip(s.Ref.Kindergarten.Name, maxField)
	}
	w.text("revoked.body", map[string]any{"Number": clip(s.App.Number, maxField), "Name": name})
	w.raw("\n\n")
	w.field("field.status", w.status(s.App.Status))
	w.field("field.queue", num(s.App.QueueNumber))
	if s.App.BenefitQueueNumber > 0 {
		w.field("field.benefit_queue", num(s.App.BenefitQueueNumber))
	}
}

func (w *writer) refused() {
	s := w.s
	w.title("refused.title")
	w.appLine()
	if s.Ref != nil {
		w.field("field.kindergarten", s.Ref.Kindergarten.Name)
	}
	w.nl()
	rf := s.Refusal
	if rf == nil {
		rf = &kezekbot.RevokeRefusal{Reason: kezekbot.RefusalNotActive}
	}
	switch rf.Reason {
	case kezekbot.RefusalWindowClosed:
		if rf.ClosedAt.IsZero() {
			w.text("refusal.window_closed_nodate", nil)
		} else {
			w.text("refusal.window_closed", map[string]any{"At": w.dateTime(rf.ClosedAt)})
		}
	default:
		if rf.State == "" || rf.State == kezekbot.ReferralActive {
			w.text("refusal.not_active_nostate", nil)
		} else {
			w.text("refusal.not_active", map[string]any{"State": w.refState(rf.State)})
		}
	}
}

// settings lists every notification kind with its state: on unless the screen says muted.
func (w *writer) settings() {
	w.title("settings.title")
	for _, k := range flows.MuteKinds {
		if w.s.Muted[k.Kind] {
			w.raw("🔕 ")
		} else {
			w.raw("🔔 ")
		}
		w.text(k.Label, nil)
		w.raw(" — <i>")
		if w.s.Muted[k.Kind] {
			w.text("settings.off", nil)
		} else {
			w.text("settings.on", nil)
		}
		w.raw("</i>\n")
	}
	w.nl()
	w.text("settings.body", nil)
}
