package flows

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kezekbot/kezekbot"
)

// DefaultPageSize is the number of applications on one page of «Журнал заявлений».
const DefaultPageSize = 5

// Machine runs the parents' dialog. It is safe for concurrent use as long as Data, Links,
// Now and Rand are; it keeps nothing between steps (the State does).
type Machine struct {
	Data  Data
	Links Links
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand gives new screen revisions; nil means math/rand/v2.
	Rand func() uint32
	// PageSize is the number of applications per list page; 0 means DefaultPageSize.
	PageSize int
}

// Step handles one event of chat chatID in state st and returns the next state and the effects
// to carry out, in order.
//
// The returned state and effects are always valid and must be applied and saved, also when
// err is not nil: err is for the log only (a Data or Links failure, wrapped, which the parent
// sees as ScreenError while the state is kept). Every Press gets exactly one Answer effect,
// which comes first. Every Show carries a new revision (Screen.Rev == the returned State.Rev),
// so buttons drawn earlier become stale.
//
// After a Show with New set (or any Show while State.MsgID is 0) the adapter sends a new
// message and must store its id in State.MsgID before saving the state; other Shows are
// edited into State.MsgID.
func (m *Machine) Step(ctx context.Context, chatID int64, st State, ev Event) (State, []Effect, error) {
	s := &stepper{m: m, ctx: ctx, chat: chatID, st: st, now: m.now()}
	if s.st.Lang != Kazakh && s.st.Lang != Russian {
		s.st.Lang = ""
	}
	if chatID < 0 {
		s.group(ev)
		return s.result()
	}
	// A new or expired state knows nothing: read the binding once (the state's IIN is only a
	// cache of it). Signed events carry their own facts and do this themselves when needed.
	if !isReport(ev) && st.Name == SNew && ev != nil {
		s.expired = true
		switch ev.(type) {
		case Press, *Press, BadPress, ForeignPress:
			s.isPress = true
		}
		s.newMsg = true // nothing is known about a live message
		if !s.reloadBinding() {
			return s.result()
		}
	}
	switch ev := ev.(type) {
	case Start:
		s.start(ev)
	case Command:
		s.command(ev)
	case Text:
		s.text(ev)
	case Press:
		s.isPress = true
		s.press(ev)
	case *Press:
		s.isPress = true
		if ev == nil {
			s.badPress()
		} else {
			s.press(*ev)
		}
	case BadPress, ForeignPress:
		s.isPress = true
		s.badPress()
	case Unsupported:
		s.newMsg = true
		s.defaultLang()
		s.showCurrent("notice.unsupported", nil)
	case Signed:
		linkMsg := 0
		if st.LinkURL != "" && (st.Name == SBinding || st.Name == SRevokeSigning) {
			linkMsg = st.MsgID // the live message shows the link and its buttons
		}
		s.signed(ev)
		s.retireLink(linkMsg)
	case RevokeDecided:
		s.decided(ev)
	default:
		return st, nil, fmt.Errorf("flows: step chat %d in %q: unknown event %T", chatID, st.Name, ev)
	}
	return s.result()
}

// isReport tells the events that carry their own facts (a signature's outcome, the city's
// answer) from the parent's own updates.
func isReport(ev Event) bool {
	switch ev.(type) {
	case Signed, RevokeDecided:
		return true
	}
	return false
}

func (m *Machine) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

func (m *Machine) pageSize() int {
	if m.PageSize <= 0 {
		return DefaultPageSize
	}
	return m.PageSize
}

// newRev returns a random non-zero revision different from old, so that buttons of an old
// screen, or of a state that expired (Rev 0), never match a new one.
func (m *Machine) newRev(old uint32) uint32 {
	for range 16 {
		var r uint32
		if m.Rand != nil {
			r = m.Rand()
		} else {
			r = rand.Uint32()
		}
		if r != 0 && r != old {
			return r
		}
	}
	if old+1 == 0 {
		return 1
	}
	return old + 1
}

// stepper carries one step.
type stepper struct {
	m    *Machine
	ctx  context.Context
	chat int64
	st   State
	now  time.Time

	answer  *Answer
	effects []Effect
	errs    []error
	isPress bool
	newMsg  bool
	expired bool // the step began with a new or expired state (SNew)
}

func (s *stepper) result() (State, []Effect, error) {
	var out []Effect
	if s.isPress {
		a := Answer{}
		if s.answer != nil {
			a = *s.answer
		}
		out = make([]Effect, 0, len(s.effects)+1)
		out = append(out, a)
	}
	out = append(out, s.effects...)
	return s.st, out, errors.Join(s.errs...)
}

func (s *stepper) answerWith(key string, args map[string]any, alert bool) {
	if s.isPress && s.answer == nil {
		s.answer = &Answer{Key: key, Args: args, Alert: alert}
	}
}

func (s *stepper) defaultLang() {
	if s.st.Lang == "" {
		s.st.Lang = Russian
	}
}

// show puts a screen on the chat under a new revision.
func (s *stepper) show(sc Screen) {
	s.defaultLang()
	s.st.Rev = s.m.newRev(s.st.Rev)
	sc.Rev = s.st.Rev
	sc.Lang = s.st.Lang
	sc.Now = s.now
	s.effects = append(s.effects, Show{Screen: sc, New: s.newMsg})
}

// fail shows ScreenError for err and keeps the state (only the revision changes, because the
// error screen replaces the live message and its buttons).
func (s *stepper) fail(op string, err error) {
	s.errs = append(s.errs, fmt.Errorf("flows: chat %d in %q: %s: %w", s.chat, s.st.Name, op, err))
	code := kezekbot.ErrorCode(err)
	s.answerWith("", nil, false)
	s.show(Screen{
		Kind:    ScreenError,
		ErrCode: code,
		Buttons: [][]Button{{btn("btn.retry", ActRefresh, 0), btn("btn.menu", ActMenu, 0)}},
	})
}

func btn(label string, act ButtonAction, id int64) Button {
	return Button{Label: label, Action: act, ID: id}
}

func urlBtn(label, url string) Button { return Button{Label: label, URL: url} }

// ---- events ----

func (s *stepper) group(ev Event) {
	switch ev.(type) {
	case Start, Command:
		s.newMsg = true
		s.show(Screen{Kind: ScreenGroup})
	case Press, *Press, BadPress, ForeignPress:
		s.isPress = true
		s.answerWith("answer.private_only", nil, true)
	}
}

