package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/signer-link/fakeegov"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// TestEndToEndEGov drives the binary's app with eGov mobile on (KEZEKBOT_EGOV=on and the
// organisation settings, over TLS as in production): a parent binds and then revokes with the
// fake eGov mobile app, from the QR code's mobileSign: link and from the same-device launcher,
// and the chat follows; a wrong key first is explained in the chat and the link still works.
func TestEndToEndEGov(t *testing.T) {
	for _, gost := range []bool{false, true} {
		name := "RSA"
		if gost {
			name = "GOST"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			egovEndToEnd(t, gost)
		})
	}
}

func egovEndToEnd(t *testing.T, gost bool) {
	e := newE2EEnv(t)
	e.startWith(map[string]string{
		"KEZEKBOT_EGOV":           "on",
		"KEZEKBOT_EGOV_BIN":       "210240012345",
		"KEZEKBOT_EGOV_ORG_RU":    "Управление образования города Астаны",
		"KEZEKBOT_EGOV_AUTH_TYPE": "Bearer",
	})
	ctx := context.Background()
	c := e.chat(5901, "ru", 0)
	k := e.keys[0]
	if gost {
		k = e.gostKeys[0]
	}
	app := fakeegov.New(fakeegov.Options{Auth: k.auth, Sign: k.sign, HTTP: e.client})

	// Bind: the link screen says which route fits which device; the QR code's link signs.
	c.send("/start")
	s := c.pressKey("btn.bind")
	c.wantText(s, e.tr("ru", "bind_link.title", nil), e.tr("ru", "egov.route_hint", nil))
	b := e.browser()
	b.open(c.linkOf("btn.sign_auth"))
	raw := egovLinkOf(t, b.page, "egov-raw")
	a1, _, err := app.Open(ctx, strings.TrimPrefix(raw, "mobileSign:"))
	if err != nil || a1 == nil || a1.Organisation.NameRu != "Управление образования города Астаны" ||
		a1.Organisation.BIN != "210240012345" || a1.Document.AuthType != "Bearer" {
		t.Fatalf("API №1: %+v, %v", a1, err)
	}
	seq := len(e.tg.Calls())
	if ans, err := app.SignLink(ctx, raw); err != nil || ans.StatusCode != http.StatusOK || ans.Status != "success" {
		t.Fatalf("eGov mobile bind: %+v, %v", ans, err)
	}
	s = c.result(seq, "")
	c.wantText(s, e.tr("ru", "bound.title", nil))
	if iin, err := e.db.BoundIIN(ctx, c.id); err != nil || iin.Digits() != postgres.DemoParents[0].IIN {
		t.Fatalf("binding: %v, %v", iin.Masked(), err)
	}

	// Revoke: the wrong key first (the chat explains, the link stays), then the right one
	// through the launcher a phone's tap opens.
	c.pressKey("btn.apps")
	c.press(appRevocable)
	c.pressKey("btn.revoke")
	c.press(flows.ReasonPresets[0].Text(flows.Russian))
	s = c.pressKey("btn.confirm")
	c.wantText(s, e.tr("ru", "sign_link.title", nil), e.tr("ru", "egov.route_hint", nil))
	b = e.browser()
	b.open(c.linkOf("btn.sign"))
	launcher := egovLinkOf(t, b.page, "egov-launch")
	if !strings.HasPrefix(launcher, "https://m.egov.kz/mobileSign/?link=https%3A%2F%2F") {
		t.Fatalf("launcher %q", launcher)
	}
	wrong := fakeegov.New(fakeegov.Options{Auth: k.auth, Sign: k.sign, HTTP: e.client, Mode: fakeegov.WrongKey})
	seq = len(e.tg.Calls())
	if ans, err := wrong.SignLink(ctx, launcher); err != nil || ans.StatusCode != http.StatusForbidden || ans.Code != "key_usage" {
		t.Fatalf("wrong key: %+v, %v", ans, err)
	}
	s = c.result(seq, "")
	c.wantText(s, e.tr("ru", "egov.rejected.wrong_key_revoke", nil), e.tr("ru", "sign_link.title", nil))
	if st := e.state(c.id); st.Name != flows.SRevokeSigning || st.Nonce == "" {
		t.Fatalf("state after the refused signature: %+v", st)
	}
	api1, err := fakeegov.API1URL(launcher)
	if err != nil {
		t.Fatal(err)
	}
	a1, _, err = app.Open(ctx, api1)
	if err != nil || a1 == nil {
		t.Fatalf("API №1: %v", err)
	}
	doc, _, err := app.Fetch(ctx, a1.Document.URI, a1.Document.AuthToken)
	if err != nil || doc == nil {
		t.Fatalf("API №2: %v", err)
	}
	body, err := app.SignDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	seq = len(e.tg.Calls())
	if ans, err := app.Put(ctx, a1.Document.URI, a1.Document.AuthToken, body); err != nil || ans.StatusCode != http.StatusOK {
		t.Fatalf("eGov mobile revoke: %+v, %v", ans, err)
	}
	s = c.result(seq, "")
	c.wantText(s, e.tr("ru", "revoked.title", nil), appRevocable)
	// The same PUT replayed: refused, nothing more happens.
	seq = len(e.tg.Calls())
	if ans, err := app.Put(ctx, a1.Document.URI, a1.Document.AuthToken, body); err != nil || ans.StatusCode != http.StatusConflict || ans.Code != "link_used" {
		t.Fatalf("replay: %+v, %v", ans, err)
	}
	if s := c.result(seq, ""); len(s.Shows) != 0 {
		t.Fatalf("a replay reached the chat: %s", s.Text)
	}
	e.checkAnswered()
	e.checkLogs()
}

var egovHref = regexp.MustCompile(`id="(egov-raw|egov-launch)"[^>]* href="([^"]+)"`)

// egovLinkOf returns the href of the page's element id (egov-raw or egov-launch).
func egovLinkOf(t *testing.T, page, id string) string {
	t.Helper()
	for _, m := range egovHref.FindAllStringSubmatch(page, -1) {
		if m[1] == id {
			return strings.NewReplacer("&amp;", "&", "&#43;", "+").Replace(m[2])
		}
	}
	t.Fatalf("the signing page has no %s link", id)
	return ""
}

// startWith is start with extra settings.
func (e *e2eEnv) startWith(extra map[string]string) {
	e.t.Helper()
	e.running = e.launch("127.0.0.1:0", func(actual string) map[string]string {
		e.addr = actual
		out := map[string]string{"KEZEKBOT_HTTP_ADDR": actual, "KEZEKBOT_PUBLIC_URL": "https://" + actual}
		for k, v := range extra {
			out[k] = v
		}
		return out
	})
	wctx, wcancel := context.WithTimeout(context.Background(), e2eWait)
	defer wcancel()
	if err := e.tg.WaitPolling(wctx); err != nil {
		e.t.Fatalf("the bot does not poll: %v", err)
	}
}
