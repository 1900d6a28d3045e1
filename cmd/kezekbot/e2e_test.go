package main

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// Demo applications the scenarios use (store/postgres seed.go).
const (
	appRevocable = "УО.2021.004518.1" // parent 0: referral issued 10 minutes before the seed
	appQueued0   = "УО.2023.011207.1" // parent 0: queued
	appTooLate   = "УО.2021.003390.1" // parent 1: referral issued two days before
	appKim       = "УО.2022.009963.1" // parent 2: queued
)

// TestEndToEnd drives the whole binary's bot: updates through the fake Bot API's getUpdates,
// the real intake, flows, signer-link pages, PostgreSQL and Redis, and signatures made with
// the test CA's keys. Each scenario gets its own schema, Redis key prefix and fake Telegram.
func TestEndToEnd(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, e *e2eEnv)
	}{
		{"start", scenarioStart},
		{"bind", scenarioBind},
		{"list_pages", scenarioList},
		{"card_and_history", scenarioCard},
		{"revoke_within_24h", scenarioRevoke},
		{"revoke_after_24h_refused", scenarioRevokeTooLate},
		{"late_confirm_refused", scenarioLateConfirm},
		{"window_closes_while_signing", scenarioClosesWhileSigning},
		{"cancel_kills_link", scenarioCancelKillsLink},
		{"state_expires_while_signing", scenarioExpiresWhileSigning},
		{"blocked_and_back", scenarioBlockedAndBack},
		{"typed_reason_kk", scenarioTypedReason},
		{"commands_and_odd_messages", scenarioCommands},
		{"other_parents_application_invisible", scenarioInvisible},
		{"stale_buttons", scenarioStale},
		{"double_confirm_one_link", scenarioDoubleConfirm},
		{"restart_mid_dialog", scenarioRestart},
		{"settings_mute_reminder", scenarioSettings},
		{"gost_bind_and_revoke", scenarioGOST},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e := newE2EEnv(t)
			e.start()
			sc.run(t, e)
			e.checkAnswered()
			e.checkLogs()
		})
	}
}

func scenarioStart(t *testing.T, e *e2eEnv) {
	c := e.chat(5001, "ru", 1)
	s := c.send("/start")
	if len(s.Shows) != 1 || s.Shows[0].Method != "sendMessage" {
		t.Fatalf("/start: want one new message, got %d calls", len(s.Shows))
	}
	c.wantText(s, e.tr("ru", "welcome.title", nil), e.tr("ru", "welcome.unbound", nil))
	if _, _, ok := c.findButton(e.tr("ru", "btn.bind", nil)); !ok {
		t.Fatal("the welcome screen has no bind button")
	}
	st := e.state(c.id)
	if st.Name != flows.SUnbound || st.Lang != flows.Russian || st.MsgID != s.MsgID || st.Rev == 0 || !st.IIN.IsZero() {
		t.Fatalf("state in Redis after /start: %+v (message %d)", st, s.MsgID)
	}

	// A Kazakh-speaking user is greeted in Kazakh.
	k := e.chat(5002, "kk", 0)
	s = k.send("/start")
	k.wantText(s, e.tr("kk", "welcome.title", nil))
	if st := e.state(k.id); st.Lang != flows.Kazakh {
		t.Fatalf("state language %q, want kk", st.Lang)
	}
}

func scenarioBind(t *testing.T, e *e2eEnv) {
	c := e.chat(5101, "ru", 1)
	c.send("/start")
	s := c.pressKey("btn.bind")
	c.wantAnswer(s, "")
	c.wantText(s, e.tr("ru", "bind_link.title", nil))
	if st := e.state(c.id); st.Name != flows.SBinding || st.Nonce == "" {
		t.Fatalf("state after the bind button: %+v", st)
	}
	link := c.linkOf("btn.sign_auth")

	b := e.browser()
	b.open(link)
	doc := b.document()
	if strings.Contains(link, postgres.DemoParents[1].IIN) || strings.Contains(b.page, postgres.DemoParents[1].IIN) {
		t.Fatal("the bind link or page carries an IIN")
	}
	seq := len(e.tg.Calls())
	signed := e.sign(doc, e.keys[1].auth)
	if r := b.post(signed); !r.OK {
		t.Fatalf("bind POST: %d %s (%s)", r.Status, r.Reason, r.Message)
	}
	s = c.result(seq, "")
	wantOutcomeMessage(t, s)
	c.wantText(s, e.tr("ru", "bound.title", nil))
	iin, err := e.db.BoundIIN(context.Background(), c.id)
	if err != nil || iin.Digits() != postgres.DemoParents[1].IIN {
		t.Fatalf("binding in PostgreSQL: %v, %v", iin.Masked(), err)
	}
	if st := e.state(c.id); st.Name != flows.SMenu || st.IIN.Digits() != postgres.DemoParents[1].IIN || st.Nonce != "" {
		t.Fatalf("state after binding: name %q nonce set %v", st.Name, st.Nonce != "")
	}
	// The link is single-use.
	if r := b.post(signed); r.OK || r.Reason != "link_used" {
		t.Fatalf("second POST of the same link: %d %q, want link_used", r.Status, r.Reason)
	}

	// The AUTH signature of someone else's key binds to that someone: here a parent with no
	// applications would see an empty journal; a SIGN key is refused for binding.
	other := e.chat(5102, "ru", 2)
	other.send("/start")
	other.pressKey("btn.bind")
	b2 := e.browser()
	b2.open(other.linkOf("btn.sign_auth"))
	if r := b2.post(e.sign(b2.document(), e.keys[2].sign)); r.OK || r.Reason != "key_usage" {
		t.Fatalf("bind with a SIGN key: %d %q, want key_usage", r.Status, r.Reason)
	}
	if iin, _ := e.db.BoundIIN(context.Background(), other.id); !iin.IsZero() {
		t.Fatal("a SIGN key bound the chat")
	}
}

