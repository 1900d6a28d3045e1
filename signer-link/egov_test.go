package signerlink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	qr "github.com/piglig/go-qr"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	signerlink "github.com/kezekbot/kezekbot/signer-link"
	"github.com/kezekbot/kezekbot/signer-link/fakeegov"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

const testBIN = "210240012345"

// egovOn turns on the eGov mobile route with the test's Redis as the note store.
func egovOn(c *signerlink.Config) {
	c.EGov = signerlink.EGov{
		Enabled: true,
		OrgKK:   "Астана қаласының білім басқармасы",
		OrgRU:   "Управление образования города Астаны",
		OrgEN:   "Astana City Education Department",
		BIN:     testBIN,
		Notes:   c.Links.(signerlink.NoteStore),
	}
}

var (
	rawLinkRe    = regexp.MustCompile(`id="egov-raw" href="(mobileSign:[^"]+)"`)
	launchLinkRe = regexp.MustCompile(`id="egov-launch" class="button phone-only" href="([^"]+)"`)
)

// egovLinks opens the page in b and returns its mobileSign: link and launcher URL.
func (b *browser) egovLinks() (raw, launcher string) {
	b.e.t.Helper()
	m := rawLinkRe.FindStringSubmatch(b.page)
	l := launchLinkRe.FindStringSubmatch(b.page)
	if m == nil || l == nil {
		b.e.t.Fatalf("page has no eGov mobile links:\n%s", b.page)
	}
	return unescapeHTML(m[1]), unescapeHTML(l[1])
}

func unescapeHTML(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#39;", "'", "&quot;", `"`).Replace(s)
}