func (s *stepper) start(ev Start) {
	s.newMsg = true
	if s.st.Lang == "" || s.expired {
		s.st.Lang = LangFromTelegram(ev.TelegramLang)
	}
	// /start re-reads the binding only while a bind link is out: that is the one moment the
	// binding can change without this chat's own state knowing (a Signed report that never
	// arrived). Otherwise the cached IIN is exact (only /logout here unbinds), and /start, the
	// most frequent update, costs no database query.
	if !s.expired && s.st.Name == SBinding && !s.reloadBinding() {
		return
	}
	s.welcome("")
}

// reloadBinding reads the chat's binding from Data: the state's IIN is only a cache of it.
// A new state becomes SMenu or SUnbound.
func (s *stepper) reloadBinding() bool {
	s.defaultLang()
	iin, err := s.m.Data.BoundIIN(s.ctx, s.chat)
	if err != nil && kezekbot.ErrorCode(err) != kezekbot.ENOTFOUND {
		s.fail("load binding", err)
		return false
	}
	s.st.IIN = iin
	switch {
	case iin.IsZero() && s.st.Name != SBinding:
		s.st.Name = SUnbound
	case !iin.IsZero() && (s.st.Name == SNew || s.st.Name == SUnbound || s.st.Name == SBinding):
		s.st.Name = SMenu
	}
	return true
}

func (s *stepper) command(ev Command) {
	s.newMsg = true
	name := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(ev.Name), "/"))
	name, _, _ = strings.Cut(name, "@")
	switch name {
	case "start":
		s.start(Start{})
	case "lang", "language", "til", "til_", "yazyk":
		switch l := Lang(strings.ToLower(strings.TrimSpace(ev.Arg))); l {
		case Kazakh, Russian:
			s.setLang(l)
			s.showCurrent("", nil)
		default:
			s.show(Screen{Kind: ScreenLang, Buttons: langButtons(true)})
		}
	case "logout":
		s.logout()
	case "apps", "journal", "list":
		if s.requireBound() {
			s.list(0, "")
		}
	case "menu":
		s.menu("")
	case "settings", "notifications":
		if s.requireBound() {
			s.settings("")
		}
	case "cancel":
		s.cancel()
	case "help":
		s.show(Screen{Kind: ScreenHelp, Buttons: [][]Button{{btn("btn.back", ActRefresh, 0)}}})
	default:
		s.showCurrent("notice.unknown_command", nil)
	}
}

func (s *stepper) text(ev Text) {
	s.newMsg = true
	s.defaultLang()
	if s.st.Name == SRevokeReason && !s.st.IIN.IsZero() {
		s.typedReason(ev.Text)
		return
	}
	if looksLikeIIN(ev.Text) {
		s.showCurrent("notice.iin_not_proof", nil)
		return
	}
	s.showCurrent("notice.use_buttons", nil)
}

// looksLikeIIN reports whether a message is 12 digits, maybe with spaces: someone trying to
// prove who they are by typing an IIN, which is never proof.
func looksLikeIIN(t string) bool {
	n := 0
	for _, r := range t {
		switch {
		case r >= '0' && r <= '9':
			n++
		case r == ' ' || r == '-':
		default:
			return false
		}
	}
	return n == 12
}

func (s *stepper) badPress() {
	s.answerWith("answer.stale", nil, false)
	s.newMsg = s.st.MsgID == 0
	s.defaultLang()
	s.showCurrent("notice.stale", nil)
}

func (s *stepper) press(p Press) {
	s.defaultLang()
	// Buttons of notifications (a referral issued, the window about to close) are drawn
	// outside any dialog, with revision 0: they open an application or start a revocation
	// from wherever the chat is. Both only read, through Data's visibility check, and the
	// revocation is re-checked at confirm time, so no dialog state needs to vouch for them.
	if p.Rev == 0 && (p.Action == ActOpen || p.Action == ActRevoke) {
		s.newMsg = true
		if s.requireBound() {
			if p.Action == ActOpen {
				s.card(p.ID, "")
			} else {
				s.revokeStart(p.ID)
			}
		}
		return
	}
	if s.expired || p.Rev == 0 || p.Rev != s.st.Rev {
		s.answerWith("answer.stale", nil, false)
		s.newMsg = s.st.MsgID == 0 || (p.MsgID != 0 && p.MsgID != s.st.MsgID)
		s.showCurrent("notice.stale", nil)
		return
	}
	switch p.Action {
	case ActLangKK, ActLangRU:
		s.setLang(Lang(p.Action))
		s.showCurrent("", nil)
	case ActLangMenu:
		s.show(Screen{Kind: ScreenLang, Buttons: langButtons(true)})
	case ActRefresh:
		s.showCurrent("", nil)
	case ActBind:
		s.bind()
	case ActMenu:
		s.menu("")
	case ActLogout:
		s.logout()
	case ActCancel:
		s.cancel()
	case ActBack:
		s.back()
	case ActApps:
		if s.requireBound() {
			s.list(clampPage(p.ID), "")
		}
	case ActOpen:
		if s.requireBound() {
			s.card(p.ID, "")
		}
	case ActHistory:
		if s.requireBound() {
			s.history(p.ID)
		}
	case ActDocs:
		if s.requireBound() {
			s.docs(p.ID)
		}
	case ActExtend:
		if s.requireBound() {
			s.extend(p.ID)
		}
	case ActReferral:
		if s.requireBound() && s.requireApp() {
			s.referral(s.st.AppID, p.ID)
		}
	case ActRevoke:
		if s.requireBound() {
			s.revokeStart(p.ID)
		}
	case ActPickReferral:
		if !s.inState(SRevokePick, SReferral) || !s.requireBound() || !s.requireApp() {
			return
		}
		s.pick(s.st.AppID, p.ID)
	case ActReasonPreset:
		if !s.inState(SRevokeReason) || !s.requireBound() || !s.requireApp() {
			return
		}
		s.preset(p.ID)
	case ActConfirm:
		if !s.inState(SRevokeConfirm) || !s.requireBound() || !s.requireApp() {
			return
		}
		s.confirm()
	case ActSettings:
		if s.requireBound() {
			s.settings("")
		}
	case ActMute:
		if !s.inState(SSettings) || !s.requireBound() {
			return
		}
		s.toggleMute(p.ID)
	default:
		s.answerWith("answer.stale", nil, false)
		s.showCurrent("notice.stale", nil)
	}
}