var appNumber = regexp.MustCompile(`УО\.\d{4}\.\d{6}\.\d`)

func scenarioList(t *testing.T, e *e2eEnv) {
	c := e.chat(5201, "kk", 3)
	c.bind()
	s := c.pressKey("btn.apps")
	c.wantAnswer(s, "")

	want := demoNumbers(t, e, 3)
	if len(want) != 12 {
		t.Fatalf("demo parent 3 has %d applications, want 12", len(want))
	}
	pages := (len(want) + flows.DefaultPageSize - 1) / flows.DefaultPageSize
	var seen []string
	for page := 1; ; page++ {
		c.wantText(s, e.tr("kk", "list.title", nil),
			e.tr("kk", "list.summary", map[string]any{"Total": len(want), "Page": page, "Pages": pages}))
		onPage := appNumber.FindAllString(s.Text, -1)
		if len(onPage) == 0 || len(onPage) > flows.DefaultPageSize {
			t.Fatalf("page %d lists %d applications", page, len(onPage))
		}
		seen = append(seen, onPage...)
		_, _, hasNext := c.findButton(e.tr("kk", "btn.next", nil))
		if st := e.state(c.id); st.Name != flows.SList || st.Page != page-1 {
			t.Fatalf("state on page %d: %q page %d", page, st.Name, st.Page)
		}
		if !hasNext {
			if page != pages {
				t.Fatalf("no next button on page %d of %d", page, pages)
			}
			break
		}
		s = c.pressKey("btn.next")
	}
	slices.Sort(seen)
	if !slices.Equal(seen, want) {
		t.Fatalf("the pages list %v, want %v", seen, want)
	}
	// Back one page.
	s = c.pressKey("btn.prev")
	c.wantText(s, e.tr("kk", "list.summary", map[string]any{"Total": len(want), "Page": pages - 1, "Pages": pages}))
}

// demoNumbers returns the application numbers of demo parent i, sorted.
func demoNumbers(t *testing.T, e *e2eEnv, i int) []string {
	out := demoAppsOf(t, e, i)
	slices.Sort(out)
	return out
}

func scenarioCard(t *testing.T, e *e2eEnv) {
	c := e.chat(5301, "ru", 1)
	c.bind()
	c.pressKey("btn.apps")
	s := c.press(appTooLate)
	c.wantAnswer(s, "")
	c.wantText(s, e.tr("ru", "card.title", nil), appTooLate, e.tr("ru", "status.referral_issued", nil))
	if strings.Contains(s.Text, postgres.DemoParents[1].IIN) {
		t.Fatal("the card shows the applicant's IIN in full")
	}
	st := e.state(c.id)
	if st.Name != flows.SCard || st.AppID == 0 {
		t.Fatalf("state on the card: %q app %d", st.Name, st.AppID)
	}

	s = c.pressKey("btn.history")
	c.wantText(s, e.tr("ru", "history.title", nil), e.tr("ru", "history.registered", nil))
	if st := e.state(c.id); st.Name != flows.SHistory {
		t.Fatalf("state on history: %q", st.Name)
	}
	s = c.pressKey("btn.back")
	c.wantText(s, e.tr("ru", "card.title", nil), appTooLate)

	s = c.pressKey("btn.docs")
	c.wantText(s, e.tr("ru", "docs.title", nil))
	s = c.pressKey("btn.back")
	s = c.pressKey("btn.to_list")
	c.wantText(s, e.tr("ru", "list.title", nil))
	s = c.pressKey("btn.menu")
	c.wantText(s, e.tr("ru", "menu.title", nil))
}

