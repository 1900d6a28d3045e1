package broadcast

import (
	"regexp"
	"slices"
	"testing"
)

var placeholder = regexp.MustCompile(`\{[A-Za-z]+\}`)

// TestTextsComplete: both languages have every key, with the same placeholders.
func TestTextsComplete(t *testing.T) {
	for key, ru := range texts["ru"] {
		kk, ok := texts["kk"][key]
		if !ok {
			t.Errorf("kk lacks %q", key)
			continue
		}
		a, b := placeholder.FindAllString(ru, -1), placeholder.FindAllString(kk, -1)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(slices.Compact(a), slices.Compact(b)) {
			t.Errorf("%q: ru placeholders %v, kk %v", key, a, b)
		}
	}
	for key := range texts["kk"] {
		if _, ok := texts["ru"][key]; !ok {
			t.Errorf("ru lacks %q", key)
		}
	}
}

func TestT(t *testing.T) {
	tests := []struct{ lang, key, want string }{
		{"ru", "minutes", "5 мин"},
		{"kk", "hours", "5 сағ"},
		{"en", "minutes", "5 мин"}, // unknown language: Russian
		{"ru", "no.such.key", "no.such.key"},
	}
	for _, tt := range tests {
		if got := T(tt.lang, tt.key, "N", "5"); got != tt.want {
			t.Errorf("T(%q, %q) = %q, want %q", tt.lang, tt.key, got, tt.want)
		}
	}
}
