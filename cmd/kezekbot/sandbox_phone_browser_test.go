package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kezekbot/kezekbot/i18n"
	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// TestSandboxPhoneBrowser tries the phone route the way a newcomer does after `make run`: the
// phone persona (the GOST demo parent on a phone) types /start and asks to sign in; the link
// opens at a phone's viewport, where the page offers eGov mobile first; «sandbox eGov mobile»
// signs as the app would (API №1, API №2, the demo parent's TEST key), the page shows the
// outcome and the chat the bound message.
func TestSandboxPhoneBrowser(t *testing.T) {
	testenv.Chromium(t) // first: without Chromium, skip (fail in CI) before any setup
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	cleanRedisChat(t, sandboxPhone)

	base := startSandbox(t)

	bctx := testenv.Browser(t, 1100, 900)
	chatTab, cancelT := context.WithTimeout(bctx, 90*time.Second)
	defer cancelT()

	lang := postgres.DemoParents[sandboxPhoneParent].Lang
	tr := func(key string) string { return cat.T(lang, key, nil) }
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(chatTab, actions...); err != nil {
			shot(t, chatTab, "failed.png")
			text, _ := chromedp.Run(chatTab, chromedp.Text(chromedp.ID("messages")))
			t.Fatalf("%s: %v\nchat on screen:\n%s", what, err, text)
		}
	}
	seeText := func(s string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.PollFunction[bool](`(s) => document.getElementById("messages").innerText.includes(s)`,
				chromedp.WithPollingArgs(s), chromedp.WithPollingTimeout(30*time.Second))(ctx, tg)
			if err != nil {
				return fmt.Errorf("wait for %q in the chat: %w", s, err)
			}
			return nil
		})
	}
	press := func(label string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.JSPath(fmt.Sprintf(
			`[...document.querySelectorAll("#messages .kb button")].filter((b) => b.textContent.includes(%s)).slice(-1)`, jsString(label))))
	}

	step("open the sandbox and pick the phone persona",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#personas li[data-chat="%d"]`, sandboxPhone))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#personas li[data-chat="%d"]`, sandboxPhone))),
		chromedp.WaitVisible(chromedp.CSS("body.phone #text")),
	)
	step("/start",
		chromedp.SendKeys(chromedp.ID("text"), "/start"),
		chromedp.Click(chromedp.ID("send")),
		seeText(tr("welcome.title")),
	)
	step("press «"+tr("btn.bind")+"»", press(tr("btn.bind")), seeText(tr("bind_link.title")), seeText(tr("egov.route_hint")))
	href := linkHref(t, chatTab, tr("btn.sign_auth"))

	// The link on a phone: a tab at a phone's viewport.
	tab, cancelTab := chromedp.NewContext(bctx)
	defer cancelTab()
	tab, cancelTabT := context.WithTimeout(tab, 60*time.Second)
	defer cancelTabT()
	err = chromedp.Do(tab,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(href),
		chromedp.WaitVisible(chromedp.ID("egov-launch")),
		chromedp.WaitVisible(chromedp.ID("egov-sandbox")),
	)
	if err != nil {
		shot(t, tab, "phone-failed.png")
		t.Fatalf("open the link on the phone: %v", err)
	}
	first, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('.route').id + ' ' + document.getElementById('signer').dataset.mode + ' ' + (document.getElementById('sign').getClientRects().length > 0)`))
	if err != nil || first != "route-egov phone false" {
		t.Errorf("phone layout %q (%v), want the eGov route first and NCALayer hidden", first, err)
	}
	err = chromedp.Do(tab,
		chromedp.Click(chromedp.ID("egov-sandbox")),
		chromedp.WaitReady(chromedp.CSS(`#signer[data-outcome="ok"]`)),
	)
	if err != nil {
		status, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("egov-status")))
		shot(t, tab, "phone-failed.png")
		t.Fatalf("sign with «sandbox eGov mobile»: %v (page says %q)", err, status)
	}
	status, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("egov-status")))
	if want := signerText(lang, "ok.bind"); err != nil || !strings.Contains(status, want) {
		t.Errorf("page status %q (%v), want %q", status, err, want)
	}
	shot(t, tab, "phone-signed.png")
	step("see the bound message", seeText(tr("bound.title")))
}

// signerText is the signing page's text for key (signer-link keeps its own, kk and ru).
func signerText(lang, key string) string {
	switch {
	case key == "ok.bind" && lang == "kk":
		return "чат сіздің ЖСН-іңізге байланыстырылды"
	case key == "ok.bind":
		return "чат привязан"
	}
	return key
}
