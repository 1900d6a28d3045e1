package broadcast

import (
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/i18n"
	"github.com/kezekbot/kezekbot/internal/textlint"
)

// TestProofread keeps this package's texts free of the mistakes internal/textlint knows
// (case endings after values, counts before nouns, names in double quotes, long buttons).
func TestProofread(t *testing.T) {
	for key, s := range texts["kk"] {
		for _, p := range textlint.Kazakh(s) {
			t.Errorf("kk %s: %s\n\t%s", key, p, s)
		}
	}
	for key, s := range texts["ru"] {
		for _, p := range textlint.Russian(s) {
			t.Errorf("ru %s: %s\n\t%s", key, p, s)
		}
	}
	for _, lang := range []string{"kk", "ru"} {
		for key, s := range texts[lang] {
			if strings.HasPrefix(key, "btn.") || strings.HasPrefix(key, "staff.btn.") {
				for _, p := range textlint.Button(s) {
					t.Errorf("%s %s: %s", lang, key, p)
				}
			}
		}
	}
}

// TestStatusesAsInTheBot: a notification names a status exactly as the bot's card does.
func TestStatusesAsInTheBot(t *testing.T) {
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range kezekbot.Statuses {
		key := "status." + string(s)
		for _, lang := range []string{"kk", "ru"} {
			if got, want := T(lang, key), cat.T(lang, key, nil); got != want {
				t.Errorf("%s %s: notification says %q, the bot %q", lang, key, got, want)
			}
		}
	}
}