// openRevoke binds c as demo parent 0, opens the revocable application and goes through
// «Отозвать направление» and a preset reason up to the confirmation screen.
func openRevoke(t *testing.T, c *chat) screen {
	t.Helper()
	e := c.e
	c.bind()
	c.pressKey("btn.apps")
	s := c.press(appRevocable)
	c.wantText(s, e.tr(c.lang, "card.title", nil))
	s = c.pressKey("btn.revoke")
	c.wantText(s, e.tr(c.lang, "revoke_reason.title", nil))
	s = c.press(flows.ReasonPresets[0].Text(flows.Lang(c.lang)))
	c.wantText(s, e.tr(c.lang, "revoke_confirm.title", nil), flows.ReasonPresets[0].Text(flows.Lang(c.lang)))
	if st := e.state(c.id); st.Name != flows.SRevokeConfirm {
		t.Fatalf("state on the confirmation: %q", st.Name)
	}
	return s
}

func scenarioRevoke(t *testing.T, e *e2eEnv) {
	c := e.chat(5401, "ru", 0)
	openRevoke(t, c)
	s := c.pressKey("btn.confirm")
	c.wantAnswer(s, "")
	c.wantText(s, e.tr("ru", "sign_link.title", nil), appRevocable)
	link := c.linkOf("btn.sign")

	b := e.browser()
	b.open(link)
	if !strings.Contains(b.page, appRevocable) || !strings.Contains(b.page, flows.ReasonPresets[0].RU) {
		t.Fatal("the signing page does not show what is being signed")
	}
	doc := b.document()
	// The AUTH key cannot sign a revocation.
	if r := b.post(e.sign(doc, e.keys[0].auth)); r.OK || r.Reason != "key_usage" {
		t.Fatalf("revoke signed with AUTH: %d %q, want key_usage", r.Status, r.Reason)
	}
	seq := len(e.tg.Calls())
	if r := b.post(e.sign(doc, e.keys[0].sign)); !r.OK {
		t.Fatalf("revoke POST: %d %s (%s)", r.Status, r.Reason, r.Message)
	}
	s = c.result(seq, "")
	wantOutcomeMessage(t, s)
	c.wantText(s, e.tr("ru", "revoked.title", nil), appRevocable, e.tr("ru", "status.queued", nil))

	m := regexp.MustCompile(regexp.QuoteMeta(e.tr("ru", "field.queue", nil)) + `: (\d+)`).FindStringSubmatch(s.Text)
	if m == nil {
		t.Fatalf("no queue number in the result:\n%s", s.Text)
	}
	shown, _ := strconv.Atoi(m[1])
	id, want, stored := queuePosition(t, e, appRevocable)
	if shown != want || stored != want {
		t.Fatalf("queue number: chat shows %d, database has %d, kezekbot.QueuePositions over the year says %d (application %d)", shown, stored, want, id)
	}

	// The card now shows the new state and offers no revocation.
	s = c.pressKey("btn.open_app")
	c.wantText(s, e.tr("ru", "status.queued", nil), e.tr("ru", "referral.revoked", nil))
	if _, _, ok := c.findButton(e.tr("ru", "btn.revoke", nil)); ok {
		t.Fatal("a revoked referral still has the revoke button")
	}
}

// queuePosition returns an application's id, its position by kezekbot.QueuePositions over
// the queued applications of its year, and the queue number the database stored.
func queuePosition(t *testing.T, e *e2eEnv, number string) (id int64, want, stored int) {
	t.Helper()
	ctx := context.Background()
	var year int
	if err := e.db.Pool().QueryRow(ctx, `SELECT id, queue_year, queue_number FROM applications WHERE number = $1`, number).
		Scan(&id, &year, &stored); err != nil {
		t.Fatalf("load application %s: %v", number, err)
	}
	rows, err := e.db.Pool().Query(ctx, `SELECT id, benefit_category, registered_at FROM applications
		WHERE status = 'queued' AND queue_year = $1`, year)
	if err != nil {
		t.Fatalf("load the queue of %d: %v", year, err)
	}
	var keys []kezekbot.QueueKey
	for rows.Next() {
		var k kezekbot.QueueKey
		var cat int16
		if err := rows.Scan(&k.ID, &cat, &k.RegisteredAt); err != nil {
			t.Fatalf("scan queue: %v", err)
		}
		k.Category = kezekbot.BenefitCategory(cat)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("load the queue of %d: %v", year, err)
	}
	pos, ok := kezekbot.QueuePositions(keys)[id]
	if !ok {
		t.Fatalf("application %s is not in the queue of %d", number, year)
	}
	return id, pos.Queue, stored
}

func scenarioRevokeTooLate(t *testing.T, e *e2eEnv) {
	c := e.chat(5501, "ru", 1)
	c.bind()
	c.pressKey("btn.apps")
	s := c.press(appTooLate)
	issued := referralIssued(t, e, appTooLate)
	c.wantText(s, e.tr("ru", "card.revoke_closed", map[string]any{"At": i18n.DateTime("ru", issued.Add(kezekbot.RevocationWindow))}))
	if _, _, ok := c.findButton(e.tr("ru", "btn.revoke", nil)); ok {
		t.Fatal("the card offers «Отозвать направление» two days after the referral")
	}
	// Nor does the referral screen.
	s = c.press(e.tr("ru", "btn.referral", map[string]any{"Name": ""}))
	c.wantText(s, e.tr("ru", "referral.title", nil))
	if _, _, ok := c.findButton(e.tr("ru", "btn.revoke", nil)); ok {
		t.Fatal("the referral screen offers «Отозвать направление» two days after the referral")
	}
	// /start at any point returns to the menu, not to a half-done revocation.
	s = c.send("/start")
	c.wantText(s, e.tr("ru", "welcome.title", nil))
}

