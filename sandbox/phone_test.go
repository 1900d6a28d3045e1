package sandbox_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/sandbox"
)

// TestPhoneLayout opens the page in Chromium at a phone's size (360×740): the persona notes
// are hidden (a `.chats li small` rule outranked the media query's `.chats small`) and every
// name is shown whole (a 110 px column cut them to a few letters). On a desktop the notes show.
func TestPhoneLayout(t *testing.T) {
	testenv.Chromium(t) // first: without Chromium, skip (fail in CI) before any setup
	api := telegramtest.New()
	defer api.Close()
	personas := []sandbox.Persona{
		{ChatID: 1, Name: "Жұмабаева Әсел Нұрланқызы", Role: "parent", Lang: "kk", Note: "a referral issued 10 minutes ago: revocable"},
		{ChatID: 2, Name: "Ахметов Ерлан Серикович", Role: "parent", Lang: "ru", Note: "a referral issued 2 days ago"},
		{ChatID: 3, Name: "Гость", Role: "parent", Lang: "ru", Note: "no applications"},
	}
	ui := sandbox.New(api.Handler, personas, slog.Default())
	srv := httptest.NewServer(ui)
	defer srv.Close()

	for _, tc := range []struct {
		name      string
		w, h      int
		wantNotes bool
	}{
		{"phone", 360, 740, false},
		{"desktop", 1100, 800, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bctx := testenv.Browser(t, tc.w, tc.h)
			ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
			defer cancel()
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#personas li"))); err != nil {
				t.Fatalf("open the page: %v", err)
			}
			type person struct {
				Name        string
				NoteShown   bool
				Cut         bool
				Width, Full float64
			}
			got, err := chromedp.Run(ctx, chromedp.Evaluate[[]person](`[...document.querySelectorAll("#personas li")].map((li) => {
				const note = li.querySelector("small");
				const name = document.createRange();
				name.selectNodeContents(li.firstChild);
				const r = name.getBoundingClientRect(), box = li.getBoundingClientRect();
				return {Name: li.firstChild.textContent, NoteShown: !!note && getComputedStyle(note).display !== "none" && note.offsetHeight > 0,
					Cut: li.scrollWidth > li.clientWidth + 1 || name.getClientRects().length > 1 || r.right > box.right + 1,
					Width: box.width, Full: r.width};
			})`))
			if err != nil {
				t.Fatalf("measure: %v", err)
			}
			if len(got) != len(personas) {
				t.Fatalf("%d personas on the page", len(got))
			}
			for _, p := range got {
				if p.NoteShown != tc.wantNotes {
					t.Errorf("%s: note shown = %v, want %v", p.Name, p.NoteShown, tc.wantNotes)
				}
				if tc.name == "phone" && p.Cut {
					t.Errorf("%s: the name is cut or wrapped (box %.0f px, name %.0f px)", p.Name, p.Width, p.Full)
				}
			}
		})
	}
}
