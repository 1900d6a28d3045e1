package i18n

import (
	"os"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/internal/textlint"
)

// TestProofread keeps the catalogs free of the mistakes found by proofreading them
// (internal/textlint says which): case endings after values, counts before nouns, names in
// double quotes, buttons too long for a phone.
func TestProofread(t *testing.T) {
	c := mustNew(t)
	for _, k := range c.Keys() {
		kk, _ := c.Source("kk", k)
		ru, _ := c.Source("ru", k)
		for _, p := range textlint.Kazakh(kk) {
			t.Errorf("kk %s: %s\n\t%s", k, p, kk)
		}
		for _, p := range textlint.Russian(ru) {
			t.Errorf("ru %s: %s\n\t%s", k, p, ru)
		}
		// The refusal is read on a phone right after a failed attempt: one short sentence
		// with the time, not the rule stated twice (they were 190–226 characters).
		if strings.HasPrefix(k, "refusal.window_closed") {
			for _, s := range []string{kk, ru} {
				if n := len([]rune(s)); n > 120 {
					t.Errorf("%s is %d characters, keep it under 120: %s", k, n, s)
				}
			}
		}
		label := func(s string) string { return s }
		switch {
		case strings.HasPrefix(k, "btn."):
		case strings.HasPrefix(k, "mute."):
			// Drawn as a button: btn.mute_on / btn.mute_off put "🔔 " before it.
			label = func(s string) string { return "🔔 " + s }
		default:
			continue
		}
		for _, s := range []string{kk, ru} {
			for _, p := range textlint.Button(label(s)) {
				t.Errorf("%s: %s", k, p)
			}
		}
	}
}

// TestReadmeNamesTheButtons: the README's walk-through quotes the bind button as the bot
// labels it.
func TestReadmeNamesTheButtons(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	c := mustNew(t)
	label := func(lang string) string {
		s := c.T(lang, "btn.bind", nil)
		_, rest, _ := strings.Cut(s, " ") // the emoji
		return rest
	}
	if want := "«" + label("kk") + " / " + label("ru") + "»"; !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not name the bind button as the bot does: %s", want)
	}
}