// referralIssued returns when the active referral of an application was issued.
func referralIssued(t *testing.T, e *e2eEnv, number string) time.Time {
	t.Helper()
	var at time.Time
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT r.issued_at FROM referrals r
		JOIN applications a ON a.id = r.application_id WHERE a.number = $1 AND r.state = 'active'`, number).Scan(&at); err != nil {
		t.Fatalf("referral of %s: %v", number, err)
	}
	return at
}

func scenarioLateConfirm(t *testing.T, e *e2eEnv) {
	c := e.chat(5601, "ru", 0)
	openRevoke(t, c)
	issued := referralIssued(t, e, appRevocable)
	// The parent leaves the confirmation open past the 24 hours, then presses it.
	e.clock.Advance(kezekbot.RevocationWindow)
	s := c.pressKey("btn.confirm")
	c.wantAnswer(s, "answer.refused")
	c.wantText(s, e.tr("ru", "refused.title", nil),
		e.tr("ru", "refusal.window_closed", map[string]any{"At": i18n.DateTime("ru", issued.Add(kezekbot.RevocationWindow))}))
	if _, _, ok := c.findButton(e.tr("ru", "btn.sign", nil)); ok {
		t.Fatal("a signing link was handed out after the window closed")
	}
	if st := e.state(c.id); st.Nonce != "" || st.LinkURL != "" {
		t.Fatal("a signing link was issued after the window closed")
	}
	var state string
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT r.state FROM referrals r JOIN applications a ON a.id = r.application_id
		WHERE a.number = $1`, appRevocable).Scan(&state); err != nil || state != "active" {
		t.Fatalf("referral state %q (%v), want active", state, err)
	}
}

