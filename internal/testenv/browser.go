package testenv

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
)

// Browser starts headless Chromium (Chromium finds it) with a w×h window and a fresh profile,
// and returns its context: tabs are chromedp.NewContext of it. The browser stops when the test
// ends. The flags keep it off the network this machine does not have (background networking,
// component updates and sync each try to reach Google's hosts at start).
func Browser(tb testing.TB, w, h int) context.Context {
	tb.Helper()
	chromium := Chromium(tb)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(w, h),
	)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first Run starts the browser and must not carry a timeout (it would end the browser).
	if err := chromedp.Do(bctx); err != nil {
		tb.Fatalf("start %s: %v", chromium, err)
	}
	return bctx
}
