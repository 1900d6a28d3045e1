package signerlink_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/signer-link/fakeegov"
)

// TestBrowserEGovPhone opens a revoke link in headless Chromium at a phone's viewport: the
// page must offer eGov mobile first (the launcher and the raw mobileSign: link, NCALayer
// behind the switch), wait while "the app" (fakeegov, driven by the test as a phone would be)
// signs — first with the wrong key, which the page explains while it keeps waiting, then with
// the right one — and show the outcome in the page's language, with the chat told.
func TestBrowserEGovPhone(t *testing.T) {
	testenv.Chromium(t) // first: without Chromium, skip (fail in CI) before any setup
	e := newEnv(t, egovOn)
	p := e.parent(time.Hour)
	// Bound through the NCALayer route, so a revoke link can be issued.
	bl := e.issueBind(p)
	b := e.browser()
	b.open(bl.URL)
	if r := b.post(e.sign(b.document(), p.Auth)); !r.OK {
		t.Fatalf("bind: %+v", r)
	}
	e.res.next(t)
	link := e.issueRevoke(p, flows.Kazakh)

	bctx := testenv.Browser(t, 390, 844)
	var mu sync.Mutex
	var problems []string
	tab, cancel := chromedp.NewContext(bctx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if strings.Contains(ev.Entry.Text, "Content Security Policy") {
				problems = append(problems, "CSP: "+ev.Entry.Text)
			}
		}
	}))
	defer cancel()
	tab, cancelT := context.WithTimeout(tab, 60*time.Second)
	defer cancelT()

	if err := chromedp.Do(tab,
		chromedp.Navigate(link.URL),
		chromedp.WaitVisible(chromedp.ID("egov-launch")),
		chromedp.WaitVisible(chromedp.ID("egov-status")),
	); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	// The phone layout: eGov mobile first, NCALayer and the QR code hidden, a switch shown.
	layout, err := chromedp.Run(tab, chromedp.Evaluate[map[string]any](`(() => {
		const vis = (id) => { const el = document.getElementById(id); return !!el && el.getClientRects().length > 0; };
		return {
			mode: document.getElementById('signer').dataset.mode,
			launch: vis('egov-launch'), raw: vis('egov-raw'), qr: vis('egov-qr'), sign: vis('sign'), sw: vis('route-switch'),
			first: document.querySelector('.route').id,
			text: document.getElementById('egov-launch').textContent,
			rawHref: document.getElementById('egov-raw').getAttribute('href'),
			launchHref: document.getElementById('egov-launch').getAttribute('href'),
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if layout["mode"] != "phone" || layout["launch"] != true || layout["raw"] != true || layout["qr"] != false ||
		layout["sign"] != false || layout["sw"] != true || layout["first"] != "route-egov" || layout["text"] != "eGov mobile-да қол қою" {
		t.Errorf("phone layout = %v", layout)
	}
	screenshot(t, tab, "egov_phone_waiting.png")
	raw, _ := layout["rawHref"].(string)
	if !strings.HasPrefix(raw, "mobileSign:"+link.URL) || !strings.Contains(layout["launchHref"].(string), "m.egov.kz/mobileSign/?link=") {
		t.Fatalf("links %v", layout)
	}

	waitOutcome := func(want string) string {
		t.Helper()
		status, err := chromedp.Run(tab, chromedp.PollFunction[string](
			`(want) => { const s = document.getElementById('signer'); return s.dataset.outcome === want ? document.getElementById('egov-status').textContent : ''; }`,
			chromedp.WithPollingArgs(want), chromedp.WithPollingTimeout(20*time.Second)))
		if err != nil {
			t.Fatalf("wait for outcome %q: %v", want, err)
		}
		return status
	}

	// The app signs with the wrong key: the page says so and keeps waiting; the chat is told.
	ans, err := fakeegov.New(fakeegov.Options{Auth: p.Auth, Sign: p.Sign, Mode: fakeegov.WrongKey}).SignLink(t.Context(), raw)
	if err != nil || ans.StatusCode != 403 || ans.Code != "key_usage" {
		t.Fatalf("wrong key → %+v %v", ans, err)
	}
	if status := waitOutcome("key_usage"); !strings.Contains(status, "қол қою кілті") {
		t.Errorf("wrong key status %q", status)
	}
	if s := e.res.next(t).Event.(flows.Signed); s.Rejected != flows.RejectedWrongKey {
		t.Errorf("chat told %+v", s)
	}

	// Then with the right key, through the launcher URL a phone's tap would open.
	ans, err = fakeegov.New(fakeegov.Options{Auth: p.Auth, Sign: p.Sign}).SignLink(t.Context(), layout["launchHref"].(string))
	if err != nil || ans.StatusCode != 200 {
		t.Fatalf("sign → %+v %v", ans, err)
	}
	if status := waitOutcome("ok"); !strings.Contains(status, "жолдама кері қайтарылды") {
		t.Errorf("final status %q", status)
	}
	ev := e.res.next(t)
	if s, ok := ev.Event.(flows.Signed); !ok || !s.OK || s.Action != kezekbot.ActionRevoke || ev.ChatID != p.ChatID {
		t.Errorf("chat told %+v", ev)
	}
	if st := e.referralState(p); st != kezekbot.ReferralRevoked {
		t.Errorf("referral %s", st)
	}
	screenshot(t, tab, "egov_phone_done.png")
	back, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("back")))
	if err != nil || !strings.Contains(back, "Telegram") {
		t.Errorf("back text %q (%v)", back, err)
	}

	// The switch shows the computer route on the same page.
	link2 := e.issueBind(parent{ChatID: p.ChatID + 1_000_000})
	if err := chromedp.Do(tab,
		chromedp.Navigate(link2.URL),
		chromedp.WaitVisible(chromedp.ID("route-switch")),
		chromedp.Click(chromedp.ID("route-switch")),
		chromedp.WaitVisible(chromedp.ID("sign")),
		chromedp.WaitVisible(chromedp.ID("egov-qr")),
	); err != nil {
		t.Fatalf("switch to NCALayer: %v", err)
	}
	screenshot(t, tab, "egov_phone_switched.png")
	mu.Lock()
	defer mu.Unlock()
	for _, pr := range problems {
		t.Errorf("page problem: %s", pr)
	}
}

// screenshot saves the tab in KEZEKBOT_SCREENSHOT_DIR, when set, for people reviewing the page.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := os.Getenv("KEZEKBOT_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), png, 0o644)
	}
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}
