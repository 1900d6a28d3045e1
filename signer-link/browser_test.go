package signerlink_test

import (
	"context"
	"net"
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
	signerlink "github.com/kezekbot/kezekbot/signer-link"
	"github.com/kezekbot/kezekbot/signer-link/fakencalayer"
)

// TestBrowser opens signing pages in headless Chromium: the real sign.js fetches the
// document, talks to the fake NCALayer over a WebSocket, posts the signature, and the chat is
// told. It also checks that the page breaks no CSP rule.
func TestBrowser(t *testing.T) {
	testenv.Chromium(t) // first: without Chromium, skip (fail in CI) before any setup

	e := newEnv(t)
	p := e.parent(time.Hour)
	fake, err := fakencalayer.Start(t.Context(), fakencalayer.Options{Auth: p.Auth, Sign: p.Sign})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	e.svc = e.newService(func(c *signerlink.Config) { c.NCALayerURL = fake.URL() })
	e.mount(e.svc)

	bctx := testenv.Browser(t, 390, 844)

	// run opens url in a new tab, presses «Подписать» and returns the outcome the script
	// recorded and the status text shown. Exceptions and CSP violations fail the test.
	run := func(t *testing.T, url string) (outcome, status string) {
		t.Helper()
		var mu sync.Mutex
		var problems []string
		tctx, cancel := chromedp.NewContext(bctx, chromedp.WithListener(func(ev any) {
			// Runs in the tab's loop: record and return.
			mu.Lock()
			defer mu.Unlock()
			switch ev := ev.(type) {
			case *runtime.EventExceptionThrown:
				problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
			case *log.EventEntryAdded:
				if strings.Contains(ev.Entry.Text, "Content Security Policy") {
					problems = append(problems, "CSP: "+ev.Entry.Text)
				}
			case *runtime.EventConsoleAPICalled:
				if ev.Type == runtime.ConsoleAPICalledTypeError {
					problems = append(problems, "console.error")
				}
			}
		}))
		defer cancel()
		tctx, cancelT := context.WithTimeout(tctx, 60*time.Second)
		defer cancelT()
		err := chromedp.Do(tctx,
			chromedp.Navigate(url),
			chromedp.WaitEnabled(chromedp.ID("sign")),
			chromedp.Click(chromedp.ID("sign")),
			chromedp.WaitReady(chromedp.CSS("#signer[data-outcome]")),
		)
		if err != nil {
			t.Fatalf("drive the page: %v", err)
		}
		attr, err := chromedp.Run(tctx, chromedp.AttributeValue(chromedp.ID("signer"), "data-outcome"))
		if err != nil {
			t.Fatalf("read the outcome: %v", err)
		}
		status, err = chromedp.Run(tctx, chromedp.Text(chromedp.ID("status")))
		if err != nil {
			t.Fatalf("read the status: %v", err)
		}
		if dir := os.Getenv("KEZEKBOT_SCREENSHOT_DIR"); dir != "" {
			// For people reviewing the page: KEZEKBOT_SCREENSHOT_DIR=/tmp/shots go test -run TestBrowser
			png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
			if err == nil {
				name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "_" + attr.Value + ".png"
				err = os.WriteFile(filepath.Join(dir, name), png, 0o644)
			}
			if err != nil {
				t.Logf("screenshot: %v", err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, pr := range problems {
			t.Errorf("page problem: %s", pr)
		}
		return attr.Value, status
	}

	t.Run("CancelThenWrongKeyThenRevoke", func(t *testing.T) {
		link := e.issueRevoke(p, flows.Russian)

		fake.SetMode(fakencalayer.Cancel)
		if outcome, status := run(t, link.URL); outcome != "cancelled" || !strings.Contains(status, "отменено") {
			t.Errorf("cancel: outcome %q, status %q", outcome, status)
		}
		fake.SetMode(fakencalayer.WrongKey)
		if outcome, status := run(t, link.URL); outcome != "key_usage" || !strings.Contains(status, "ключ подписи") {
			t.Errorf("wrong key: outcome %q, status %q", outcome, status)
		}
		e.res.none(t)

		fake.SetMode(fakencalayer.Sign)
		outcome, status := run(t, link.URL)
		if outcome != "ok" || !strings.Contains(status, "направление отозвано") {
			t.Fatalf("sign: outcome %q, status %q", outcome, status)
		}
		ev := e.res.next(t)
		signed, ok := ev.Event.(flows.Signed)
		if !ok || ev.ChatID != p.ChatID || !signed.OK || signed.Action != kezekbot.ActionRevoke || signed.Nonce != link.Nonce {
			t.Fatalf("reported %+v", ev)
		}
		if st := e.referralState(p); st != kezekbot.ReferralRevoked {
			t.Errorf("referral is %s", st)
		}
		// What the script sent to NCALayer: the modern API first, SIGN key asked for.
		var saw bool
		for {
			select {
			case r := <-fake.Requests():
				if r.Module == fakencalayer.ModuleBasics && r.Usage == 2 && r.Locale == "ru" && strings.Contains(r.Data, link.Nonce) {
					saw = true
				}
				continue
			default:
			}
			break
		}
		if !saw {
			t.Error("no basics.sign request for the SIGN key with the link's document")
		}
	})

	t.Run("BindThroughLegacyAPI", func(t *testing.T) {
		fake.SetMode(fakencalayer.LegacyOnly)
		link := e.issueBind(p)
		outcome, status := run(t, link.URL)
		if outcome != "ok" || !strings.Contains(status, "чат привязан") {
			t.Fatalf("bind: outcome %q, status %q", outcome, status)
		}
		if signed := e.res.next(t).Event.(flows.Signed); !signed.OK || !signed.IIN.Equal(p.IIN) {
			t.Errorf("signed = %+v", signed)
		}
	})

	// The parent switches a Russian link's page to Kazakh: the result is Kazakh too.
	t.Run("ResultInThePagesLanguage", func(t *testing.T) {
		link := e.issueBind(p)
		outcome, status := run(t, link.URL+"?lang=kk")
		if outcome != "ok" || !strings.Contains(status, "ЖСН-іңізге байланыстырылды") {
			t.Fatalf("bind on the Kazakh page: outcome %q, status %q", outcome, status)
		}
		e.res.next(t)
	})

	t.Run("NCALayerSilent", func(t *testing.T) {
		fake.SetMode(fakencalayer.Silent)
		defer fake.SetMode(fakencalayer.Sign)
		svc := e.newService(func(c *signerlink.Config) {
			c.NCALayerURL = fake.URL()
			c.SignTimeout = 2 * time.Second
		})
		e.mount(svc)
		defer e.mount(e.svc)
		link, err := svc.Issue(context.Background(), flows.SignRequest{ChatID: p.ChatID, Action: kezekbot.ActionBind, Lang: flows.Russian})
		if err != nil {
			t.Fatal(err)
		}
		if outcome, status := run(t, link.URL); outcome != "timeout" || !strings.Contains(status, "не ответил вовремя") {
			t.Errorf("outcome %q, status %q", outcome, status)
		}
		e.res.none(t)
	})

	t.Run("NCALayerNotRunning", func(t *testing.T) {
		// A port nobody listens on: take one and release it.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "ws://" + ln.Addr().String()
		_ = ln.Close()
		svc := e.newService(func(c *signerlink.Config) { c.NCALayerURL = dead })
		e.mount(svc)
		defer e.mount(e.svc)
		link, err := svc.Issue(context.Background(), flows.SignRequest{ChatID: p.ChatID, Action: kezekbot.ActionBind, Lang: flows.Kazakh})
		if err != nil {
			t.Fatal(err)
		}
		outcome, status := run(t, link.URL)
		if outcome != "not_running" || !strings.Contains(status, signerlink.InstallURL) || !strings.Contains(status, "NCALayer іске қосылмаған") {
			t.Errorf("outcome %q, status %q", outcome, status)
		}
		e.res.none(t)
	})
}