func scenarioInvisible(t *testing.T, e *e2eEnv) {
	c := e.chat(5701, "ru", 1)
	c.bind()
	s := c.pressKey("btn.apps")
	foreign := demoAppsOf(t, e, 0)
	for _, n := range foreign {
		if strings.Contains(s.Text, n) {
			t.Fatalf("parent 1's journal lists parent 0's application %s", n)
		}
	}
	var otherID int64
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT id FROM applications WHERE number = $1`, appRevocable).Scan(&otherID); err != nil {
		t.Fatal(err)
	}
	// A forged press for another parent's application, with the live screen's revision (so
	// it is not merely stale): every action that takes an application id.
	for _, act := range []flows.ButtonAction{flows.ActOpen, flows.ActHistory, flows.ActDocs, flows.ActExtend, flows.ActRevoke} {
		st := e.state(c.id)
		data := flows.EncodeCallback(flows.Button{Action: act, ID: otherID}, st.Rev)
		s := c.pressData(st.MsgID, data)
		c.wantText(s, e.tr("ru", "error.not_found", nil))
		for _, leak := range []string{appRevocable, "Жұмабаев", postgres.DemoParents[0].IIN} {
			for _, call := range s.Shows {
				if strings.Contains(call.Params["text"], leak) || strings.Contains(call.Params["reply_markup"], leak) {
					t.Fatalf("%s on another parent's application shows %q", act, leak)
				}
			}
			if s.Answer != nil && strings.Contains(s.Answer.Params["text"], leak) {
				t.Fatalf("%s on another parent's application answers with %q", act, leak)
			}
		}
		if st := e.state(c.id); st.AppID == otherID {
			t.Fatalf("%s: the state now points at another parent's application", act)
		}
	}
}

// demoAppsOf returns the application numbers of demo parent i, from the database.
func demoAppsOf(t *testing.T, e *e2eEnv, i int) []string {
	t.Helper()
	rows, err := e.db.Pool().Query(context.Background(), `SELECT a.number FROM applications a
		JOIN applicants p ON p.id = a.applicant_id WHERE p.iin = $1`, postgres.DemoParents[i].IIN)
	if err != nil {
		t.Fatalf("applications of demo parent %d: %v", i, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("scan: %v", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		t.Fatalf("applications of demo parent %d: %d, %v", i, len(out), err)
	}
	return out
}

func scenarioStale(t *testing.T, e *e2eEnv) {
	c := e.chat(5801, "ru", 2)
	c.bind()
	c.pressKey("btn.apps")
	listMsg, open, ok := c.findButton(appKim)
	if !ok {
		t.Fatalf("no button for %s", appKim)
	}
	// Open the card: the list's buttons are now one revision old.
	c.press(appKim)
	s := c.pressData(listMsg, open.CallbackData)
	c.wantAnswer(s, "answer.stale")
	c.wantText(s, e.tr("ru", "notice.stale", nil), e.tr("ru", "card.title", nil), appKim)

	// The state expires (TTL): an old button is out of date and the current screen — the
	// menu, since the binding lives in PostgreSQL — is shown.
	_, hist, _ := c.findButton(e.tr("ru", "btn.history", nil))
	e.expireState(c.id)
	s = c.pressData(listMsg, hist.CallbackData)
	c.wantAnswer(s, "answer.stale")
	c.wantText(s, e.tr("ru", "notice.stale", nil), e.tr("ru", "menu.title", nil))
	if st := e.state(c.id); st.Name != flows.SMenu || st.IIN.IsZero() {
		t.Fatalf("state after a press on an expired state: %q bound %v", st.Name, !st.IIN.IsZero())
	}
	// Garbage callback data is answered too.
	s = c.pressData(listMsg, "not-ours")
	c.wantAnswer(s, "answer.stale")
}

func scenarioDoubleConfirm(t *testing.T, e *e2eEnv) {
	c := e.chat(5901, "ru", 0)
	openRevoke(t, c)
	// Two quick taps on «Подтвердить отказ»: both updates reach the bot before either is
	// handled.
	msg, confirm, ok := c.findButton(e.tr("ru", "btn.confirm", nil))
	if !ok {
		t.Fatal("no confirm button")
	}
	seq := len(e.tg.Calls())
	u1, id1 := c.callback(msg, confirm.CallbackData)
	u2, id2 := c.callback(msg, confirm.CallbackData)
	e.deliver(u1, u2)
	first, second := c.result(seq, id1), c.result(seq, id2)
	if first.Answer == nil || second.Answer == nil {
		t.Fatal("a tap was not answered")
	}
	if first.Answer.Params["text"] != "" || second.Answer.Params["text"] != e.tr("ru", "answer.stale", nil) {
		t.Fatalf("answers %q and %q, want silent then stale", first.Answer.Params["text"], second.Answer.Params["text"])
	}
	links := map[string]bool{}
	for _, call := range first.Shows {
		for _, u := range regexp.MustCompile(`https://[^"]+/s/[^"]+`).FindAllString(call.Params["reply_markup"], -1) {
			links[u] = true
		}
	}
	if len(links) != 1 {
		t.Fatalf("two taps produced %d different signing links, want 1", len(links))
	}
	link1 := c.linkOf("btn.sign")
	if !links[link1] {
		t.Fatal("the live message shows another link than the one issued")
	}
	b1 := e.browser()
	b1.open(link1)
	doc1 := b1.document()

	// The parent goes back and confirms again: a new link, and the first one dies.
	c.send("/apps")
	c.press(appRevocable)
	c.pressKey("btn.revoke")
	c.press(flows.ReasonPresets[1].RU)
	c.pressKey("btn.confirm")
	link2 := c.linkOf("btn.sign")
	if link2 == link1 {
		t.Fatal("confirming again handed out the same link")
	}
	if r := b1.post(e.sign(doc1, e.keys[0].sign)); r.OK || r.Reason != "link_used" {
		t.Fatalf("POST to the replaced link: %d %q, want link_used", r.Status, r.Reason)
	}
	b2 := e.browser()
	b2.open(link2)
	seq = len(e.tg.Calls())
	if r := b2.post(e.sign(b2.document(), e.keys[0].sign)); !r.OK {
		t.Fatalf("POST to the live link: %d %q (%s)", r.Status, r.Reason, r.Message)
	}
	s := c.result(seq, "")
	c.wantText(s, e.tr("ru", "revoked.title", nil))
	var reason string
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT r.revoke_reason FROM referrals r JOIN applications a ON a.id = r.application_id
		WHERE a.number = $1`, appRevocable).Scan(&reason); err != nil {
		t.Fatalf("revocation reason: %v", err)
	}
	if reason != flows.ReasonPresets[1].RU {
		t.Fatalf("revoked with reason %q, want the second confirmation's %q", reason, flows.ReasonPresets[1].RU)
	}
}

func scenarioRestart(t *testing.T, e *e2eEnv) {
	c := e.chat(6001, "ru", 2)
	c.bind()
	c.pressKey("btn.apps")
	listMsg, open, ok := c.findButton(appKim)
	if !ok {
		t.Fatalf("no button for %s", appKim)
	}
	c.press(appKim)
	before := e.state(c.id)

	// Another parent asked for a bind link and has not signed yet.
	p := e.chat(6002, "ru", 1)
	p.send("/start")
	p.pressKey("btn.bind")
	link := p.linkOf("btn.sign_auth")

	e.stop()
	e.start()

	if st := e.state(c.id); st != before {
		t.Fatalf("state changed across the restart: %+v → %+v", before, st)
	}
	// The card's buttons still work: not stale, the dialog goes on where it was.
	s := c.pressKey("btn.history")
	c.wantAnswer(s, "")
	c.wantText(s, e.tr("ru", "history.title", nil))
	if strings.Contains(s.Text, e.tr("ru", "notice.stale", nil)) {
		t.Fatal("a button of the card was stale after the restart")
	}
	// A button drawn before the last screen is out of date after the restart as before it:
	// answered, and the current screen (history) shown again.
	s = c.pressData(listMsg, open.CallbackData)
	c.wantAnswer(s, "answer.stale")
	c.wantText(s, e.tr("ru", "notice.stale", nil), e.tr("ru", "history.title", nil))

	// The link handed out before the restart is accepted after it.
	b := e.browser()
	b.open(link)
	seq := len(e.tg.Calls())
	if r := b.post(e.sign(b.document(), e.keys[1].auth)); !r.OK {
		t.Fatalf("bind POST after the restart: %d %q (%s)", r.Status, r.Reason, r.Message)
	}
	p.wantText(p.result(seq, ""), e.tr("ru", "bound.title", nil))
}

func scenarioClosesWhileSigning(t *testing.T, e *e2eEnv) {
	c := e.chat(6101, "ru", 0)
	openRevoke(t, c)
	issued := referralIssued(t, e, appRevocable)
	closes := issued.Add(kezekbot.RevocationWindow)
	// A minute before the window closes the parent confirms and gets a link…
	e.clock.Advance(closes.Add(-time.Minute).Sub(e.clock.Now()))
	c.pressKey("btn.confirm")
	b := e.browser()
	b.open(c.linkOf("btn.sign"))
	doc := b.document()
	// …and signs two minutes later: the link still lives, the window does not.
	e.clock.Advance(2 * time.Minute)
	seq := len(e.tg.Calls())
	r := b.post(e.sign(doc, e.keys[0].sign))
	if r.OK || r.Reason != "window_closed" {
		t.Fatalf("POST after the window closed: %d %q, want window_closed", r.Status, r.Reason)
	}
	s := c.result(seq, "")
	c.wantText(s, e.tr("ru", "refused.title", nil),
		e.tr("ru", "refusal.window_closed", map[string]any{"At": i18n.DateTime("ru", closes)}))
	var state string
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT r.state FROM referrals r JOIN applications a ON a.id = r.application_id
		WHERE a.number = $1`, appRevocable).Scan(&state); err != nil || state != "active" {
		t.Fatalf("referral state %q (%v), want active", state, err)
	}
}