func clampPage(id int64) int {
	if id < 0 {
		return 0
	}
	if id > 1<<20 {
		return 1 << 20
	}
	return int(id)
}

// inState guards the presses that only make sense on one screen. A press with the right
// revision but an action its screen does not draw was forged: it is treated as stale.
func (s *stepper) inState(names ...StateName) bool {
	if slices.Contains(names, s.st.Name) {
		return true
	}
	s.answerWith("answer.stale", nil, false)
	s.showCurrent("notice.stale", nil)
	return false
}

func (s *stepper) requireBound() bool {
	if !s.st.IIN.IsZero() {
		return true
	}
	s.answerWith("answer.bind_first", nil, false)
	s.welcome("notice.bind_first")
	return false
}

func (s *stepper) requireApp() bool {
	if s.st.AppID != 0 {
		return true
	}
	s.answerWith("answer.stale", nil, false)
	s.showCurrent("notice.stale", nil)
	return false
}

// ---- screens ----

// showCurrent shows the screen of the state again, reading fresh data, with an optional notice.
func (s *stepper) showCurrent(notice string, args map[string]any) {
	s.defaultLang()
	bound := !s.st.IIN.IsZero()
	switch s.st.Name {
	case SNew, SUnbound:
		s.welcome(notice)
	case SBinding:
		if bound {
			s.menu(notice)
		} else if s.st.LinkURL == "" || !s.now.Before(s.st.LinkExp) {
			s.st.Name = SUnbound
			s.welcome(notice)
		} else {
			s.bindLinkScreen(notice)
		}
	case SMenu:
		s.menu(notice)
	case SSettings:
		if bound {
			s.settings(notice)
		} else {
			s.welcome(notice)
		}
	case SList:
		s.guarded(func() { s.list(s.st.Page, notice) }, notice)
	case SCard:
		s.guarded(func() { s.card(s.st.AppID, notice) }, notice)
	case SHistory:
		s.guarded(func() { s.appPage(SHistory, ScreenHistory, s.st.AppID, notice) }, notice)
	case SDocs:
		s.guarded(func() { s.appPage(SDocs, ScreenDocs, s.st.AppID, notice) }, notice)
	case SExtend:
		s.guarded(func() { s.extendNotice(s.st.AppID, notice) }, notice)
	case SReferral:
		s.guarded(func() { s.referralNotice(s.st.AppID, s.st.RefID, notice) }, notice)
	case SRevokePick:
		s.guarded(func() { s.revokeStartNotice(s.st.AppID, notice) }, notice)
	case SRevokeReason:
		s.guarded(func() { s.reasonScreen(s.st.AppID, s.st.RefID, notice, nil) }, notice)
	case SRevokeConfirm:
		s.guarded(func() { s.confirmScreen(s.st.AppID, s.st.RefID, s.st.Reason, notice) }, notice)
	case SRevokePending:
		s.guarded(func() { s.pendingScreen(notice) }, notice)
	case SRevokeSigning:
		if !bound {
			s.welcome(notice)
		} else if s.st.LinkURL == "" || !s.now.Before(s.st.LinkExp) {
			s.card(s.st.AppID, "notice.link_expired")
		} else {
			s.signLinkScreen(notice)
		}
	default:
		// A state from another version or a damaged one: start over.
		s.st = State{Lang: s.st.Lang, IIN: s.st.IIN, Rev: s.st.Rev, MsgID: s.st.MsgID, Nonce: s.st.Nonce}
		if bound {
			s.st.Name = SMenu
			s.menu(notice)
		} else {
			s.st.Name = SUnbound
			s.welcome(notice)
		}
	}
}

// guarded runs a screen of a bound state, or the welcome screen when the chat is not bound.
func (s *stepper) guarded(f func(), notice string) {
	if s.st.IIN.IsZero() {
		s.st.Name = SUnbound
		s.welcome(notice)
		return
	}
	if s.st.AppID == 0 && s.st.Name != SList {
		s.st.Name = SMenu
		s.menu(notice)
		return
	}
	f()
}

func langButtons(back bool) [][]Button {
	rows := [][]Button{{btn("btn.lang_kk", ActLangKK, 0), btn("btn.lang_ru", ActLangRU, 0)}}
	if back {
		rows = append(rows, []Button{btn("btn.back", ActRefresh, 0)})
	}
	return rows
}

func (s *stepper) welcome(notice string) {
	rows := langButtons(false)
	if s.st.IIN.IsZero() {
		s.st.Name = SUnbound
		rows = append(rows, []Button{btn("btn.bind", ActBind, 0)})
	} else {
		s.st.Name = SMenu
		rows = append(rows, []Button{btn("btn.apps", ActApps, 0)})
	}
	s.clearFlow()
	s.show(Screen{Kind: ScreenWelcome, Notice: notice, IIN: s.st.IIN, Buttons: rows})
}

// clearFlow forgets the application and revocation in progress (not the outstanding link's
// nonce: a signature that still arrives for it is reported).
func (s *stepper) clearFlow() {
	s.st.AppID, s.st.RefID, s.st.Reason, s.st.Page = 0, 0, "", 0
}

func (s *stepper) menu(notice string) {
	if s.st.IIN.IsZero() {
		s.welcome(notice)
		return
	}
	s.st.Name = SMenu
	s.clearFlow()
	rows := [][]Button{{btn("btn.apps", ActApps, 0)}}
	if _, ok := s.m.Data.(MuteStore); ok {
		rows = append(rows, []Button{btn("btn.settings", ActSettings, 0)})
	}
	rows = append(rows, []Button{btn("btn.lang", ActLangMenu, 0), btn("btn.logout", ActLogout, 0)})
	s.show(Screen{Kind: ScreenMenu, Notice: notice, IIN: s.st.IIN, Buttons: rows})
}

// mutes returns the store of mutes, or shows ScreenError when Data has none.
func (s *stepper) mutes() (MuteStore, bool) {
	ms, ok := s.m.Data.(MuteStore)
	if !ok {
		s.fail("settings", kezekbot.Errorf(kezekbot.EINTERNAL, "Data does not implement MuteStore"))
	}
	return ms, ok
}

