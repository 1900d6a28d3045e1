package render_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/flows"
)

// The card from kezekbot's mirror says when the data is from, in Astana time.
func TestCardAsOf(t *testing.T) {
	r := newRenderer(t)
	d := detail("Иванов")
	at := time.Date(2026, 12, 4, 9, 5, 0, 0, time.UTC) // 14:05 in Astana
	for _, tc := range []struct {
		lang flows.Lang
		now  time.Time
		asOf time.Time
		want string
	}{
		{flows.Russian, at.Add(time.Hour), at, "данные на 14:05"},
		{flows.Kazakh, at.Add(time.Hour), at, "14:05 жағдайы бойынша"},
		{flows.Russian, at.Add(48 * time.Hour), at, "данные на 4 декабря 2026"},
		{flows.Russian, at, time.Time{}, ""},
	} {
		app := *d
		app.AsOf = tc.asOf
		m := r.Screen(flows.Screen{Kind: flows.ScreenCard, Lang: tc.lang, Now: tc.now, Rev: 1, App: &app})
		if tc.want == "" {
			if strings.Contains(m.Text, "данные на") || strings.Contains(m.Text, "🕓") {
				t.Errorf("fresh card marked: %q", m.Text)
			}
			continue
		}
		if !strings.Contains(m.Text, tc.want) {
			t.Errorf("%s card %q lacks %q", tc.lang, m.Text, tc.want)
		}
	}
}

// The pages of an application from the mirror carry the same marker as its card.
func TestPagesAsOf(t *testing.T) {
	r := newRenderer(t)
	d := *detail("Иванов")
	d.AsOf = time.Date(2026, 12, 4, 9, 5, 0, 0, time.UTC)
	for _, kind := range []flows.ScreenKind{flows.ScreenHistory, flows.ScreenDocs, flows.ScreenReferral} {
		m := r.Screen(flows.Screen{Kind: kind, Lang: flows.Russian, Now: d.AsOf, Rev: 1, App: &d, Ref: &d.Referrals[0]})
		if !strings.Contains(m.Text, "данные на 14:05") {
			t.Errorf("%s from the mirror is not marked:\n%s", kind, m.Text)
		}
	}
}

// Every refusal code of the contract has its own text in both languages.
func TestCityRefusalTexts(t *testing.T) {
	r := newRenderer(t)
	d := detail("Иванов")
	for _, lang := range []flows.Lang{flows.Kazakh, flows.Russian} {
		fallback := r.Screen(flows.Screen{Kind: flows.ScreenRevokeRejected, Lang: lang, App: d, ErrCode: "no_such_code"}).Text
		seen := map[string]string{}
		for _, code := range city.RefusalCodes {
			m := r.Screen(flows.Screen{Kind: flows.ScreenRevokeRejected, Lang: lang, App: d, ErrCode: code})
			if code != city.RefuseInvalid && m.Text == fallback {
				t.Errorf("%s/%s: falls back to the generic text", lang, code)
			}
			for other, text := range seen {
				if text == m.Text {
					t.Errorf("%s: %s and %s read the same", lang, code, other)
				}
			}
			seen[code] = m.Text
		}
	}
}