func scenarioCancelKillsLink(t *testing.T, e *e2eEnv) {
	c := e.chat(6201, "ru", 0)
	openRevoke(t, c)
	c.pressKey("btn.confirm")
	b := e.browser()
	b.open(c.linkOf("btn.sign"))
	doc := b.document()
	s := c.pressKey("btn.cancel")
	c.wantAnswer(s, "answer.cancelled")
	c.wantText(s, e.tr("ru", "notice.cancelled", nil), e.tr("ru", "card.title", nil))
	if r := b.post(e.sign(doc, e.keys[0].sign)); r.OK || r.Reason != "link_used" {
		t.Fatalf("POST to a cancelled link: %d %q, want link_used", r.Status, r.Reason)
	}
	// The cancelled bind link dies the same way.
	u := e.chat(6202, "ru", 1)
	u.send("/start")
	u.pressKey("btn.bind")
	b2 := e.browser()
	b2.open(u.linkOf("btn.sign_auth"))
	doc2 := b2.document()
	u.pressKey("btn.cancel")
	if r := b2.post(e.sign(doc2, e.keys[1].auth)); r.OK || r.Reason != "link_used" {
		t.Fatalf("POST to a cancelled bind link: %d %q, want link_used", r.Status, r.Reason)
	}
	if iin, _ := e.db.BoundIIN(context.Background(), u.id); !iin.IsZero() {
		t.Fatal("a cancelled bind link bound the chat")
	}
}

func scenarioExpiresWhileSigning(t *testing.T, e *e2eEnv) {
	c := e.chat(6301, "ru", 0)
	openRevoke(t, c)
	c.pressKey("btn.confirm")
	b := e.browser()
	b.open(c.linkOf("btn.sign"))
	doc := b.document()
	// The parent takes longer than the dialog state lives: the signature still counts and
	// the chat is told.
	e.expireState(c.id)
	seq := len(e.tg.Calls())
	if r := b.post(e.sign(doc, e.keys[0].sign)); !r.OK {
		t.Fatalf("POST after the state expired: %d %q (%s)", r.Status, r.Reason, r.Message)
	}
	s := c.result(seq, "")
	c.wantText(s, e.tr("ru", "revoked.title", nil), appRevocable, e.tr("ru", "status.queued", nil))
	// And the dialog goes on from there.
	s = c.pressKey("btn.open_app")
	c.wantAnswer(s, "")
	c.wantText(s, e.tr("ru", "card.title", nil), e.tr("ru", "referral.revoked", nil))
}

