package kezekbot_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kezekbot/kezekbot"
)

// iinForGuard is a valid IIN (born 1990-05-06) used to build disguised variants.
const iinForGuard = "900506400124"

func TestContainsIINDisguised(t *testing.T) {
	if _, err := kezekbot.ParseIIN(iinForGuard); err != nil {
		t.Fatalf("test IIN invalid: %v", err)
	}
	fullWidth := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			b.WriteRune(r - '0' + '０')
		}
		return b.String()
	}
	join := func(sep string) string { return strings.Join(strings.Split(iinForGuard, ""), sep) }
	for _, tt := range []struct {
		name string
		text string
		want bool
	}{
		{"plain", "ИИН " + iinForGuard + " ребёнка", true},
		{"glued to letters", "ИИН:" + iinForGuard + "ok", true},
		{"spaces in groups", "ИИН 900506 400124", true},
		{"dashes", "900-506-400-124", true},
		{"dots", "9.0.0.5.0.6.4.0.0.1.2.4", true},
		{"en dash", "900506–400124", true},
		{"nbsp", "900506\u00a0400124", true},
		{"narrow nbsp", "900\u202f506\u202f400\u202f124", true},
		{"zero-width space", join("\u200b"), true},
		{"zero-width joiner", join("\u200d"), true},
		{"word joiner", join("\u2060"), true},
		{"soft hyphen", join("\u00ad"), true},
		{"bom", join("\ufeff"), true},
		{"rtl mark", join("\u200f"), true},
		{"combining mark", join("\u0301"), true},
		{"full-width", fullWidth(iinForGuard), true},
		{"mathematical digits", "𝟗𝟎𝟎𝟓𝟎𝟔𝟒𝟎𝟎𝟏𝟐𝟒", true},
		{"arabic-indic digits", "٩٠٠٥٠٦٤٠٠١٢٤", true},
		{"devanagari digits", "९००५०६४००१२४", true},
		{"mixed", "９0０-5\u200b06 4·00 1２4", true},
		{"inside a longer number", "1" + iinForGuard + "9", true},
		{"newline inside", "900506\n400124", true},
		// Not IINs.
		{"phone", "Звоните +7 (701) 123-45-67", false},
		{"date and time", "Приём 15.09.2026 с 09:00 до 18:00", false},
		{"wrong check digit", "900506400125", false},
		{"eleven digits", "90050640012", false},
		{"letters split", "900506 ИИН 400124", false},
		{"empty", "", false},
		{"queue numbers", "очередь 1234, было 1300", false},
	} {
		if got := kezekbot.ContainsIIN(tt.text); got != tt.want {
			t.Errorf("%s: ContainsIIN(%q) = %v, want %v", tt.name, tt.text, got, tt.want)
		}
	}
}

// FuzzContainsIIN: any valid IIN, with any bytes the fuzzer picks put between its digits as
// separators, is found when those bytes are separators; and the guard never panics on any
// input.
func FuzzContainsIIN(f *testing.F) {
	f.Add("ИИН 900506 400124", "\u200b")
	f.Add("", " ")
	f.Add("９００", "-")
	f.Fuzz(func(t *testing.T, text, sep string) {
		_ = kezekbot.ContainsIIN(text)
		if !utf8.ValidString(sep) {
			return
		}
		for _, r := range sep {
			if !kezekbot.IsIINSeparatorForTest(r) {
				return
			}
		}
		disguised := "x " + strings.Join(strings.Split(iinForGuard, ""), sep) + " x"
		if !kezekbot.ContainsIIN(disguised) {
			t.Fatalf("missed the IIN separated by %q", sep)
		}
	})
}