// settings shows /settings: every MuteKinds kind with a button that flips it, read fresh.
func (s *stepper) settings(notice string) {
	ms, ok := s.mutes()
	if !ok {
		return
	}
	kinds, err := ms.Muted(s.ctx, s.chat)
	if err != nil {
		s.fail("load mutes", err)
		return
	}
	muted := make(map[string]bool, len(kinds))
	for _, k := range kinds {
		muted[k] = true
	}
	s.settingsScreen(notice, muted)
}

func (s *stepper) settingsScreen(notice string, muted map[string]bool) {
	s.st.Name = SSettings
	s.clearFlow()
	rows := make([][]Button, 0, len(MuteKinds)+1)
	for i, k := range MuteKinds {
		label := "btn.mute_on"
		if muted[k.Kind] {
			label = "btn.mute_off"
		}
		rows = append(rows, []Button{{Label: label, LabelArgs: map[string]any{"Kind": CatalogKey(k.Label)}, Action: ActMute, ID: int64(i)}})
	}
	rows = append(rows, []Button{btn("btn.menu", ActMenu, 0)})
	s.show(Screen{Kind: ScreenSettings, Notice: notice, Muted: muted, Buttons: rows})
}

// toggleMute flips MuteKinds[i] for the chat: the state is read fresh, so a second device's
// change is not undone by a press drawn before it (that press is stale anyway).
func (s *stepper) toggleMute(i int64) {
	if i < 0 || i >= int64(len(MuteKinds)) {
		s.answerWith("answer.stale", nil, false)
		s.showCurrent("notice.stale", nil)
		return
	}
	ms, ok := s.mutes()
	if !ok {
		return
	}
	kinds, err := ms.Muted(s.ctx, s.chat)
	if err != nil {
		s.fail("load mutes", err)
		return
	}
	muted := make(map[string]bool, len(kinds)+1)
	for _, k := range kinds {
		muted[k] = true
	}
	k := MuteKinds[i]
	mute := !muted[k.Kind]
	if err := ms.SetMuted(s.ctx, s.chat, k.Kind, mute); err != nil {
		s.fail("set mute", err)
		return
	}
	muted[k.Kind] = mute
	if !mute {
		delete(muted, k.Kind)
	}
	answer := "answer.unmuted"
	if mute {
		answer = "answer.muted"
	}
	s.answerWith(answer, map[string]any{"Kind": CatalogKey(k.Label)}, false)
	s.settingsScreen("", muted)
}

func (s *stepper) bind() {
	if !s.st.IIN.IsZero() {
		s.menu("")
		return
	}
	link, err := s.m.Links.Issue(s.ctx, SignRequest{ChatID: s.chat, Action: kezekbot.ActionBind, Lang: s.st.Lang})
	if errors.Is(err, ErrTooManyLinks) {
		s.answerWith("", nil, false)
		s.showCurrent("link_limits.rate", nil)
		return
	}
	if err != nil {
		s.fail("issue bind link", err)
		return
	}
	s.st.Name = SBinding
	s.setLink(link)
	s.bindLinkScreen("")
}

func (s *stepper) setLink(l Link) {
	s.st.Nonce, s.st.LinkURL, s.st.LinkExp = l.Nonce, l.URL, l.Expires
}

func (s *stepper) stateLink() *Link {
	return &Link{URL: s.st.LinkURL, Expires: s.st.LinkExp, Nonce: s.st.Nonce}
}

func (s *stepper) bindLinkScreen(notice string) {
	s.show(Screen{Kind: ScreenBindLink, Notice: notice, Link: s.stateLink(), Buttons: [][]Button{
		{urlBtn("btn.sign_auth", s.st.LinkURL)},
		{btn("btn.cancel", ActCancel, 0)},
	}})
}

func (s *stepper) logout() {
	if err := s.m.Data.Unbind(s.ctx, s.chat); err != nil {
		s.fail("unbind", err)
		return
	}
	s.cancelLink()
	s.st = State{Name: SUnbound, Lang: s.st.Lang, Rev: s.st.Rev, MsgID: s.st.MsgID}
	s.show(Screen{Kind: ScreenLoggedOut, Buttons: [][]Button{{btn("btn.bind", ActBind, 0)}}})
}

// setLang switches the chat's language and, when Data keeps one (LangStore), writes it there
// too: notifications and broadcasts read the stored language, not this state. A failed write
// is logged; the dialog still switches.
func (s *stepper) setLang(l Lang) {
	changed := s.st.Lang != l
	s.st.Lang = l
	if ls, ok := s.m.Data.(LangStore); ok && changed {
		if err := ls.SetLang(s.ctx, s.chat, string(l)); err != nil {
			s.errs = append(s.errs, fmt.Errorf("flows: chat %d: store language: %w", s.chat, err))
		}
	}
}

// retireLink takes the buttons off the message that showed a signing link once the link is
// spent and the outcome went out as a new message: «Подписать ЭЦП ↗» on a used link would
// only lead to an error page. The edit comes first, while State.MsgID still names that message.
func (s *stepper) retireLink(msgID int) {
	if msgID == 0 || s.st.LinkURL != "" {
		return
	}
	sent := slices.ContainsFunc(s.effects, func(e Effect) bool { sh, ok := e.(Show); return ok && sh.New })
	if !sent {
		return
	}
	used := Show{Screen: Screen{Kind: ScreenLinkUsed, Rev: s.st.Rev, Lang: s.st.Lang, Now: s.now}}
	s.effects = slices.Insert(s.effects, 0, Effect(used))
}

// cancelLink kills the outstanding signing link when Links can; the nonce is kept so that a
// signature that raced the cancel is still reported.
func (s *stepper) cancelLink() {
	if s.st.Nonce == "" {
		return
	}
	if c, ok := s.m.Links.(LinkCanceler); ok {
		if err := c.Cancel(s.ctx, s.chat, s.st.Nonce); err != nil {
			s.errs = append(s.errs, fmt.Errorf("flows: chat %d: cancel link: %w", s.chat, err))
		}
	}
	s.st.LinkURL, s.st.LinkExp = "", time.Time{}
}

func (s *stepper) cancel() {
	s.answerWith("answer.cancelled", nil, false)
	switch s.st.Name {
	case SBinding:
		s.cancelLink()
		s.st.Name = SUnbound
		s.welcome("notice.cancelled")
	case SRevokePick, SRevokeReason, SRevokeConfirm, SRevokeSigning:
		if s.st.Name == SRevokeSigning {
			s.cancelLink()
		}
		s.st.RefID, s.st.Reason = 0, ""
		if s.st.IIN.IsZero() || s.st.AppID == 0 {
			s.menu("notice.cancelled")
			return
		}
		s.card(s.st.AppID, "notice.cancelled")
	default:
		s.showCurrent("", nil)
	}
}