// memberUpdate is Telegram's my_chat_member update for a private chat whose user blocked
// (banned) or unblocked (member) the bot.
func memberUpdate(c *chat, from, to models.ChatMemberType) models.Update {
	cm := func(t models.ChatMemberType) models.ChatMember {
		bot := models.User{ID: 777000111, IsBot: true, FirstName: "Kezek"}
		if t == models.ChatMemberTypeBanned {
			return models.ChatMember{Type: t, Banned: &models.ChatMemberBanned{User: &bot}}
		}
		return models.ChatMember{Type: t, Member: &models.ChatMemberMember{User: &bot}}
	}
	return models.Update{MyChatMember: &models.ChatMemberUpdated{
		Chat: models.Chat{ID: c.id, Type: models.ChatTypePrivate}, From: c.user(), Date: int(time.Now().Unix()),
		OldChatMember: cm(from), NewChatMember: cm(to),
	}}
}

func scenarioBlockedAndBack(t *testing.T, e *e2eEnv) {
	c := e.chat(6401, "ru", 1)
	c.bind()
	unreachable := func() bool {
		t.Helper()
		u, err := e.db.Unreachable(context.Background(), c.id)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	e.deliver(memberUpdate(c, models.ChatMemberTypeMember, models.ChatMemberTypeBanned))
	if !unreachable() {
		t.Fatal("a parent who blocked the bot is not marked unreachable")
	}
	// The parent unblocks the bot and writes again: notifications and broadcasts must reach
	// them again.
	e.deliver(memberUpdate(c, models.ChatMemberTypeBanned, models.ChatMemberTypeMember))
	s := c.send("/start")
	c.wantText(s, e.tr("ru", "welcome.title", nil))
	if unreachable() {
		t.Fatal("a parent who unblocked the bot and wrote to it is still marked unreachable (skipped by every broadcast)")
	}
}

func scenarioCommands(t *testing.T, e *e2eEnv) {
	c := e.chat(6501, "ru", 2)
	c.bind()
	for _, tc := range []struct {
		send string
		want []string
	}{
		{"/help", []string{e.tr("ru", "help.title", nil)}},
		{"/lang kk", []string{e.tr("kk", "menu.title", nil)}},
		{"/lang ru", []string{e.tr("ru", "menu.title", nil)}},
		{"880412401274", []string{e.tr("ru", "notice.iin_not_proof", nil)}},
		{"привет", []string{e.tr("ru", "notice.use_buttons", nil)}},
		{"/nosuchcommand", []string{e.tr("ru", "notice.unknown_command", nil)}},
		{"/apps", []string{e.tr("ru", "list.title", nil), appKim}},
		{"/logout", []string{e.tr("ru", "logged_out.title", nil)}},
		{"/apps", []string{e.tr("ru", "notice.bind_first", nil)}},
	} {
		s := c.send(tc.send)
		c.wantText(s, tc.want...)
	}
	if iin, _ := e.db.BoundIIN(context.Background(), c.id); !iin.IsZero() {
		t.Fatal("/logout left the chat bound in PostgreSQL")
	}
	// A sticker is not text.
	seq := len(e.tg.Calls())
	e.deliver(models.Update{Message: &models.Message{ID: int(e.msgSeq.Add(1)), Date: int(time.Now().Unix()),
		Chat: models.Chat{ID: c.id, Type: models.ChatTypePrivate}, From: ptr(c.user()),
		Sticker: &models.Sticker{FileID: "sticker", FileUniqueID: "s1", Type: "regular", Width: 1, Height: 1}}})
	c.wantText(c.result(seq, ""), e.tr("ru", "notice.unsupported", nil))
	// In a group the bot only says it works in private chats, and keeps no state.
	g := e.chat(-100123, "ru", 0)
	seq = len(e.tg.Calls())
	e.deliver(models.Update{Message: &models.Message{ID: int(e.msgSeq.Add(1)), Date: int(time.Now().Unix()),
		Chat: models.Chat{ID: g.id, Type: models.ChatTypeSupergroup}, From: ptr(c.user()), Text: "/start"}})
	g.wantText(g.result(seq, ""), e.tr("ru", "group.body", nil))
	if e.stateRaw(g.id) != "" {
		t.Fatal("a group chat got dialog state")
	}
}

func scenarioTypedReason(t *testing.T, e *e2eEnv) {
	c := e.chat(6601, "kk", 3)
	c.bind()
	c.pressKey("btn.apps")
	// Омарова's revocable application is on some page of twelve: find it by its referral.
	var number string
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT a.number FROM applications a
		JOIN applicants p ON p.id = a.applicant_id JOIN referrals r ON r.application_id = a.id
		WHERE p.iin = $1 AND r.state = 'active'`, postgres.DemoParents[3].IIN).Scan(&number); err != nil {
		t.Fatalf("revocable application of demo parent 3: %v", err)
	}
	for {
		if _, _, ok := c.findButton(number); ok {
			break
		}
		if _, _, ok := c.findButton(e.tr("kk", "btn.next", nil)); !ok {
			t.Fatalf("%s is on no page of the journal", number)
		}
		c.pressKey("btn.next")
	}
	c.press(number)
	c.pressKey("btn.revoke")
	s := c.press(flows.ReasonPresets[len(flows.ReasonPresets)-1].KK)
	c.wantText(s, e.tr("kk", "notice.type_reason", nil))

	s = c.send(strings.Repeat("ө", kezekbot.MaxReasonLen+1))
	c.wantText(s, e.tr("kk", "notice.reason_too_long", map[string]any{"Max": kezekbot.MaxReasonLen}))

	// Markup and XML metacharacters are text: shown as typed, signed as typed, stored as typed.
	reason := `Үйге жақын <b>бала&бақша</b> "Күншуақ" 'табылды'`
	s = c.send(reason)
	c.wantText(s, e.tr("kk", "revoke_confirm.title", nil), reason)
	c.pressKey("btn.confirm")
	b := e.browser()
	b.open(c.linkOf("btn.sign"))
	if strings.Contains(b.page, "<b>бала") {
		t.Fatal("the signing page puts the typed reason into its HTML unescaped")
	}
	seq := len(e.tg.Calls())
	if r := b.post(e.sign(b.document(), e.keys[3].sign)); !r.OK {
		t.Fatalf("revoke POST: %d %q (%s)", r.Status, r.Reason, r.Message)
	}
	c.wantText(c.result(seq, ""), e.tr("kk", "revoked.title", nil), number)
	var stored string
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT r.revoke_reason FROM referrals r JOIN applications a ON a.id = r.application_id
		WHERE a.number = $1 AND r.state = 'revoked'`, number).Scan(&stored); err != nil {
		t.Fatalf("revocation: %v", err)
	}
	if stored != reason {
		t.Fatalf("stored reason %q, want %q", stored, reason)
	}
	_, want, got := queuePosition(t, e, number)
	if got != want {
		t.Fatalf("queue number %d, kezekbot.QueuePositions says %d", got, want)
	}
}