type statusAnswer struct {
	Status  int
	Step    string `json:"step"`
	Done    bool   `json:"done"`
	Reason  string `json:"reason"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Retry   bool   `json:"retry"`
	Route   string `json:"route"`
}

// status polls the page's status endpoint as egov.js does.
func (b *browser) status() statusAnswer {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.link+"/status", nil)
	req.Header.Set("X-CSRF-Token", b.csrf)
	req.Header.Set("Accept", "application/json")
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatalf("GET status: %v", err)
	}
	defer resp.Body.Close()
	var a statusAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		b.e.t.Fatalf("status is not JSON: %v", err)
	}
	a.Status = resp.StatusCode
	return a
}

func (e *env) app(p parent, mode fakeegov.Mode) *fakeegov.Client {
	return fakeegov.New(fakeegov.Options{Auth: p.Auth, Sign: p.Sign, Mode: mode})
}

func TestEGovBindAndRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t, egovOn)
	p := e.parent(time.Hour)
	ctx := context.Background()

	// Bind through the QR code's link.
	link := e.issueBind(p)
	b := e.browser()
	if st := b.open(link.URL); st != http.StatusOK {
		t.Fatalf("page → %d", st)
	}
	for _, want := range []string{"Подписать в eGov mobile", `id="egov-qr"`, "Подписать на компьютере (NCALayer)", `src="/s/static/egov.js"`} {
		if !strings.Contains(b.page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	raw, launcher := b.egovLinks()
	token := strings.TrimPrefix(link.URL, e.srv.URL+"/s/")
	api1 := link.URL + "/egov"
	if raw != "mobileSign:"+api1 {
		t.Errorf("raw link %q, want mobileSign:%s", raw, api1)
	}
	if want := "https://m.egov.kz/mobileSign/?link=" + url.QueryEscape(api1); launcher != want {
		t.Errorf("launcher %q, want %q", launcher, want)
	}
	// The QR code on the page encodes exactly the mobileSign: link.
	resp, err := b.c.Get(link.URL + "/qr.png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("qr.png: %v, %q", err, resp.Header.Get("Content-Type"))
	}
	if got, err := qr.Decode(img); err != nil || got != raw {
		t.Errorf("QR decodes to %q (%v), want %q", got, err, raw)
	}
	if a := b.status(); a.Step != "waiting" || a.Done {
		t.Errorf("status before the app = %+v", a)
	}

	// API №1 as the app reads it.
	app := e.app(p, fakeegov.Sign)
	a1, ans, err := app.Open(ctx, api1)
	if err != nil || a1 == nil {
		t.Fatalf("API №1: %+v %v", ans, err)
	}
	if a1.Organisation.BIN != testBIN || a1.Organisation.NameRu == "" || a1.Organisation.NameKz == "" || a1.Organisation.NameEn == "" ||
		a1.Document.AuthType != "Token" || a1.Document.URI != link.URL+"/egov/document" || len(a1.Document.AuthToken) < 40 ||
		!strings.Contains(a1.Description, "kezekbot") {
		t.Errorf("API №1 = %+v", a1)
	}
	if exp, err := time.Parse("2006-01-02T15:04:05.000-0700", a1.ExpiryDate); err != nil || !exp.Equal(link.Expires) || !strings.HasSuffix(a1.ExpiryDate, "+0500") {
		t.Errorf("expiry_date %q (%v), want %v in Astana time", a1.ExpiryDate, err, link.Expires)
	}
	if a := b.status(); a.Step != "opened" {
		t.Errorf("status after API №1 = %+v", a)
	}
	doc, ans, err := app.Fetch(ctx, a1.Document.URI, a1.Document.AuthToken)
	if err != nil || doc == nil {
		t.Fatalf("API №2 GET: %+v %v", ans, err)
	}
	if d := doc.DocumentsToSign[0]; d.ID != 1 || d.DocumentXML != string(b.document()) || d.NameRu == "" || d.NameKz == "" {
		t.Errorf("API №2 document = %+v", d)
	}
	body, err := app.SignDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	ans, err = app.Put(ctx, a1.Document.URI, a1.Document.AuthToken, body)
	if err != nil || ans.StatusCode != http.StatusOK || ans.Status != "success" {
		t.Fatalf("API №2 PUT → %+v %v", ans, err)
	}
	ev := e.res.next(t)
	if s, ok := ev.Event.(flows.Signed); !ok || !s.OK || s.Action != kezekbot.ActionBind || s.Nonce != link.Nonce || !s.IIN.Equal(p.IIN) {
		t.Fatalf("chat told %+v", ev)
	}
	if got := e.boundIIN(p.ChatID); !got.Equal(p.IIN) {
		t.Fatalf("bound to %v", got)
	}
	if a := b.status(); !a.Done || !a.OK || a.Reason != "ok" || a.Route != "egov" || !strings.Contains(a.Message, "чат привязан") {
		t.Errorf("status after signing = %+v", a)
	}

	// Revoke through the same-device launcher, in Kazakh, with an auth type of Bearer.
	svc := e.newService(egovOn, func(c *signerlink.Config) { c.EGov.AuthType = signerlink.EGovAuthBearer })
	e.svc = svc
	e.mount(svc)
	rl := e.issueRevoke(p, flows.Kazakh)
	b2 := e.browser()
	b2.open(rl.URL)
	_, launcher = b2.egovLinks()
	ans, err = app.SignLink(ctx, launcher)
	if err != nil || ans.StatusCode != http.StatusOK {
		t.Fatalf("sign the revoke link: %+v %v", ans, err)
	}
	if s := e.res.next(t).Event.(flows.Signed); !s.OK || s.Action != kezekbot.ActionRevoke {
		t.Fatalf("chat told %+v", s)
	}
	if st := e.referralState(p); st != kezekbot.ReferralRevoked {
		t.Errorf("referral %s", st)
	}
	if a := b2.status(); !a.OK || !strings.Contains(a.Message, "кері қайтарылды") {
		t.Errorf("status = %+v", a)
	}

	logs := e.logText()
	for _, secret := range []string{token, link.Nonce, p.IIN.Digits(), a1.Document.AuthToken, "<kezekbot:request", "X509Certificate"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// TestEGovBadInput sends the eGov mobile API what a broken or hostile client might, and checks
// the HTTP status, the protocol's error, the page's status, the chat, and that nothing was
// applied. Where the parent can still fix it, the link then works with a right signature.
func TestEGovBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, egovOn)
	ctx := context.Background()
	// Born on another day than any parent the cases make, so never their IIN.
	stranger, err := e.ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign, IIN: e.iinBorn("850101", 3).Digits()})
	if err != nil {
		t.Fatal(err)
	}

	type call struct {
		e      *env
		p      parent
		app    *fakeegov.Client
		a1     *fakeegov.API1
		doc    *fakeegov.Document
		signed []byte // a right PUT body
	}
	put := func(c *call, token, ct string, body []byte) fakeegov.Answer {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, c.a1.Document.URI, bytes.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		a := fakeegov.Answer{StatusCode: resp.StatusCode}
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatalf("answer is not the protocol's JSON: %v: %s", err, raw)
		}
		return a
	}
	signWith := func(c *call, p *xmlsigtest.Person) []byte {
		var d fakeegov.Document
		_ = json.Unmarshal(c.signed, &d)
		d.DocumentsToSign[0].DocumentXML = string(e.sign([]byte(c.doc.DocumentsToSign[0].DocumentXML), p))
		b, _ := json.Marshal(d)
		return b
	}

	cases := []struct {
		name   string
		revoke bool
		// skipOpen: do not call API №1 (and so have no token).
		skipOpen bool
		do       func(c *call) fakeegov.Answer
		status   int
		code     string
		rejected string // what the chat is told; "" for nothing
		fixable  bool   // the right signature then goes through
	}{
		{name: "missing token", do: func(c *call) fakeegov.Answer {
			return put(c, "", "application/json", c.signed)
		}, status: 401, code: "egov_token", rejected: flows.RejectedOther, fixable: true},
		{name: "wrong token", do: func(c *call) fakeegov.Answer {
			return put(c, strings.Repeat("A", 43), "application/json", c.signed)
		}, status: 401, code: "egov_token", rejected: flows.RejectedOther, fixable: true},
		{name: "token of an earlier scan", do: func(c *call) fakeegov.Answer {
			old := c.a1.Document.AuthToken
			a1, _, err := c.app.Open(ctx, strings.TrimSuffix(c.a1.Document.URI, "/document"))
			if err != nil {
				t.Fatal(err)
			}
			ans := put(c, old, "application/json", c.signed)
			c.a1 = a1
			return ans
		}, status: 401, code: "egov_token", rejected: flows.RejectedOther, fixable: true},
		{name: "API №2 before API №1", skipOpen: true, do: func(c *call) fakeegov.Answer {
			_, ans, err := c.app.Fetch(ctx, c.a1.Document.URI, "")
			if err != nil {
				t.Fatal(err)
			}
			return ans
		}, status: 409, code: "egov_order", rejected: flows.RejectedOther, fixable: true},
		{name: "wrong content type", do: func(c *call) fakeegov.Answer {
			return put(c, c.a1.Document.AuthToken, "text/plain", c.signed)
		}, status: 415, code: "content_type", rejected: flows.RejectedOther, fixable: true},
		{name: "no content type", do: func(c *call) fakeegov.Answer {
			return put(c, c.a1.Document.AuthToken, "", c.signed)
		}, status: 415, code: "content_type", rejected: flows.RejectedOther, fixable: true},
		{name: "oversize body", do: func(c *call) fakeegov.Answer {
			return put(c, c.a1.Document.AuthToken, "application/json", bytes.Repeat([]byte(" "), signerlink.MaxEGovBody+1))
		}, status: 413, code: "too_large", rejected: flows.RejectedOther, fixable: true},
		{name: "oversize document", do: func(c *call) fakeegov.Answer {
			body, _ := json.Marshal(map[string]any{"signMethod": "XML", "documentsToSign": []any{map[string]any{"id": 1, "documentXml": "<a>" + strings.Repeat("x", signerlink.MaxBodySize) + "</a>"}}})
			return put(c, c.a1.Document.AuthToken, "application/json", body)
		}, status: 413, code: "too_large", rejected: flows.RejectedOther, fixable: true},
		{name: "not the protocol's JSON", do: func(c *call) fakeegov.Answer {
			return put(c, c.a1.Document.AuthToken, "application/json", []byte(`{"documentsToSign":[{"id":1},{"id":2}]}`))
		}, status: 400, code: "egov_body", rejected: flows.RejectedOther, fixable: true},
		{name: "altered document", do: func(c *call) fakeegov.Answer {
			var d fakeegov.Document
			_ = json.Unmarshal(c.signed, &d)
			d.DocumentsToSign[0].DocumentXML = strings.Replace(d.DocumentsToSign[0].DocumentXML, "<chat>", "<chat>1", 1)
			body, _ := json.Marshal(d)
			return put(c, c.a1.Document.AuthToken, "application/json", body)
		}, status: 403, code: "signature_invalid", rejected: flows.RejectedAltered, fixable: true},
		{name: "another document signed", do: func(c *call) fakeegov.Answer {
			var d fakeegov.Document
			_ = json.Unmarshal(c.signed, &d)
			other := strings.Replace(c.doc.DocumentsToSign[0].DocumentXML, "<chat>", "<chat>1", 1)
			d.DocumentsToSign[0].DocumentXML = string(e.sign([]byte(other), c.p.Auth))
			body, _ := json.Marshal(d)
			return put(c, c.a1.Document.AuthToken, "application/json", body)
		}, status: 403, code: "document_mismatch", rejected: flows.RejectedAltered, fixable: true},
		{name: "wrong key usage (bind)", do: func(c *call) fakeegov.Answer {
			return put(c, c.a1.Document.AuthToken, "application/json", signWith(c, c.p.Sign))
		}, status: 403, code: "key_usage", rejected: flows.RejectedWrongKey, fixable: true},
		{name: "wrong key usage (revoke)", revoke: true, do: func(c *call) fakeegov.Answer {
			return put(c, c.a1.Document.AuthToken, "application/json", signWith(c, c.p.Auth))
		}, status: 403, code: "key_usage", rejected: flows.RejectedWrongKey, fixable: true},
		{name: "another person's key (revoke)", revoke: true, do: func(c *call) fakeegov.Answer {
			return put(c, c.a1.Document.AuthToken, "application/json", signWith(c, stranger))
		}, status: 403, code: "iin_mismatch", rejected: flows.RejectedOtherPerson, fixable: true},
		{name: "expired link", do: func(c *call) fakeegov.Answer {
			c.e.clock.Advance(signerlink.DefaultTTL + time.Second)
			return put(c, c.a1.Document.AuthToken, "application/json", c.signed)
		}, status: 410, code: "link_expired", rejected: flows.RejectedExpired},
		{name: "replayed PUT", revoke: true, do: func(c *call) fakeegov.Answer {
			if ans := put(c, c.a1.Document.AuthToken, "application/json", c.signed); ans.StatusCode != 200 {
				t.Fatalf("first PUT → %+v", ans)
			}
			if s := c.e.res.next(t).Event.(flows.Signed); !s.OK {
				t.Fatalf("first PUT told %+v", s)
			}
			return put(c, c.a1.Document.AuthToken, "application/json", c.signed)
		}, status: 409, code: "link_used"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Each case gets its own clock (it may let the link expire).
			e := newEnv(t, egovOn)
			p := e.parent(time.Hour)
			if tc.revoke {
				// A bound chat, bound by the NCALayer route.
				l := e.issueBind(p)
				b := e.browser()
				b.open(l.URL)
				if r := b.post(e.sign(b.document(), p.Auth)); !r.OK {
					t.Fatalf("bind: %+v", r)
				}
				e.res.next(t)
			}
			var link flows.Link
			if tc.revoke {
				link = e.issueRevoke(p, flows.Russian)
			} else {
				link = e.issueBind(p)
			}
			b := e.browser()
			b.open(link.URL)
			c := &call{e: e, p: p, app: e.app(p, fakeegov.Sign)}
			api1 := link.URL + "/egov"
			// Build the right PUT body with a throwaway open, then (unless the case skips it)
			// open for real.
			a1, ans, err := c.app.Open(ctx, api1)
			if err != nil || a1 == nil {
				t.Fatalf("API №1: %+v %v", ans, err)
			}
			if c.doc, ans, err = c.app.Fetch(ctx, a1.Document.URI, a1.Document.AuthToken); err != nil || c.doc == nil {
				t.Fatalf("API №2: %+v %v", ans, err)
			}
			if c.signed, err = c.app.SignDocument(c.doc); err != nil {
				t.Fatal(err)
			}
			c.a1 = a1
			if tc.skipOpen {
				// A fresh link that no app has opened: its notes hold no token.
				link = e.reissue(p, tc.revoke)
				b.open(link.URL)
				c.a1 = &fakeegov.API1{}
				c.a1.Document.URI = link.URL + "/egov/document"
			}

			got := tc.do(c)
			if got.StatusCode != tc.status || got.Status != "error" || got.Code != tc.code || got.Message == "" {
				t.Fatalf("answer %+v, want %d %q with a message", got, tc.status, tc.code)
			}
			// Nothing applied.
			if tc.revoke {
				if tc.code != "link_used" {
					if st := e.referralState(p); st != kezekbot.ReferralActive {
						t.Errorf("referral is %s", st)
					}
				}
			} else if iin := e.boundIIN(p.ChatID); !iin.IsZero() {
				t.Errorf("chat bound to %v", iin)
			}
			// The chat.
			if tc.rejected == "" {
				e.res.none(t)
			} else {
				ev := e.res.next(t)
				s, ok := ev.Event.(flows.Signed)
				if !ok || ev.ChatID != p.ChatID || s.Rejected != tc.rejected || s.OK || s.Nonce != link.Nonce {
					t.Errorf("chat told %+v, want Rejected %q", ev, tc.rejected)
				}
			}
			// The page.
			st := b.status()
			if tc.code == "link_used" {
				if !st.OK { // the first PUT's success is what the page shows
					t.Errorf("page status %+v", st)
				}
			} else if st.Reason != tc.code || st.Message == "" || st.Done == tc.fixable {
				t.Errorf("page status %+v, want %q (done: %v)", st, tc.code, !tc.fixable)
			}
			// Where the parent can fix it: scan again and sign with the right key.
			if tc.fixable {
				ans, err := c.app.SignLink(ctx, "mobileSign:"+link.URL+"/egov")
				if err != nil || ans.StatusCode != http.StatusOK {
					t.Fatalf("retry → %+v %v", ans, err)
				}
				if s := e.res.next(t).Event.(flows.Signed); !s.OK {
					t.Fatalf("retry told %+v", s)
				}
				if st := b.status(); !st.OK || !st.Done {
					t.Errorf("page status after the retry %+v", st)
				}
			}
			logs := e.logText()
			for _, secret := range []string{p.IIN.Digits(), c.a1.Document.AuthToken, "<kezekbot:request", strings.TrimPrefix(link.URL, e.srv.URL+"/s/")} {
				if secret != "" && strings.Contains(logs, secret) {
					t.Errorf("logs contain %q", secret)
				}
			}
		})
	}
}

// reissue issues the chat's link again (killing the last one).
func (e *env) reissue(p parent, revoke bool) flows.Link {
	if revoke {
		return e.issueRevoke(p, flows.Russian)
	}
	return e.issueBind(p)
}

func TestEGovOffAndConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.parent(time.Hour)
	link := e.issueBind(p)
	b := e.browser()
	b.open(link.URL)
	if strings.Contains(b.page, "egov") {
		t.Error("eGov mobile is off, but the page offers it")
	}
	if !strings.Contains(b.page, `id="phone-note"`) || !strings.Contains(b.page, "На телефоне NCALayer не работает") {
		t.Error("without eGov mobile the page does not tell a phone to use a computer")
	}
	for _, sub := range []string{"/egov", "/egov/document", "/status", "/qr.png"} {
		resp, err := http.Get(link.URL + sub)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("GET %s with eGov mobile off → 200", sub)
		}
	}

	for _, tc := range []struct {
		name string
		edit func(*signerlink.EGov)
	}{
		{"short BIN", func(g *signerlink.EGov) { g.BIN = "12345" }},
		{"no names", func(g *signerlink.EGov) { g.OrgEN = " " }},
		{"auth type", func(g *signerlink.EGov) { g.AuthType = "Eds" }},
		{"launcher scheme", func(g *signerlink.EGov) { g.Launcher = "mobileSign:{link}" }},
		{"launcher twice", func(g *signerlink.EGov) { g.Launcher = "https://m.egov.kz/?a={link}&b={link}" }},
		{"no notes", func(g *signerlink.EGov) { g.Notes = nil }},
		{"sandbox elsewhere", func(g *signerlink.EGov) { g.SandboxURL = "https://evil.example/sign" }},
	} {
		cfg := signerlink.Config{PublicURL: e.srv.URL, Keys: e.keys, Links: e.links, Store: e.db, Verifier: e.ver, Resumer: e.res}
		egovOn(&cfg)
		tc.edit(&cfg.EGov)
		if _, err := signerlink.New(cfg); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// TestEGovGOST: a parent with GOST 34.10-2015 512 keys binds and revokes through eGov mobile
// (the app's key algorithm is not confirmed, so both kinds must work); a GOST SIGN key where
// AUTH is needed is refused with the link kept.
func TestEGovGOST(t *testing.T) {
	t.Parallel()
	e := newEnv(t, egovOn)
	p := e.gostParent(time.Hour)
	ctx := context.Background()

	link := e.issueBind(p)
	raw := "mobileSign:" + link.URL + "/egov"
	ans, err := e.app(p, fakeegov.WrongKey).SignLink(ctx, raw)
	if err != nil || ans.StatusCode != http.StatusForbidden || ans.Code != "key_usage" {
		t.Fatalf("GOST SIGN key for bind → %+v %v", ans, err)
	}
	if s := e.res.next(t).Event.(flows.Signed); s.Rejected != flows.RejectedWrongKey {
		t.Fatalf("chat told %+v", s)
	}
	if ans, err = e.app(p, fakeegov.Sign).SignLink(ctx, raw); err != nil || ans.StatusCode != http.StatusOK {
		t.Fatalf("GOST bind → %+v %v", ans, err)
	}
	if s := e.res.next(t).Event.(flows.Signed); !s.OK || !s.IIN.Equal(p.IIN) {
		t.Fatalf("chat told %+v", s)
	}

	rl := e.issueRevoke(p, flows.Russian)
	if ans, err = e.app(p, fakeegov.Sign).SignLink(ctx, "mobileSign:"+rl.URL+"/egov"); err != nil || ans.StatusCode != http.StatusOK {
		t.Fatalf("GOST revoke → %+v %v", ans, err)
	}
	if s := e.res.next(t).Event.(flows.Signed); !s.OK || s.Action != kezekbot.ActionRevoke {
		t.Fatalf("chat told %+v", s)
	}
	if st := e.referralState(p); st != kezekbot.ReferralRevoked {
		t.Errorf("referral %s", st)
	}
}

// TestEGovConcurrentPuts: the app (or an attacker holding its request) sends the same signed
// PUT twice at once: one is applied, the other is told the link was used, the chat hears once
// and the page shows the success.
func TestEGovConcurrentPuts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, egovOn)
	p := e.parent(time.Hour)
	ctx := context.Background()
	link := e.issueBind(p)
	b := e.browser()
	b.open(link.URL)
	app := e.app(p, fakeegov.Sign)
	a1, _, err := app.Open(ctx, link.URL+"/egov")
	if err != nil || a1 == nil {
		t.Fatal(err)
	}
	doc, _, err := app.Fetch(ctx, a1.Document.URI, a1.Document.AuthToken)
	if err != nil || doc == nil {
		t.Fatal(err)
	}
	body, err := app.SignDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	answers := make(chan fakeegov.Answer, n)
	for range n {
		go func() {
			ans, err := app.Put(ctx, a1.Document.URI, a1.Document.AuthToken, body)
			if err != nil {
				t.Error(err)
			}
			answers <- ans
		}()
	}
	codes := map[int]int{}
	for range n {
		codes[(<-answers).StatusCode]++
	}
	if codes[http.StatusOK] != 1 || codes[http.StatusConflict] != n-1 {
		t.Fatalf("answers by status: %v, want one 200 and %d 409", codes, n-1)
	}
	if s := e.res.next(t).Event.(flows.Signed); !s.OK {
		t.Fatalf("chat told %+v", s)
	}
	e.res.none(t)
	if st := b.status(); !st.OK || !st.Done {
		t.Errorf("page status %+v", st)
	}
}
