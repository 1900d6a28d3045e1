package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city/refcity"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// The city mode end to end: kezekbot (the real app, its workers included) in front of the
// reference city over real HTTP, which holds the demo data; kezekbot's database starts empty
// and fills as the mirror (the change feed and the card's read-through).

const e2eCityToken = "e2e-city-token-0123456789"

type cityEnv struct {
	*e2eEnv
	rc    *refcity.City
	demo  []kezekbot.ApplicationDetail
	embed bool // the embedded adapter instead (the same scenarios, the other system of record)
}

func newCityEnv(t *testing.T) *cityEnv {
	t.Helper()
	e := newE2EEnvSeed(t, false)
	demo, err := postgres.DemoDetails(e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	rc, err := refcity.New(refcity.Config{Token: e2eCityToken, Now: e.clock.Now, Seed: 1}, demo)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	e.env = map[string]string{
		"KEZEKBOT_QUEUE":               "city",
		"KEZEKBOT_CITY_URL":            srv.URL,
		"KEZEKBOT_CITY_TOKEN":          e2eCityToken,
		"KEZEKBOT_CITY_MODE":           "pull",
		"KEZEKBOT_CITY_PULL_INTERVAL":  "50ms",
		"KEZEKBOT_CITY_READ_TIMEOUT":   "500ms",
		"KEZEKBOT_CITY_GIVE_UP_NOTICE": "30m",
	}
	e.workers = true
	e.start()
	return &cityEnv{e2eEnv: e, rc: rc, demo: demo}
}

func newEmbeddedEnv(t *testing.T) *cityEnv {
	t.Helper()
	e := newE2EEnv(t)
	e.start()
	return &cityEnv{e2eEnv: e, embed: true}
}

// idOf returns the id of a demo application by its number, from the system of record.
func (ce *cityEnv) idOf(number string) int64 {
	ce.t.Helper()
	if ce.embed {
		var id int64
		if err := ce.db.Pool().QueryRow(context.Background(), `SELECT id FROM applications WHERE number = $1`, number).Scan(&id); err != nil {
			ce.t.Fatalf("application %s: %v", number, err)
		}
		return id
	}
	for _, d := range ce.demo {
		if d.Number == number {
			return d.ID
		}
	}
	ce.t.Fatalf("no demo application %s", number)
	return 0
}

// waitFor waits until the chat shows a message (sent or edited since seq) with every want.
func (c *chat) waitFor(seq int, want ...string) screen {
	c.e.t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		s := c.result(seq, "")
		for _, show := range s.Shows {
			text := plain(show.Params["text"])
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(text, w)
			}
			if ok {
				s.Text = text
				return s
			}
		}
		if time.Now().After(deadline) {
			c.e.t.Fatalf("chat %d never showed %q; last: %q", c.id, want, s.Text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// revokeSigned goes from the confirmation screen through the signing page and returns the
// signed document and the call sequence before the POST.
func (ce *cityEnv) revokeSigned(c *chat) ([]byte, int) {
	ce.t.Helper()
	s := c.pressKey("btn.confirm")
	c.wantText(s, ce.tr(c.lang, "sign_link.title", nil))
	b := ce.browser()
	b.open(c.linkOf("btn.sign"))
	signed := ce.sign(b.document(), ce.keys[c.parent].sign)
	seq := len(ce.tg.Calls())
	r := b.post(signed)
	if !r.OK {
		ce.t.Fatalf("revoke POST: %d %s (%s)", r.Status, r.Reason, r.Message)
	}
	// The page tells the truth: in city mode the request was sent, not yet carried out.
	if sent := strings.Contains(r.Message, "отправлен в систему очереди"); sent == ce.embed {
		ce.t.Errorf("the signing page says %q (city mode: %v)", r.Message, !ce.embed)
	}
	return signed, seq
}

// TestParentSuiteBothAdapters runs the same parent scenarios against the embedded store and
// against the city adapter in front of the reference city.
func TestParentSuiteBothAdapters(t *testing.T) {
	for _, mode := range []string{"embedded", "city"} {
		t.Run(mode, func(t *testing.T) {
			for _, sc := range []struct {
				name string
				run  func(t *testing.T, ce *cityEnv)
			}{
				{"list", suiteList},
				{"card", suiteCard},
				{"visibility", suiteVisibility},
				{"revoke_within_24h_then_again_refused", suiteRevoke},
				{"revoke_after_24h_refused", suiteTooLate},
			} {
				t.Run(sc.name, func(t *testing.T) {
					var ce *cityEnv
					if mode == "city" {
						ce = newCityEnv(t)
					} else {
						ce = newEmbeddedEnv(t)
					}
					sc.run(t, ce)
					ce.checkAnswered()
					ce.checkLogs()
				})
			}
		})
	}
}

func suiteList(t *testing.T, ce *cityEnv) {
	c := ce.chat(6001, "ru", 3) // the parent with 12 applications
	c.bind()
	s := c.pressKey("btn.apps")
	c.wantText(s, ce.tr("ru", "list.title", nil))
	if _, _, ok := c.findButton(ce.tr("ru", "btn.next", nil)); !ok {
		t.Fatalf("12 applications fit one page:\n%s", s.Text)
	}
	s = c.pressKey("btn.next")
	c.wantText(s, ce.tr("ru", "list.title", nil))
}

func suiteCard(t *testing.T, ce *cityEnv) {
	c := ce.chat(6002, "ru", 1)
	c.bind()
	c.pressKey("btn.apps")
	s := c.press(appTooLate)
	c.wantText(s, ce.tr("ru", "card.title", nil), appTooLate, ce.tr("ru", "status.referral_issued", nil))
	if strings.Contains(s.Text, "данные на") {
		t.Fatalf("a card fresh from the system of record is marked as old:\n%s", s.Text)
	}
	s = c.pressKey("btn.history")
	c.wantText(s, ce.tr("ru", "history.title", nil))
}

func suiteVisibility(t *testing.T, ce *cityEnv) {
	c := ce.chat(6003, "ru", 1)
	c.bind()
	c.pressKey("btn.apps")
	other := ce.idOf(appRevocable) // parent 0's
	for _, act := range []flows.ButtonAction{flows.ActOpen, flows.ActRevoke} {
		st := ce.state(c.id)
		s := c.pressData(st.MsgID, flows.EncodeCallback(flows.Button{Action: act, ID: other}, st.Rev))
		c.wantText(s, ce.tr("ru", "error.not_found", nil))
		if strings.Contains(s.Text, appRevocable) || strings.Contains(s.Text, postgres.DemoParents[0].IIN) {
			t.Fatalf("%s on another parent's application leaks it:\n%s", act, s.Text)
		}
	}
}

func suiteRevoke(t *testing.T, ce *cityEnv) {
	c := ce.chat(6004, "ru", 0)
	openRevoke(t, c)
	signed, seq := ce.revokeSigned(c)
	if !ce.embed {
		c.waitFor(seq, ce.tr("ru", "city.pending.title", nil))
	}
	s := c.waitFor(seq, ce.tr("ru", "revoked.title", nil), appRevocable, ce.tr("ru", "status.queued", nil))
	if !ce.embed {
		revs := ce.rc.Revocations()
		if len(revs) != 1 || revs[0].SignedXML != string(signed) {
			t.Fatalf("the city recorded %d revocations (signed XML equal: %v)", len(revs), len(revs) == 1 && revs[0].SignedXML == string(signed))
		}
		// In place: the answer edited the «sent» message.
		if s.Shows[len(s.Shows)-1].Method != "editMessageText" {
			t.Errorf("the answer came as %s, want an edit in place", s.Shows[len(s.Shows)-1].Method)
		}
	}
	// A second revocation of the same referral is refused.
	st := ce.state(c.id)
	s = c.pressData(st.MsgID, flows.EncodeCallback(flows.Button{Action: flows.ActRevoke, ID: ce.idOf(appRevocable)}, 0))
	c.wantText(s, ce.tr("ru", "refused.title", nil))
	if !ce.embed && len(ce.rc.Revocations()) != 1 {
		t.Fatalf("the city recorded %d revocations", len(ce.rc.Revocations()))
	}
}

func suiteTooLate(t *testing.T, ce *cityEnv) {
	c := ce.chat(6005, "ru", 1)
	c.bind()
	c.pressKey("btn.apps")
	c.press(appTooLate)
	if _, _, ok := c.findButton(ce.tr("ru", "btn.revoke", nil)); ok {
		t.Fatal("the card offers «Отозвать направление» two days after the referral")
	}
	st := ce.state(c.id)
	s := c.pressData(st.MsgID, flows.EncodeCallback(flows.Button{Action: flows.ActRevoke, ID: ce.idOf(appTooLate)}, 0))
	c.wantText(s, ce.tr("ru", "refused.title", nil))
}

// A referral issued at the reference city reaches the parent as a notification; its button
// opens the card through the city; the revocation goes to the city, which records exactly one
// carrying the signed XML byte for byte; the signing chat gets the answer in place and no
// second message about it. (An IIN is bound to one chat at a time, so there is no other chat
// of the applicant to tell here; city/adapter checks the outbox row names the chat to skip.)
func TestCityEndToEndReferralToRevocation(t *testing.T) {
	ce := newCityEnv(t)
	c := ce.chat(6101, "ru", 0)
	c.bind()
	var queued kezekbot.ApplicationDetail
	for _, d := range ce.demo {
		if d.ApplicantIIN.Digits() == postgres.DemoParents[0].IIN && d.Status == kezekbot.StatusQueued {
			queued = d
			break
		}
	}
	if queued.ID == 0 {
		t.Fatal("demo parent 0 has no queued application")
	}
	seq := len(ce.tg.Calls())
	if _, err := ce.rc.IssueReferral(queued.ID, 0); err != nil {
		t.Fatal(err)
	}
	c.waitFor(seq, queued.Number)
	msgID, _, _ := c.live()
	s := c.pressData(msgID, flows.EncodeCallback(flows.Button{Action: flows.ActOpen, ID: queued.ID}, 0))
	c.wantText(s, ce.tr("ru", "card.title", nil), queued.Number, ce.tr("ru", "status.referral_issued", nil))
	s = c.pressKey("btn.revoke")
	c.wantText(s, ce.tr("ru", "revoke_reason.title", nil))
	c.press(flows.ReasonPresets[1].RU)
	signed, seq := ce.revokeSigned(c)
	c.waitFor(seq, ce.tr("ru", "city.pending.title", nil))
	c.waitFor(seq, ce.tr("ru", "revoked.title", nil), queued.Number)
	revs := ce.rc.Revocations()
	if len(revs) != 1 || revs[0].SignedXML != string(signed) || revs[0].ApplicationID != queued.ID {
		t.Fatalf("the city recorded %d revocations", len(revs))
	}
	// The signing chat was told in place; neither the deliverer's outbox row nor the city's
	// own referral_revoked change (the feed) brings it a second message.
	time.Sleep(1500 * time.Millisecond)
	for _, call := range ce.tg.CallsSince(seq) {
		if call.Method == "sendMessage" && call.ChatID() == c.id && strings.Contains(call.Params["text"], "отозвано") {
			t.Fatalf("the signing chat got a notification besides its answer: %s", call.Params["text"])
		}
	}
	ce.checkAnswered()
	ce.checkLogs()
}

// The city is down while the parent signs: the request is answered from the mirror and
// queued, and delivered once the city is back; the parent is told in place.
func TestCityEndToEndCityDownDuringRevocation(t *testing.T) {
	ce := newCityEnv(t)
	c := ce.chat(6201, "ru", 0)
	openRevoke(t, c)
	// The city goes down once kezekbot's mirror holds the application (the feed and the
	// card's read-through fill it in the background).
	deadline := time.Now().Add(e2eWait)
	for {
		at, err := ce.db.SyncedAt(context.Background(), ce.idOf(appRevocable))
		if err == nil && !at.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mirror never got the application: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ce.rc.SetFaults(refcity.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	signed, seq := ce.revokeSigned(c)
	c.waitFor(seq, ce.tr("ru", "city.pending.title", nil))
	time.Sleep(1500 * time.Millisecond)
	if n := len(ce.rc.Revocations()); n != 0 {
		t.Fatalf("a down city recorded %d revocations", n)
	}
	// The card while the city is down: kezekbot's copy, marked with its time, not an error.
	s := c.pressKey("btn.open_app")
	c.wantText(s, ce.tr("ru", "card.title", nil), appRevocable, "данные на")
	q, err := ce.db.OpenCommands(context.Background(), 5)
	if err != nil || q.Depth != 1 || q.Open[0].LastError == "" {
		t.Fatalf("command queue while the city is down: %+v, %v", q, err)
	}
	if err := ce.rc.SetFaults(refcity.Faults{}); err != nil {
		t.Fatal(err)
	}
	// The chat moved on to the card: the answer comes as a new message.
	s = c.waitFor(seq, ce.tr("ru", "revoked.title", nil), appRevocable)
	if last := s.Shows[len(s.Shows)-1]; last.Method != "sendMessage" {
		t.Errorf("the answer to a chat that moved on came as %s, want a new message", last.Method)
	}
	revs := ce.rc.Revocations()
	if len(revs) != 1 || revs[0].SignedXML != string(signed) {
		t.Fatalf("the city recorded %d revocations", len(revs))
	}
	ce.checkAnswered()
	ce.checkLogs()
}

// Push mode: the reference city posts its changes to POST /city/changes, signed; a referral
// issued there reaches the parent without any pulling.
func TestCityEndToEndPush(t *testing.T) {
	e := newE2EEnvSeed(t, false)
	demo, err := postgres.DemoDetails(e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	const secret = "e2e-push-secret-0123456789abcdef"
	var handler atomic.Pointer[refcity.City]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := handler.Load(); h != nil {
			h.ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	e.env = map[string]string{
		"KEZEKBOT_QUEUE": "city", "KEZEKBOT_CITY_URL": srv.URL, "KEZEKBOT_CITY_TOKEN": e2eCityToken,
		"KEZEKBOT_CITY_MODE": "push", "KEZEKBOT_CITY_PUSH_SECRETS": secret,
	}
	e.workers = true
	e.start()
	rc, err := refcity.New(refcity.Config{Token: e2eCityToken, Now: e.clock.Now, Seed: 2,
		PushURL: "https://" + e.addr, PushSecret: []byte(secret), PushClient: e.client}, demo)
	if err != nil {
		t.Fatal(err)
	}
	handler.Store(rc)
	ctx, cancel := context.WithCancel(context.Background())
	pushed := make(chan error, 1)
	go func() { pushed <- rc.RunPusher(ctx) }()
	t.Cleanup(func() { cancel(); <-pushed })

	c := e.chat(6301, "kk", 0)
	c.bind()
	var queued kezekbot.ApplicationDetail
	for _, d := range demo {
		if d.ApplicantIIN.Digits() == postgres.DemoParents[0].IIN && d.Status == kezekbot.StatusQueued {
			queued = d
			break
		}
	}
	seq := len(e.tg.Calls())
	if _, err := rc.IssueReferral(queued.ID, 0); err != nil {
		t.Fatal(err)
	}
	c.waitFor(seq, queued.Number)
	var n int
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM applications WHERE revision IS NOT NULL`).Scan(&n); err != nil || n != len(demo) {
		t.Fatalf("the mirror holds %d of %d pushed applications (%v)", n, len(demo), err)
	}
	e.checkAnswered()
	e.checkLogs()
}
