package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// TestSandboxBrowser runs `kezekbot sandbox` and uses it in headless Chromium the way a
// developer does after `make run`: pick the first demo parent, /start, sign in with the
// sandbox's ЭЦП, open the application with the fresh referral, revoke it with a preset reason
// and sign, and see the result in the chat. The screenshot is left in the test's temp dir.
func TestSandboxBrowser(t *testing.T) {
	testenv.Chromium(t) // first: without Chromium, skip (fail in CI) before any setup
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	// The sandbox's chats have fixed ids; clean their keys (default prefix) in this package's
	// Redis DB before and after.
	for i := range postgres.DemoParents {
		cleanRedisChat(t, int64(sandboxFirstParent+i))
	}
	cleanRedisChat(t, sandboxStranger)

	base := startSandbox(t)

	bctx := testenv.Browser(t, 1100, 900)
	chatTab, cancelT := context.WithTimeout(bctx, 90*time.Second)
	defer cancelT()

	parent := postgres.DemoParents[0]
	lang := parent.Lang // the sandbox persona's Telegram language
	tr := func(key string) string { return cat.T(lang, key, nil) }
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(chatTab, actions...); err != nil {
			shot(t, chatTab, "failed.png")
			text, _ := chromedp.Run(chatTab, chromedp.Text(chromedp.ID("messages")))
			t.Fatalf("%s: %v\nchat on screen:\n%s", what, err, text)
		}
	}
	// seeText waits until the chat shows s (the page redraws as the bot's calls arrive).
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
	// press clicks the inline button labelled label on the newest message that has one.
	press := func(label string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.JSPath(fmt.Sprintf(
			`[...document.querySelectorAll("#messages .kb button")].filter((b) => b.textContent.includes(%s)).slice(-1)`, jsString(label))))
	}

	step("open the sandbox and pick the first parent",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#personas li")),
		chromedp.Click(chromedp.CSS("#personas li:first-child")),
		chromedp.WaitVisible(chromedp.ID("text")),
	)
	step("/start",
		chromedp.SendKeys(chromedp.ID("text"), "/start"),
		chromedp.Click(chromedp.ID("send")),
		seeText(cat.T(lang, "welcome.title", nil)),
	)
	step("press «"+tr("btn.bind")+"»", press(tr("btn.bind")), seeText(tr("bind_link.title")))
	signInTab(t, bctx, linkHref(t, chatTab, tr("btn.sign_auth")), "bind")
	step("see the bound message", seeText(tr("bound.title")))

	step("open «"+tr("btn.apps")+"»", press(tr("btn.apps")), seeText(tr("list.title")))
	step("open "+appRevocable, press(appRevocable), seeText(tr("card.title")))
	step("revoke", press(tr("btn.revoke")), seeText(tr("revoke_reason.title")))
	reason := flows.ReasonPresets[0].Text(flows.Lang(lang))
	step("pick a reason", press(reason), seeText(tr("revoke_confirm.title")))
	step("confirm", press(tr("btn.confirm")), seeText(tr("sign_link.title")))
	signInTab(t, bctx, linkHref(t, chatTab, tr("btn.sign")), "revoke")
	step("see the result", seeText(tr("revoked.title")))

	path := shot(t, chatTab, "sandbox.png")
	onScreen, err := chromedp.Run(chatTab, chromedp.Text(chromedp.ID("messages")))
	if err != nil {
		t.Fatalf("read the chat: %v", err)
	}
	// The bound message has since been edited into the journal and the card (the bot edits its
	// live message), so the last screens are what remains.
	for _, want := range []string{tr("revoked.title"), appRevocable, tr("status.queued"), tr("field.queue")} {
		if !strings.Contains(onScreen, want) {
			t.Errorf("the chat on screen lacks %q:\n%s", want, onScreen)
		}
	}
	for _, secret := range []string{parent.IIN, "/s/"} {
		if strings.Contains(onScreen, secret) {
			t.Errorf("the chat shows %q in clear", secret)
		}
	}
	// The guest signs in too (the sandbox's NCALayer had no key for the guest and answered as
	// a cancel) and finds an empty journal.
	step("pick the guest",
		chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll("#personas li")].filter((li) => li.dataset.chat === "`+fmt.Sprint(sandboxStranger)+`")`)),
		chromedp.WaitVisible(chromedp.ID("text")),
		chromedp.SendKeys(chromedp.ID("text"), "/start"),
		chromedp.Click(chromedp.ID("send")),
		seeText(cat.T("ru", "welcome.title", nil)),
	)
	step("guest: press «"+cat.T("ru", "btn.bind", nil)+"»", press(cat.T("ru", "btn.bind", nil)), seeText(cat.T("ru", "bind_link.title", nil)))
	signInTab(t, bctx, linkHref(t, chatTab, cat.T("ru", "btn.sign_auth", nil)), "guest bind")
	step("guest: bound, empty journal", seeText(cat.T("ru", "bound.title", nil)),
		press(cat.T("ru", "btn.apps", nil)), seeText(cat.T("ru", "list.empty", nil)))

	t.Logf("screenshot: %s", path)
	if keep := os.Getenv("KEZEKBOT_SCREENSHOT_DIR"); keep != "" && path != "" {
		// For a human look at the result: the temp dir is removed with the test.
		if b, err := os.ReadFile(path); err == nil {
			_ = os.WriteFile(filepath.Join(keep, "sandbox.png"), b, 0o600)
		}
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// linkHref waits for the link button labelled label on the newest message and returns its
// address. The page opens links in a new tab; the test navigates a tab of its own there.
func linkHref(t *testing.T, chatTab context.Context, label string) string {
	t.Helper()
	href, err := chromedp.Run(chatTab, chromedp.PollFunction[string](
		`(label) => { const a = [...document.querySelectorAll("#messages .kb a")].filter((a) => a.textContent.includes(label)).pop(); return a ? a.href : ""; }`,
		chromedp.WithPollingArgs(label), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		shot(t, chatTab, "failed.png")
		text, _ := chromedp.Run(chatTab, chromedp.Text(chromedp.ID("messages")))
		t.Fatalf("no link button %q in the chat: %v\nchat on screen:\n%s", label, err, text)
	}
	return href
}

// signInTab opens a signing link in a new tab and presses its sign button: the page's script
// fetches the document, the sandbox's fake NCALayer signs it with the demo parent's test key,
// and the script posts it back.
func signInTab(t *testing.T, bctx context.Context, href, what string) {
	t.Helper()
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	tab, cancelT := context.WithTimeout(tab, 60*time.Second)
	defer cancelT()
	err := chromedp.Do(tab,
		chromedp.Navigate(href),
		chromedp.WaitEnabled(chromedp.ID("sign")),
		chromedp.Click(chromedp.ID("sign")),
		chromedp.WaitReady(chromedp.CSS("#signer[data-outcome]")),
	)
	if err != nil {
		shot(t, tab, what+"-failed.png")
		t.Fatalf("sign (%s) on the page: %v", what, err)
	}
	outcome, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.ID("signer"), "data-outcome"))
	if err != nil {
		t.Fatalf("read the outcome: %v", err)
	}
	if outcome.Value != "ok" {
		status, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("status")))
		shot(t, tab, what+"-failed.png")
		t.Fatalf("sign (%s): outcome %q, page says %q", what, outcome.Value, status)
	}
}

// shot saves a screenshot of the tab in the test's temp dir and returns its path.
func shot(t *testing.T, tab context.Context, name string) string {
	t.Helper()
	img, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Errorf("screenshot %s is not a PNG: %v", name, err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Errorf("write screenshot: %v", err)
	}
	return path
}

// startSandbox runs `kezekbot sandbox` in this process on a fresh schema and this package's
// Redis DB until the test ends, waits until it serves and returns its base URL. Its log is
// shown when the test fails.
func startSandbox(t *testing.T) string {
	t.Helper()
	addr := freeAddr(t)
	base := "http://" + addr
	stderr := newWatchWriter("kezekbot serving")
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"sandbox",
			"-http-addr=" + addr,
			"-public-url=" + base,
			"-database-url=" + pgtest.URL(t),
			"-redis-url=" + redisstore.TestURL(e2eRedisDB),
			"-log-format=json",
			"-shutdown-grace=10s",
		}, &bytes.Buffer{}, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-exit:
			if code != 0 {
				t.Errorf("sandbox exited with %d; log:\n%s", code, stderr.String())
			}
		case <-time.After(e2eWait):
			t.Errorf("sandbox did not stop within %v", e2eWait)
		}
		if t.Failed() {
			t.Logf("sandbox log:\n%s", stderr.String())
		}
	})
	select {
	case <-stderr.seen:
	case code := <-exit:
		t.Fatalf("sandbox exited with %d before serving; log:\n%s", code, stderr.String())
	case <-time.After(e2eWait):
		t.Fatalf("sandbox did not start within %v", e2eWait)
	}
	return base
}
