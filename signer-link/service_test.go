package signerlink_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	signerlink "github.com/kezekbot/kezekbot/signer-link"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

func TestBind(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.parent(time.Hour)
	link := e.issueBind(p)
	if !strings.HasPrefix(link.URL, e.srv.URL+"/s/") || link.Nonce == "" || !link.Expires.Equal(e.clock.Now().Add(signerlink.DefaultTTL)) {
		t.Fatalf("link = %+v", link)
	}

	b := e.browser()
	if st := b.open(link.URL); st != http.StatusOK {
		t.Fatalf("GET page → %d\n%s", st, b.page)
	}
	for _, want := range []string{"Вход в бот по ЭЦП", "Подписать", `data-action="bind"`, "AUTH_RSA", `lang="ru"`, "Қазақша"} {
		if !strings.Contains(b.page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	doc := b.document()
	if bytes.Contains(doc, []byte("<iin>")) {
		t.Error("bind document names an IIN")
	}
	r := b.post(e.sign(doc, p.Auth))
	wantStatus(t, r, http.StatusOK, "ok")
	if !r.OK || !strings.Contains(r.Message, "чат привязан") || r.Back == "" {
		t.Errorf("answer = %+v", r)
	}

	ev := e.res.next(t)
	signed, ok := ev.Event.(flows.Signed)
	if !ok || ev.ChatID != p.ChatID {
		t.Fatalf("reported %#v to chat %d", ev.Event, ev.ChatID)
	}
	if signed.Action != kezekbot.ActionBind || !signed.OK || signed.Code != "" || !signed.IIN.Equal(p.IIN) || signed.Nonce != link.Nonce {
		t.Errorf("signed = %+v", signed)
	}
	if got := e.boundIIN(p.ChatID); !got.Equal(p.IIN) {
		t.Errorf("chat bound to %v, want %v", got, p.IIN)
	}

	// Single use: the same signature again changes nothing.
	r = b.post(e.sign(doc, p.Auth))
	wantStatus(t, r, http.StatusNotFound, "link_used")
	e.res.none(t)
	if st := b.open(link.URL); st != http.StatusNotFound || !strings.Contains(b.page, "уже использована") {
		t.Errorf("used link page → %d", st)
	}

	// Nothing sensitive in the logs: no token, no nonce, no IIN, no XML.
	logs := e.logText()
	token := strings.TrimPrefix(link.URL, e.srv.URL+"/s/")
	for _, secret := range []string{token, link.Nonce, p.IIN.Digits(), "<kezekbot:request", "X509Certificate"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	if !strings.Contains(logs, "signature handled") {
		t.Errorf("logs lack the outcome line:\n%s", logs)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.parent(2 * time.Hour)
	link := e.issueRevoke(p, flows.Kazakh)

	b := e.browser()
	if st := b.open(link.URL); st != http.StatusOK {
		t.Fatalf("GET page → %d\n%s", st, b.page)
	}
	for _, want := range []string{"жолдаманы кері қайтару", p.AppNumber, "Ясли-сад №7 «Балдырған» &lt;&amp;&gt;", "Қол қою", "Русский",
		"Выбрали другой садик &lt;/reason&gt;"} {
		if !strings.Contains(b.page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	doc := b.document()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		t.Fatal(err)
	}
	root := d.Root()
	for tag, want := range map[string]string{
		"action": "revoke", "iin": p.IIN.Digits(), "nonce": link.Nonce, "kindergarten": "Ясли-сад №7 «Балдырған» <&>",
		"reason": "Выбрали другой садик </reason><action>bind</action>",
	} {
		if got := root.SelectElement(tag); got == nil || got.Text() != want {
			t.Errorf("<%s> = %v, want %q", tag, got, want)
		}
	}
	if got := root.SelectElement("text"); got == nil || got.SelectAttrValue("lang", "") != "kk" || !strings.Contains(got.Text(), p.AppNumber) {
		t.Errorf("<text> = %v", got)
	}

	// The language toggle switches the page, not the document.
	if st := b.open(link.URL + "?lang=ru"); st != http.StatusOK || !strings.Contains(b.page, "Отзыв направления") {
		t.Errorf("toggle → %d", st)
	}
	b.link = link.URL

	r := b.post(e.sign(doc, p.Sign))
	wantStatus(t, r, http.StatusOK, "ok")
	if !strings.Contains(r.Message, "жолдама кері қайтарылды") {
		t.Errorf("message %q is not Kazakh", r.Message)
	}
	ev := e.res.next(t)
	signed := ev.Event.(flows.Signed)
	if !signed.OK || signed.Action != kezekbot.ActionRevoke || signed.Result.Referral.State != kezekbot.ReferralRevoked ||
		signed.Result.Application.Status != kezekbot.StatusQueued || signed.Result.Referral.ID != p.RefID {
		t.Errorf("signed = %+v", signed)
	}
	if st := e.referralState(p); st != kezekbot.ReferralRevoked {
		t.Errorf("referral is %s", st)
	}

	// A second POST, even with a fresh signature over the same document, is refused.
	r = b.post(e.sign(doc, p.Sign))
	wantStatus(t, r, http.StatusNotFound, "link_used")
	e.res.none(t)
}

// TestRejectedSignatures: every way a signature can fail leaves the link alive and changes
// nothing; then the right signature still works.
func TestRejectedSignatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.parent(time.Hour)
	other := e.parent(time.Hour)
	stranger, err := e.ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign, IIN: e.iin().Digits()})
	if err != nil {
		t.Fatal(err)
	}
	org, err := e.ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign, IIN: p.IIN.Digits(), Organization: true})
	if err != nil {
		t.Fatal(err)
	}

	link := e.issueRevoke(p, flows.Russian)
	b := e.browser()
	b.open(link.URL)
	doc := b.document()

	// Documents issued for something else, fetched through their own pages.
	otherChat := e.browser()
	otherChat.open(e.issueRevoke(other, flows.Russian).URL)
	otherDoc := otherChat.document()
	bindOfSameChat := e.browser()
	bindOfSameChat.open(e.issueBind(p).URL)
	bindDoc := bindOfSameChat.document()

	tests := []struct {
		name   string
		body   []byte
		status int
		reason string
		text   string
	}{
		{"AuthKeyForRevoke", e.sign(doc, p.Auth), 422, "key_usage", "ключ подписи"},
		{"OtherPersonsKey", e.sign(doc, stranger), 403, "iin_mismatch", "другому человеку"},
		{"OrganizationKey", e.sign(doc, org), 422, "not_individual", "физического лица"},
		{"AnotherChatsDocument", e.sign(otherDoc, other.Sign), 403, "iin_mismatch", ""},
		{"AnotherReferralSameParent", e.sign(withText(t, doc, "referral", "999999"), p.Sign), 400, "document_mismatch", "не тот документ"},
		{"AnotherChatSameParent", e.sign(withText(t, doc, "chat", "1"), p.Sign), 400, "document_mismatch", ""},
		{"AnotherAction", e.sign(bindDoc, p.Sign), 400, "document_mismatch", ""},
		{"ReasonEdited", e.sign(withText(t, doc, "reason", "другое"), p.Sign), 400, "document_mismatch", ""},
		{"CommentAdded", e.sign(bytes.Replace(doc, []byte("<action>"), []byte("<!--x--><action>"), 1), p.Sign), 400, "document_mismatch", ""},
		{"Tampered", tamper(e.sign(doc, p.Sign)), 400, "signature_invalid", ""},
		{"Unsigned", doc, 400, "signature_count", "не распознана"},
		{"GOST2004", gost2004(e.sign(doc, p.Sign)), 422, "gost", "ГОСТ 34.310-2004"},
		{"NotXML", []byte("hello"), 400, "malformed", ""},
		{"DTD", append([]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>`), doc[bytes.Index(doc, []byte("<kezekbot")):]...), 400, "dtd", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post(tt.body)
			wantStatus(t, r, tt.status, tt.reason)
			if !r.Retry || r.OK {
				t.Errorf("retry = %v, ok = %v", r.Retry, r.OK)
			}
			if tt.text != "" && !strings.Contains(r.Message, tt.text) {
				t.Errorf("message %q lacks %q", r.Message, tt.text)
			}
		})
	}
	e.res.none(t)
	if st := e.referralState(p); st != kezekbot.ReferralActive {
		t.Fatalf("referral is %s after rejected signatures", st)
	}
	// Bind signed with the SIGN key is refused the other way round.
	r := bindOfSameChat.post(e.sign(bindDoc, p.Sign))
	wantStatus(t, r, 422, "key_usage")
	if !strings.Contains(r.Message, "аутентификации") {
		t.Errorf("bind key_usage message %q", r.Message)
	}

	// The link survived all of it.
	r = b.post(e.sign(doc, p.Sign))
	wantStatus(t, r, http.StatusOK, "ok")
	if ev := e.res.next(t); !ev.Event.(flows.Signed).OK {
		t.Errorf("event %+v", ev)
	}
}

// withText returns doc with the text of the first <tag> replaced.
func withText(t *testing.T, doc []byte, tag, text string) []byte {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		t.Fatal(err)
	}
	d.Root().SelectElement(tag).SetText(text)
	out, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tamper changes the signed content after signing.
func tamper(signed []byte) []byte {
	return bytes.Replace(signed, []byte("<action>revoke</action>"), []byte("<action>bind</action>"), 1)
}

// gost2004 makes the signature claim GOST 34.310-2004, which is refused as such.
func gost2004(signed []byte) []byte {
	return bytes.Replace(signed, []byte("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
		[]byte("http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311"), 1)
}

func TestWindowClosedWhileSigning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Issued 23h55m ago: the link is handed out with five minutes of the window left.
	p := e.parent(24*time.Hour - 5*time.Minute)
	link := e.issueRevoke(p, flows.Russian)
	b := e.browser()
	b.open(link.URL)
	doc := b.document()
	e.clock.Advance(10 * time.Minute) // the parent looked for the key file

	r := b.post(e.sign(doc, p.Sign))
	wantStatus(t, r, http.StatusConflict, "window_closed")
	closed := e.clock.Now().Add(-5 * time.Minute).In(time.FixedZone("Astana", 5*3600)).Format("15:04")
	if !strings.Contains(r.Message, closed) || !strings.Contains(r.Message, "Ничего не изменено") || r.Retry {
		t.Errorf("answer = %+v, want the closing time %s", r, closed)
	}
	signed := e.res.next(t).Event.(flows.Signed)
	if signed.OK || signed.Code != kezekbot.EEXPIRED {
		t.Errorf("signed = %+v", signed)
	}
	if st := e.referralState(p); st != kezekbot.ReferralActive {
		t.Errorf("referral is %s", st)
	}
}

func TestExpiredLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.parent(time.Hour)
	link := e.issueRevoke(p, flows.Kazakh)
	b := e.browser()
	b.open(link.URL)
	doc := b.document()
	signed := e.sign(doc, p.Sign)

	e.clock.Advance(signerlink.DefaultTTL)
	if st := b.open(link.URL); st != http.StatusGone || !strings.Contains(b.page, "мерзімі өтті") {
		t.Errorf("expired page → %d (lang kk expected)\n%s", st, b.page)
	}
	r := b.post(signed)
	wantStatus(t, r, http.StatusGone, "link_expired")
	e.res.none(t)
	if st := e.referralState(p); st != kezekbot.ReferralActive {
		t.Errorf("referral is %s", st)
	}
}

func TestForgedLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.parent(time.Hour)
	link := e.issueRevoke(p, flows.Russian)
	token := strings.TrimPrefix(link.URL, e.srv.URL+"/s/")
	flip := func(i int) string {
		b := []byte(token)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tt := range []struct{ name, token, lang, text string }{
		{"Garbage", "hello", "", "повреждена"},
		{"GarbageKazakh", "hello", "kk-KZ,kk;q=0.9", "бүлінген"},
		{"FlippedChat", flip(5), "", "повреждена"},
		{"FlippedMAC", flip(len(token) - 3), "", "повреждена"},
		{"Truncated", token[:len(token)-2], "", "повреждена"},
		{"Padded", token + "==", "", "повреждена"},
		{"Deeper", token + "/x", "", "повреждена"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/s/"+tt.token, nil)
			if tt.lang != "" {
				req.Header.Set("Accept-Language", tt.lang)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tt.text) {
				t.Errorf("→ %d, body lacks %q", resp.StatusCode, tt.text)
			}
			checkSecurityHeaders(t, resp.Header, "")
		})
	}
	// A forged POST never reaches verification.
	b := e.browser()
	b.open(link.URL)
	doc := b.document()
	b.link = e.srv.URL + "/s/" + flip(20)
	r := b.post(e.sign(doc, p.Sign))
	wantStatus(t, r, http.StatusBadRequest, "link_forged")
	e.res.none(t)
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // issues with key 1
	p := e.parent(time.Hour)
	old := e.issueRevoke(p, flows.Russian)

	// Rotated: key 2 signs, key 1 is still accepted.
	e.keys = signerlink.Keys{Current: key(2), Accept: []signerlink.Key{key(1)}}
	rotated := e.newService()
	e.mount(rotated)
	b := e.browser()
	if st := b.open(old.URL); st != http.StatusOK {
		t.Fatalf("old-key link after rotation → %d", st)
	}
	doc := b.document()

	// Key 1 dropped: its links are dead, and say so as forged.
	e.keys = signerlink.Keys{Current: key(2)}
	e.mount(e.newService())
	if st := e.browser().open(old.URL); st != http.StatusBadRequest {
		t.Fatalf("link of a dropped key → %d", st)
	}

	e.mount(rotated)
	r := b.post(e.sign(doc, p.Sign))
	wantStatus(t, r, http.StatusOK, "ok")
	e.res.next(t)

	// New links carry key 2 and work with it.
	p2 := e.parent(time.Hour)
	l, err := rotated.Issue(context.Background(), flows.SignRequest{ChatID: p2.ChatID, Action: kezekbot.ActionBind, Lang: flows.Russian})
	if err != nil {
		t.Fatal(err)
	}
	e.keys = signerlink.Keys{Current: key(1)}
	e.mount(e.newService())
	if st := e.browser().open(l.URL); st != http.StatusBadRequest {
		t.Fatalf("key-2 link on a key-1-only server → %d", st)
	}
}

func TestNewLinkKillsOld(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.parent(time.Hour)
	first := e.issueRevoke(p, flows.Russian)
	b1 := e.browser()
	b1.open(first.URL)
	doc1 := b1.document()
	second := e.issueRevoke(p, flows.Russian)
	if first.Nonce == second.Nonce || first.URL == second.URL {
		t.Fatal("two links share a nonce")
	}

	if st := e.browser().open(first.URL); st != http.StatusNotFound {
		t.Errorf("first link after the second → %d", st)
	}
	r := b1.post(e.sign(doc1, p.Sign))
	wantStatus(t, r, http.StatusNotFound, "link_used")
	e.res.none(t)

	// A bind link of the same chat is another scope and does not kill the revoke link.
	e.issueBind(p)
	b2 := e.browser()
	if st := b2.open(second.URL); st != http.StatusOK {
		t.Fatalf("second link → %d", st)
	}
	r = b2.post(e.sign(b2.document(), p.Sign))
	wantStatus(t, r, http.StatusOK, "ok")
	e.res.next(t)
}

func TestCSRFAndLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.parent(time.Hour)
	link := e.issueRevoke(p, flows.Russian)
	b := e.browser()
	b.open(link.URL)
	doc := b.document()
	signed := e.sign(doc, p.Sign)

	// The cookie the page set: HttpOnly, SameSite=Strict, scoped to the link.
	u, _ := url.Parse(link.URL)
	cookies := b.c.Jar.Cookies(u)
	if len(cookies) != 1 || cookies[0].Value != b.csrf {
		t.Fatalf("cookies = %v, page csrf %q", cookies, b.csrf)
	}
	setCookie := b.header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=" + u.Path} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, want)
		}
	}
	// A reload keeps the value, so a second tab does not break the first.
	before := b.csrf
	b.open(link.URL)
	if b.csrf != before {
		t.Error("reload changed the CSRF value")
	}

	tests := []struct {
		name   string
		body   []byte
		edit   func(*http.Request)
		status int
		reason string
	}{
		{"NoHeader", signed, func(r *http.Request) { r.Header.Del("X-CSRF-Token"); r.Header.Set("Accept", "application/json") }, 403, "csrf"},
		{"WrongHeader", signed, func(r *http.Request) { r.Header.Set("X-CSRF-Token", strings.Repeat("A", 43)) }, 403, "csrf"},
		{"NoCookie", signed, nil, 403, "csrf"}, // sent from a browser without the cookie, below
		{"CrossSite", signed, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, 403, "csrf"},
		{"ForeignOrigin", signed, func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, 403, "csrf"},
		{"NullOrigin", signed, func(r *http.Request) { r.Header.Set("Origin", "null") }, 403, "csrf"},
		{"Oversize", append(signed, bytes.Repeat([]byte(" "), signerlink.MaxBodySize)...), nil, 413, "too_large"},
		{"WrongType", signed, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 415, "content_type"},
		{"Empty", nil, nil, 400, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var edits []func(*http.Request)
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			from := b
			if tt.name == "NoCookie" {
				from = &browser{e: e, c: &http.Client{}, link: b.link, csrf: b.csrf}
			}
			r := from.post(tt.body, edits...)
			wantStatus(t, r, tt.status, tt.reason)
			checkSecurityHeaders(t, r.Header, "")
		})
	}

	// The document needs the CSRF header too.
	req, _ := http.NewRequest(http.MethodGet, link.URL+"/document", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("document without CSRF header → %d", resp.StatusCode)
	}
	e.res.none(t)

	// A form post (no script) works with the form field and answers with a page.
	form := url.Values{"xml": {string(signed)}, "csrf": {b.csrf}}
	req, _ = http.NewRequest(http.MethodPost, link.URL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "направление отозвано") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("form post → %d %s", resp.StatusCode, body)
	}
	e.res.next(t)
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *signerlink.Config) { c.NCALayerURL = "ws://127.0.0.1:41234" })
	p := e.parent(time.Hour)
	link := e.issueBind(p)
	b := e.browser()
	b.open(link.URL)
	checkSecurityHeaders(t, b.header, "ws://127.0.0.1:41234")
	if !strings.Contains(b.page, `data-ncalayer="ws://127.0.0.1:41234"`) {
		t.Error("page does not pass the configured NCALayer URL")
	}
	if strings.Contains(b.page, "<script>") || strings.Contains(b.page, " style=") || strings.Contains(b.page, "onclick") {
		t.Error("page has inline script or style")
	}
	for _, path := range []string{"/s/static/sign.js", "/s/static/style.css", "/s/static/nope.js", "/s/", "/s/x/y/z"} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		checkSecurityHeaders(t, resp.Header, "ws://127.0.0.1:41234")
		if strings.HasSuffix(path, "sign.js") && (resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript")) {
			t.Errorf("%s → %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	resp, err := http.Post(e.srv.URL+"/s/x/document", "application/xml", nil)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST document → %d", resp.StatusCode)
	}
	checkSecurityHeaders(t, resp.Header, "ws://127.0.0.1:41234")
}

func checkSecurityHeaders(t *testing.T, h http.Header, ncalayer string) {
	t.Helper()
	if ncalayer == "" {
		ncalayer = signerlink.DefaultNCALayerURL
	}
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' " + ncalayer +
			"; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestIssueRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.parent(time.Hour)
	other := e.parent(time.Hour)
	old := e.parent(25 * time.Hour)
	ctx := context.Background()
	req := func(mut func(*flows.SignRequest)) flows.SignRequest {
		r := flows.SignRequest{ChatID: p.ChatID, Action: kezekbot.ActionRevoke, Lang: flows.Russian, IIN: p.IIN,
			ApplicationID: p.AppID, ReferralID: p.RefID, Reason: "переезд"}
		mut(&r)
		return r
	}
	tests := []struct {
		name string
		req  flows.SignRequest
		code string
	}{
		{"OthersApplication", req(func(r *flows.SignRequest) { r.ApplicationID = other.AppID; r.ReferralID = other.RefID }), kezekbot.ENOTFOUND},
		{"OthersReferral", req(func(r *flows.SignRequest) { r.ReferralID = other.RefID }), kezekbot.ENOTFOUND},
		{"NoSuchApplication", req(func(r *flows.SignRequest) { r.ApplicationID = 1 << 40 }), kezekbot.ENOTFOUND},
		{"WindowClosed", req(func(r *flows.SignRequest) { r.IIN = old.IIN; r.ApplicationID = old.AppID; r.ReferralID = old.RefID }), kezekbot.EEXPIRED},
		{"NoReason", req(func(r *flows.SignRequest) { r.Reason = "  " }), kezekbot.EINVALID},
		{"ControlInReason", req(func(r *flows.SignRequest) { r.Reason = "a\x00b" }), kezekbot.EINVALID},
		{"Unbound", req(func(r *flows.SignRequest) { r.IIN = kezekbot.IIN{} }), kezekbot.EINVALID},
		{"UnknownAction", req(func(r *flows.SignRequest) { r.Action = "delete" }), kezekbot.EINVALID},
		{"NoChat", req(func(r *flows.SignRequest) { r.ChatID = 0 }), kezekbot.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Issue(ctx, tt.req)
			if got := kezekbot.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
	_, err := e.svc.Issue(ctx, req(func(r *flows.SignRequest) { r.IIN = old.IIN; r.ApplicationID = old.AppID; r.ReferralID = old.RefID }))
	if r, ok := errors.AsType[*kezekbot.RevokeRefusal](err); !ok || r.Reason != kezekbot.RefusalWindowClosed {
		t.Errorf("window closed: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	ok := signerlink.Config{PublicURL: "https://kezekbot.example", Keys: signerlink.Keys{Current: key(1)},
		Links: nopLinks{}, Store: nopStore{}, Verifier: nopVerifier{},
		Resumer: signerlink.ResumerFunc(func(context.Context, int64, flows.Event) error { return nil })}
	if _, err := signerlink.New(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, mut := range map[string]func(*signerlink.Config){
		"RelativeURL":  func(c *signerlink.Config) { c.PublicURL = "/x" },
		"FTP":          func(c *signerlink.Config) { c.PublicURL = "ftp://x" },
		"ShortKey":     func(c *signerlink.Config) { c.Keys.Current.Secret = []byte("short") },
		"NoStore":      func(c *signerlink.Config) { c.Store = nil },
		"HTTPNCALayer": func(c *signerlink.Config) { c.NCALayerURL = "http://127.0.0.1:13579" },
		"CSPInjection": func(c *signerlink.Config) { c.NCALayerURL = "ws://127.0.0.1:1; script-src *" },
	} {
		c := ok
		mut(&c)
		if _, err := signerlink.New(c); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

type nopLinks struct{}

func (nopLinks) ReplaceLink(context.Context, string, string, []byte, time.Duration) error { return nil }
func (nopLinks) Link(context.Context, string) ([]byte, error)                             { return nil, nil }
func (nopLinks) ConsumeLink(context.Context, string) ([]byte, error)                      { return nil, nil }

type nopStore struct{}

func (nopStore) Application(context.Context, kezekbot.IIN, int64) (kezekbot.ApplicationDetail, error) {
	return kezekbot.ApplicationDetail{}, nil
}
func (nopStore) Bind(context.Context, int64, string, kezekbot.Evidence) error { return nil }
func (nopStore) RevokeReferral(context.Context, kezekbot.RevokeRequest) (kezekbot.RevokeResult, error) {
	return kezekbot.RevokeResult{}, nil
}

type nopVerifier struct{}

func (nopVerifier) Verify(context.Context, []byte, xmlsig.Policy) (*xmlsig.Result, error) {
	return nil, errors.New("no")
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestConcurrentPosts: two tabs post the same signature at once; exactly one revokes.
func TestConcurrentPosts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.parent(time.Hour)
	link := e.issueRevoke(p, flows.Russian)
	b := e.browser()
	b.open(link.URL)
	signed := e.sign(b.document(), p.Sign)

	const n = 4
	results := make(chan result, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			results <- b.post(signed)
		}()
	}
	close(start)
	var ok, used int
	for range n {
		select {
		case r := <-results:
			switch {
			case r.Status == http.StatusOK && r.Reason == "ok":
				ok++
			case r.Status == http.StatusNotFound && r.Reason == "link_used":
				used++
			default:
				t.Errorf("unexpected answer %d %q", r.Status, r.Reason)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a POST did not finish in 30s")
		}
	}
	if ok != 1 || used != n-1 {
		t.Fatalf("%d accepted, %d refused as used; want 1 and %d", ok, used, n-1)
	}
	e.res.next(t)
	e.res.none(t)
}

func TestCancelKillsLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.parent(time.Hour)
	l := e.issueRevoke(p, flows.Russian)
	b := e.browser()
	b.open(l.URL)
	doc := b.document()
	// Another chat cannot cancel it.
	if err := e.svc.Cancel(context.Background(), p.ChatID+1, l.Nonce); kezekbot.ErrorCode(err) != kezekbot.EFORBIDDEN {
		t.Fatalf("cancel by another chat: %v", err)
	}
	if err := e.svc.Cancel(context.Background(), p.ChatID, l.Nonce); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Cancel(context.Background(), p.ChatID, l.Nonce); err != nil {
		t.Fatalf("second cancel: %v", err)
	}
	r := b.post(e.sign(doc, p.Sign))
	wantStatus(t, r, http.StatusNotFound, "link_used")
	e.res.none(t)
}