// scenarioSettings: a bound demo parent opens «Уведомления» from the menu, switches the
// revocation reminder off (stored in PostgreSQL for this chat) and back on with /settings.
func scenarioSettings(t *testing.T, e *e2eEnv) {
	c := e.chat(7201, "ru", 0)
	c.bind()
	c.send("/menu")
	s := c.pressKey("btn.settings")
	c.wantAnswer(s, "")
	reminder := e.tr("ru", "mute.reminder", nil)
	on := e.tr("ru", "btn.mute_on", map[string]any{"Kind": reminder})
	off := e.tr("ru", "btn.mute_off", map[string]any{"Kind": reminder})
	c.wantText(s, e.tr("ru", "settings.title", nil), reminder+" — "+e.tr("ru", "settings.on", nil))
	if st := e.state(c.id); st.Name != flows.SSettings {
		t.Fatalf("state after the settings button: %q", st.Name)
	}
	muted := func() []string {
		t.Helper()
		kinds, err := e.db.Muted(context.Background(), c.id)
		if err != nil {
			t.Fatal(err)
		}
		return kinds
	}

	s = c.press(on)
	if got, want := s.Answer.Params["text"], e.tr("ru", "answer.muted", map[string]any{"Kind": reminder}); got != want {
		t.Fatalf("answer %q, want %q", got, want)
	}
	c.wantText(s, reminder+" — "+e.tr("ru", "settings.off", nil))
	if got := muted(); !slices.Equal(got, []string{"reminder"}) {
		t.Fatalf("mutes in PostgreSQL: %v, want [reminder]", got)
	}
	if _, _, ok := c.findButton(off); !ok {
		t.Fatalf("no %q button after muting", off)
	}

	s = c.send("/settings")
	c.wantText(s, reminder+" — "+e.tr("ru", "settings.off", nil))
	s = c.press(off)
	if got, want := s.Answer.Params["text"], e.tr("ru", "answer.unmuted", map[string]any{"Kind": reminder}); got != want {
		t.Fatalf("answer %q, want %q", got, want)
	}
	c.wantText(s, reminder+" — "+e.tr("ru", "settings.on", nil))
	if got := muted(); len(got) != 0 {
		t.Fatalf("mutes in PostgreSQL after switching back on: %v", got)
	}
	s = c.pressKey("btn.menu")
	c.wantText(s, e.tr("ru", "menu.title", nil))
}

// wantOutcomeMessage checks what a signature brings to the chat: the link's message loses its
// buttons (an edit) and the outcome comes as one new message, so the phone notifies.
func wantOutcomeMessage(t *testing.T, s screen) {
	t.Helper()
	if len(s.Shows) != 2 || s.Shows[0].Method != "editMessageText" || s.Shows[0].Params["reply_markup"] != "" || s.Shows[1].Method != "sendMessage" {
		var got []string
		for _, c := range s.Shows {
			got = append(got, c.Method+" markup="+c.Params["reply_markup"])
		}
		t.Fatalf("after the signature the chat got %v, want the link's message edited without buttons, then one new message", got)
	}
}