func (s *stepper) back() {
	switch s.st.Name {
	case SCard:
		s.list(s.st.Page, "")
	case SHistory, SDocs, SReferral, SExtend, SRevokePick, SRevokeReason:
		s.guarded(func() { s.card(s.st.AppID, "") }, "")
	case SRevokeConfirm:
		s.guarded(func() { s.reasonScreen(s.st.AppID, s.st.RefID, "", nil) }, "")
	case SList, SSettings:
		s.menu("")
	default:
		s.showCurrent("", nil)
	}
}

// list shows a page of «Журнал заявлений», newest first.
func (s *stepper) list(page int, notice string) {
	apps, err := s.m.Data.Applications(s.ctx, s.st.IIN)
	if err != nil {
		s.fail("list applications", err)
		return
	}
	// Only the applicant's own applications, whatever the store returned.
	apps = slices.DeleteFunc(slices.Clone(apps), func(a kezekbot.Application) bool { return !a.VisibleTo(s.st.IIN) })
	slices.SortStableFunc(apps, func(a, b kezekbot.Application) int {
		if c := b.RegisteredAt.Compare(a.RegisteredAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	ps := s.m.pageSize()
	pages := max(1, (len(apps)+ps-1)/ps)
	page = min(max(page, 0), pages-1)
	lo, hi := page*ps, min(page*ps+ps, len(apps))
	onPage := apps[lo:hi]

	rows := make([][]Button, 0, len(onPage)+2)
	for _, a := range onPage {
		rows = append(rows, []Button{{
			Label:     "btn.app",
			LabelArgs: map[string]any{"Number": a.Number, "Child": ShortName(a.ChildName)},
			Action:    ActOpen, ID: a.ID,
		}})
	}
	var nav []Button
	if page > 0 {
		nav = append(nav, btn("btn.prev", ActApps, int64(page-1)))
	}
	if page < pages-1 {
		nav = append(nav, btn("btn.next", ActApps, int64(page+1)))
	}
	if nav != nil {
		rows = append(rows, nav)
	}
	rows = append(rows, []Button{btn("btn.menu", ActMenu, 0)})

	s.st.Name, s.st.Page, s.st.AppID, s.st.RefID, s.st.Reason = SList, page, 0, 0, ""
	s.show(Screen{Kind: ScreenList, Notice: notice, Apps: onPage, Page: page, Pages: pages, Total: len(apps), Buttons: rows})
}

// loadApp reads an application fresh, as the bound parent sees it.
func (s *stepper) loadApp(id int64) (*kezekbot.ApplicationDetail, bool) {
	d, err := s.m.Data.Application(s.ctx, s.st.IIN, id)
	if err == nil && !d.VisibleTo(s.st.IIN) {
		err = kezekbot.Errorf(kezekbot.ENOTFOUND, "application %d is not visible to the chat's IIN", id)
	}
	if err != nil {
		s.fail("load application "+strconv.FormatInt(id, 10), err)
		return nil, false
	}
	return &d, true
}

func findRef(d *kezekbot.ApplicationDetail, id int64) (*kezekbot.Referral, bool) {
	for i := range d.Referrals {
		if d.Referrals[i].ID == id {
			r := d.Referrals[i]
			return &r, true
		}
	}
	return nil, false
}

func (s *stepper) setApp(name StateName, id int64) {
	s.st.Name, s.st.AppID = name, id
	if name != SRevokeReason && name != SRevokeConfirm && name != SReferral {
		s.st.RefID = 0
	}
	if name != SRevokeConfirm {
		s.st.Reason = ""
	}
}

// card shows «Информация о заявлении» with the buttons the rules allow now.
func (s *stepper) card(id int64, notice string) {
	d, ok := s.loadApp(id)
	if !ok {
		return
	}
	s.setApp(SCard, d.ID)
	rows := [][]Button{{btn("btn.history", ActHistory, d.ID), btn("btn.docs", ActDocs, d.ID)}}
	refs := slices.Clone(d.Referrals)
	slices.SortStableFunc(refs, func(a, b kezekbot.Referral) int { return b.IssuedAt.Compare(a.IssuedAt) })
	for i, r := range refs {
		if i == 3 {
			break
		}
		rows = append(rows, []Button{{Label: "btn.referral", LabelArgs: map[string]any{"Name": r.Kindergarten.Name}, Action: ActReferral, ID: r.ID}})
	}
	if len(d.Revocable(s.now)) > 0 {
		rows = append(rows, []Button{btn("btn.revoke", ActRevoke, d.ID)})
	}
	if len(d.ActiveReferrals()) > 0 {
		rows = append(rows, []Button{btn("btn.extend", ActExtend, d.ID)})
	}
	rows = append(rows, []Button{btn("btn.to_list", ActApps, int64(s.st.Page)), btn("btn.menu", ActMenu, 0)})
	s.show(Screen{Kind: ScreenCard, Notice: notice, App: d, Buttons: rows})
}

func backRow(appID int64) []Button { return []Button{btn("btn.back", ActOpen, appID)} }

func (s *stepper) history(id int64) { s.appPage(SHistory, ScreenHistory, id, "") }

func (s *stepper) docs(id int64) { s.appPage(SDocs, ScreenDocs, id, "") }

// appPage shows one of the application's sub-pages («История изменений», «Общие документы»):
// fresh data, with a way back to the card.
func (s *stepper) appPage(name StateName, kind ScreenKind, id int64, notice string) {
	d, ok := s.loadApp(id)
	if !ok {
		return
	}
	s.setApp(name, d.ID)
	s.show(Screen{Kind: kind, Notice: notice, App: d, Buttons: [][]Button{backRow(d.ID)}})
}

func (s *stepper) extend(id int64) { s.extendNotice(id, "") }

// extendNotice explains «Продлить направление» for the active referrals, as the portal shows
// the button: how to extend where the department allows it, else why the bot cannot.
func (s *stepper) extendNotice(id int64, notice string) {
	d, ok := s.loadApp(id)
	if !ok {
		return
	}
	s.setApp(SExtend, d.ID)
	var ref *kezekbot.Referral
	if act := d.ActiveReferrals(); len(act) > 0 {
		ref = &act[0]
	}
	s.show(Screen{Kind: ScreenExtend, Notice: notice, App: d, Ref: ref, Buttons: [][]Button{backRow(d.ID)}})
}

func (s *stepper) referral(appID, refID int64) { s.referralNotice(appID, refID, "") }

func (s *stepper) referralNotice(appID, refID int64, notice string) {
	d, ok := s.loadApp(appID)
	if !ok {
		return
	}
	r, ok := findRef(d, refID)
	if !ok {
		s.fail("find referral", kezekbot.Errorf(kezekbot.ENOTFOUND, "referral %d is not on application %d", refID, appID))
		return
	}
	s.setApp(SReferral, d.ID)
	s.st.RefID = r.ID
	var rows [][]Button
	if maps := MapButtons(r.Kindergarten); len(maps) > 0 {
		rows = append(rows, maps)
	}
	if kezekbot.CheckRevoke(*r, s.now) == nil {
		rows = append(rows, []Button{btn("btn.revoke", ActPickReferral, r.ID)})
	}
	if r.State == kezekbot.ReferralActive {
		rows = append(rows, []Button{btn("btn.extend", ActExtend, d.ID)})
	}
	rows = append(rows, backRow(d.ID))
	s.show(Screen{Kind: ScreenReferral, Notice: notice, App: d, Ref: r, Buttons: rows})
}

// MapButtons returns URL buttons to a kindergarten on 2GIS and Yandex Maps, or nothing when
// its coordinates are unknown or out of range.
func MapButtons(k kezekbot.Kindergarten) []Button {
	if (k.Lat == 0 && k.Lon == 0) || k.Lat < -90 || k.Lat > 90 || k.Lon < -180 || k.Lon > 180 || k.Lat != k.Lat || k.Lon != k.Lon {
		return nil
	}
	lon := strconv.FormatFloat(k.Lon, 'f', 6, 64)
	lat := strconv.FormatFloat(k.Lat, 'f', 6, 64)
	return []Button{
		urlBtn("btn.map_2gis", "https://2gis.kz/astana/geo/"+lon+","+lat),
		urlBtn("btn.map_yandex", "https://yandex.kz/maps/?pt="+lon+","+lat+"&z=17&l=map"),
	}
}

func (s *stepper) revokeStart(appID int64) { s.revokeStartNotice(appID, "") }

// revokeStartNotice begins «Отозвать направление»: straight to the reason when one referral
// can be revoked, a choice when several can, a refusal when none can (the window closed since
// the card was drawn).
func (s *stepper) revokeStartNotice(appID int64, notice string) {
	d, ok := s.loadApp(appID)
	if !ok {
		return
	}
	rev := d.Revocable(s.now)
	switch len(rev) {
	case 0:
		s.refuseApp(d)
	case 1:
		s.reasonScreen(d.ID, rev[0].ID, notice, d)
	default:
		s.setApp(SRevokePick, d.ID)
		rows := make([][]Button, 0, len(rev)+1)
		for _, r := range rev {
			rows = append(rows, []Button{{Label: "btn.pick", LabelArgs: map[string]any{"Name": r.Kindergarten.Name, "IssuedDate": r.IssuedAt}, Action: ActPickReferral, ID: r.ID}})
		}
		rows = append(rows, []Button{btn("btn.cancel", ActCancel, 0)})
		s.show(Screen{Kind: ScreenRevokePick, Notice: notice, App: d, Buttons: rows})
	}
}

// refuseApp shows why no referral of d can be revoked now: the latest active referral's
// refusal (its window closed), else the latest referral's (not active).
func (s *stepper) refuseApp(d *kezekbot.ApplicationDetail) {
	var pickRef *kezekbot.Referral
	better := func(r, than *kezekbot.Referral) bool {
		ra, ta := r.State == kezekbot.ReferralActive, than.State == kezekbot.ReferralActive
		if ra != ta {
			return ra
		}
		return r.IssuedAt.After(than.IssuedAt)
	}
	for i := range d.Referrals {
		if r := &d.Referrals[i]; pickRef == nil || better(r, pickRef) {
			pickRef = r
		}
	}
	var refusal *kezekbot.RevokeRefusal
	if pickRef != nil {
		var rr *kezekbot.RevokeRefusal
		if errors.As(kezekbot.CheckRevoke(*pickRef, s.now), &rr) {
			refusal = rr
		}
	}
	if refusal == nil {
		refusal = &kezekbot.RevokeRefusal{Reason: kezekbot.RefusalNotActive}
	}
	s.refused(d, pickRef, refusal)
}

func (s *stepper) refused(d *kezekbot.ApplicationDetail, r *kezekbot.Referral, refusal *kezekbot.RevokeRefusal) {
	s.answerWith("answer.refused", nil, false)
	s.setApp(SCard, d.ID)
	s.show(Screen{Kind: ScreenRefused, App: d, Ref: r, Refusal: refusal, Buttons: [][]Button{
		{btn("btn.open_app", ActOpen, d.ID)},
		{btn("btn.menu", ActMenu, 0)},
	}})
}

// checkRef reads the application fresh and checks that referral refID may be revoked now.
// It shows the refusal or the error itself and returns ok=false then.
func (s *stepper) checkRef(appID, refID int64, d *kezekbot.ApplicationDetail) (*kezekbot.ApplicationDetail, *kezekbot.Referral, bool) {
	if d == nil {
		var ok bool
		if d, ok = s.loadApp(appID); !ok {
			return nil, nil, false
		}
	}
	r, ok := findRef(d, refID)
	if !ok {
		s.fail("find referral", kezekbot.Errorf(kezekbot.ENOTFOUND, "referral %d is not on application %d", refID, appID))
		return nil, nil, false
	}
	var rr *kezekbot.RevokeRefusal
	if err := kezekbot.CheckRevoke(*r, s.now); err != nil {
		if !errors.As(err, &rr) {
			rr = &kezekbot.RevokeRefusal{Reason: kezekbot.RefusalNotActive, State: r.State}
		}
		s.refused(d, r, rr)
		return nil, nil, false
	}
	return d, r, true
}

func (s *stepper) pick(appID, refID int64) {
	s.reasonScreen(appID, refID, "", nil)
}

// reasonScreen asks «Причина снятия»: a preset or a typed reason.
func (s *stepper) reasonScreen(appID, refID int64, notice string, d *kezekbot.ApplicationDetail) {
	d, r, ok := s.checkRef(appID, refID, d)
	if !ok {
		return
	}
	s.setApp(SRevokeReason, d.ID)
	s.st.RefID = r.ID
	rows := make([][]Button, 0, len(ReasonPresets)+1)
	for i, p := range ReasonPresets {
		rows = append(rows, []Button{{Text: p.Text(s.st.Lang), Action: ActReasonPreset, ID: int64(i)}})
	}
	rows = append(rows, []Button{btn("btn.cancel", ActCancel, 0)})
	s.show(Screen{Kind: ScreenRevokeReason, Notice: notice, App: d, Ref: r, Buttons: rows})
}

func (s *stepper) preset(i int64) {
	if i < 0 || i >= int64(len(ReasonPresets)) {
		s.answerWith("answer.stale", nil, false)
		s.showCurrent("notice.stale", nil)
		return
	}
	p := ReasonPresets[i]
	if p.Other {
		s.reasonScreen(s.st.AppID, s.st.RefID, "notice.type_reason", nil)
		return
	}
	s.confirmScreen(s.st.AppID, s.st.RefID, p.Text(s.st.Lang), "")
}

func (s *stepper) typedReason(t string) {
	reason, err := kezekbot.NormalizeReason(t)
	if err != nil {
		notice := "notice.reason_invalid"
		if utf8.RuneCountInString(strings.TrimSpace(t)) > kezekbot.MaxReasonLen {
			notice = "notice.reason_too_long"
		}
		s.guarded(func() {
			s.reasonScreenArgs(notice, map[string]any{"Max": kezekbot.MaxReasonLen})
		}, notice)
		return
	}
	s.guarded(func() { s.confirmScreen(s.st.AppID, s.st.RefID, reason, "") }, "")
}

func (s *stepper) reasonScreenArgs(notice string, args map[string]any) {
	n := len(s.effects)
	s.reasonScreen(s.st.AppID, s.st.RefID, notice, nil)
	if len(s.effects) > n {
		if sh, ok := s.effects[len(s.effects)-1].(Show); ok && sh.Screen.Kind == ScreenRevokeReason {
			sh.Screen.NoticeArgs = args
			s.effects[len(s.effects)-1] = sh
		}
	}
}

// confirmScreen shows the summary and the consequence, with «Подтвердить отказ».
func (s *stepper) confirmScreen(appID, refID int64, reason, notice string) {
	d, r, ok := s.checkRef(appID, refID, nil)
	if !ok {
		return
	}
	if _, err := kezekbot.NormalizeReason(reason); err != nil {
		s.reasonScreen(d.ID, r.ID, "notice.reason_invalid", d)
		return
	}
	s.setApp(SRevokeConfirm, d.ID)
	s.st.RefID, s.st.Reason = r.ID, reason
	s.show(Screen{Kind: ScreenRevokeConfirm, Notice: notice, App: d, Ref: r, Reason: reason, Buttons: [][]Button{
		{btn("btn.confirm", ActConfirm, r.ID)},
		{btn("btn.change_reason", ActBack, 0), btn("btn.cancel", ActCancel, 0)},
	}})
}

// confirm is «Подтвердить отказ»: the 24-hour rule is checked again on fresh data (never the
// state's), then a SIGN link is issued. The state's revision changes with the link screen, so
// a second press of the same button is stale and issues nothing.
func (s *stepper) confirm() {
	reason, err := kezekbot.NormalizeReason(s.st.Reason)
	if err != nil {
		s.reasonScreen(s.st.AppID, s.st.RefID, "notice.reason_invalid", nil)
		return
	}
	d, r, ok := s.checkRef(s.st.AppID, s.st.RefID, nil)
	if !ok {
		return
	}
	link, err := s.m.Links.Issue(s.ctx, SignRequest{
		ChatID: s.chat, Action: kezekbot.ActionRevoke, Lang: s.st.Lang, IIN: s.st.IIN,
		ApplicationID: d.ID, ReferralID: r.ID, Reason: reason,
	})
	if errors.Is(err, ErrTooManyLinks) {
		s.answerWith("", nil, false)
		s.showCurrent("link_limits.rate", nil)
		return
	}
	if err != nil {
		s.fail("issue revoke link", err)
		return
	}
	s.st.Name = SRevokeSigning
	s.setLink(link)
	s.signLinkScreenWith("", d, r)
}

func (s *stepper) signLinkScreen(notice string) {
	d, ok := s.loadApp(s.st.AppID)
	if !ok {
		return
	}
	r, _ := findRef(d, s.st.RefID)
	s.signLinkScreenWith(notice, d, r)
}

func (s *stepper) signLinkScreenWith(notice string, d *kezekbot.ApplicationDetail, r *kezekbot.Referral) {
	s.show(Screen{Kind: ScreenSignLink, Notice: notice, App: d, Ref: r, Reason: s.st.Reason, Link: s.stateLink(), Buttons: [][]Button{
		{urlBtn("btn.sign", s.st.LinkURL)},
		{btn("btn.cancel", ActCancel, 0)},
	}})
}

// ---- signatures ----

// signed takes the signer-link's report. It is current when its nonce is the state's, or when
// the state was lost (expired) since the link was handed out; any other report is stale and
// ignored. The nonce is cleared, so a report delivered twice is shown once.
func (s *stepper) signed(ev Signed) {
	lost := s.st.Name == SNew
	if ev.Nonce == "" || (!lost && ev.Nonce != s.st.Nonce) {
		return
	}
	if ev.Rejected != "" {
		s.rejected(ev)
		return
	}
	s.newMsg = true
	s.defaultLang()
	s.st.Nonce, s.st.LinkURL, s.st.LinkExp = "", "", time.Time{}
	switch ev.Action {
	case kezekbot.ActionBind:
		if ev.OK && !ev.IIN.IsZero() {
			s.st.IIN = ev.IIN
			s.st.Name = SMenu
			s.clearFlow()
			s.show(Screen{Kind: ScreenBound, IIN: s.st.IIN, Buttons: [][]Button{{btn("btn.apps", ActApps, 0)}}})
			return
		}
		if s.st.IIN.IsZero() {
			s.st.Name = SUnbound
		}
		s.welcome(signNotice(ev.Code))
	case kezekbot.ActionRevoke:
		if lost || s.st.IIN.IsZero() {
			if !s.reloadBinding() {
				return
			}
			if s.st.IIN.IsZero() {
				s.welcome("notice.bind_first")
				return
			}
		}
		if ev.OK && ev.Result.Pending {
			s.pending(ev)
			return
		}
		if ev.OK {
			app := ev.Result.Application
			if !app.VisibleTo(s.st.IIN) {
				s.fail("revoke result", kezekbot.Errorf(kezekbot.ENOTFOUND, "revoke result for application %d is not the chat's", app.ID))
				return
			}
			ref := ev.Result.Referral
			s.setApp(SCard, app.ID)
			s.show(Screen{Kind: ScreenRevoked, App: &kezekbot.ApplicationDetail{Application: app}, Ref: &ref, Buttons: [][]Button{
				{btn("btn.open_app", ActOpen, app.ID)},
				{btn("btn.apps", ActApps, 0)},
			}})
			return
		}
		s.revokeFailed(ev)
	default:
		s.showCurrent("", nil)
	}
}

// rejected shows why eGov mobile's signature was refused, above the link screen while the
// link works (the parent can sign again with the right key) or above the screen the link came
// from once it expired. A report for a link the chat no longer waits on is ignored.
func (s *stepper) rejected(ev Signed) {
	if s.st.Name != SBinding && s.st.Name != SRevokeSigning {
		return
	}
	if ev.Rejected == RejectedSpent {
		// The link is dead: back to where a new one is asked for (the bind button, or the
		// revocation's confirmation with «Подтвердить»).
		s.st.Nonce, s.st.LinkURL, s.st.LinkExp = "", "", time.Time{}
		if s.st.Name == SRevokeSigning {
			s.st.Name = SRevokeConfirm
		} else {
			s.st.Name = SUnbound
		}
		s.newMsg = true
		s.showCurrent("link_limits.spent", nil)
		return
	}
	key := "egov.rejected." + ev.Rejected
	switch ev.Rejected {
	case RejectedWrongKey:
		key += "_" + string(ev.Action)
	case RejectedOtherPerson, RejectedAltered, RejectedCertificate, RejectedExpired:
	default:
		key = "egov.rejected." + RejectedOther
	}
	s.newMsg = true
	s.showCurrent(key, nil)
}

func signNotice(code string) string {
	if code == "" {
		code = kezekbot.EINTERNAL
	}
	return "error." + code
}

// revokeFailed reports a signature that arrived but could not revoke: EEXPIRED and ECONFLICT
// are refusals explained from fresh data, anything else is an error screen.
func (s *stepper) revokeFailed(ev Signed) {
	appID, refID := s.st.AppID, s.st.RefID
	if appID == 0 {
		appID = ev.Result.Application.ID
	}
	if refID == 0 {
		refID = ev.Result.Referral.ID
	}
	if ev.Code != kezekbot.EEXPIRED && ev.Code != kezekbot.ECONFLICT {
		s.fail("revoke", kezekbot.Errorf(cmp.Or(ev.Code, kezekbot.EINTERNAL), "the signer-link reported a failed revocation"))
		return
	}
	if appID == 0 {
		// The state was lost and the report names no application: say what happened.
		reason := kezekbot.RefusalNotActive
		if ev.Code == kezekbot.EEXPIRED {
			reason = kezekbot.RefusalWindowClosed
		}
		s.st.Name = SMenu
		s.clearFlow()
		s.show(Screen{Kind: ScreenRefused, Refusal: &kezekbot.RevokeRefusal{Reason: reason}, Buttons: [][]Button{
			{btn("btn.apps", ActApps, 0)},
			{btn("btn.menu", ActMenu, 0)},
		}})
		return
	}
	d, ok := s.loadApp(appID)
	if !ok {
		return
	}
	r, _ := findRef(d, refID)
	var refusal *kezekbot.RevokeRefusal
	if r != nil {
		if !errors.As(kezekbot.CheckRevoke(*r, s.now), &refusal) {
			refusal = nil
		}
		if refusal == nil && ev.Code == kezekbot.EEXPIRED {
			refusal = &kezekbot.RevokeRefusal{Reason: kezekbot.RefusalWindowClosed, State: r.State, ClosedAt: r.RevocableUntil()}
		}
	}
	if refusal == nil {
		reason := kezekbot.RefusalNotActive
		if ev.Code == kezekbot.EEXPIRED {
			reason = kezekbot.RefusalWindowClosed
		}
		refusal = &kezekbot.RevokeRefusal{Reason: reason}
	}
	s.refused(d, r, refusal)
}

// ---- helpers ----

// ShortName shortens a full name for lists: the surname and the first name's initial,
// «Иванов Алексей Петрович» → «Иванов А.». A single word is returned as it is.
func ShortName(full string) string {
	surname, initial := ShortNameParts(full)
	if initial == "" {
		return surname
	}
	return surname + " " + initial + "."
}

// ShortNameParts returns the surname and the first name's initial letter of a full name, as
// substrings of it (no allocation, for the list screen's hot path).
func ShortNameParts(full string) (surname, initial string) {
	i := skipSpace(full, 0)
	start := i
	for i < len(full) {
		r, n := utf8.DecodeRuneInString(full[i:])
		if unicode.IsSpace(r) {
			break
		}
		i += n
	}
	surname = full[start:i]
	if i = skipSpace(full, i); i < len(full) {
		if r, n := utf8.DecodeRuneInString(full[i:]); r != utf8.RuneError {
			initial = full[i : i+n]
		}
	}
	return surname, initial
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}

// ReasonPreset is a ready «Причина снятия». The text goes into the signed document in the
// parent's language, so it lives here and not in the UI catalogs, where copy may be edited.
type ReasonPreset struct {
	KK, RU string
	// Other asks the parent to type the reason.
	Other bool
}

// Text returns the preset in lang.
func (p ReasonPreset) Text(l Lang) string {
	if l == Kazakh {
		return p.KK
	}
	return p.RU
}

// ReasonPresets are the reasons offered as buttons; the last one asks for a typed reason.
var ReasonPresets = []ReasonPreset{
	{KK: "Басқа балабақшаны таңдадық", RU: "Выбрали другой детский сад"},
	{KK: "Басқа жерге көшеміз", RU: "Переезд"},
	{KK: "Бала әзірге балабақшаға бармайды", RU: "Ребёнок пока не пойдёт в сад"},
	{KK: "Балабақша үйден алыс", RU: "Далеко от дома"},
	{KK: "Басқа себеп — өзім жазамын", RU: "Другая причина — напишу", Other: true},
}
