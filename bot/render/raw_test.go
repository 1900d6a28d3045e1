package render_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kezekbot/kezekbot/bot/render"
	"github.com/kezekbot/kezekbot/flows"
)

// A pre-rendered screen (the staff dialog's) is shown as it is: not escaped, its parse mode
// kept, its buttons checked and the bad ones dropped.
func TestRawScreen(t *testing.T) {
	r := newRenderer(t)
	raw := &flows.RawScreen{
		Text: hostile,
		Buttons: [][]flows.RawButton{
			{{Text: "Всем", Data: "s:all:0:1"}, {Text: "Отмена", Data: "s:no:0:1"}},
			{{Text: "too long", Data: "s:" + strings.Repeat("x", 63)}},
			{{Text: "both", Data: "s:ok:0:1", URL: "https://example.org"}, {Text: "neither"}},
			{{Text: "link", URL: "https://example.org/x"}, {Text: "bad link", URL: "javascript:alert(1)"}},
			{{Text: " ", Data: "s:ok:0:1"}},
		},
	}
	m := r.Screen(flows.Screen{Kind: "staff", Lang: flows.Kazakh, Notice: "notice.stale", Raw: raw,
		Buttons: [][]flows.Button{{{Label: "btn.menu", Action: flows.ActMenu}}}})
	if m.Text != hostile || m.ParseMode != "" {
		t.Fatalf("text %q parse mode %q, want the raw text plain", m.Text, m.ParseMode)
	}
	if m.Keyboard == nil {
		t.Fatal("no keyboard")
	}
	var got []string
	for _, row := range m.Keyboard.InlineKeyboard {
		for _, b := range row {
			got = append(got, b.Text+"|"+b.CallbackData+"|"+b.URL)
		}
	}
	want := []string{"Всем|s:all:0:1|", "Отмена|s:no:0:1|", "link||https://example.org/x", "•|s:ok:0:1|"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("buttons %q, want %q", got, want)
	}
	if len(m.Keyboard.InlineKeyboard) != 3 {
		t.Fatalf("rows %d, want 3 (empty rows dropped)", len(m.Keyboard.InlineKeyboard))
	}

	// No buttons: no keyboard. A parse mode is kept; a text over the limit is cut, and shown
	// plain because the cut may break the markup.
	m = r.Screen(flows.Screen{Raw: &flows.RawScreen{Text: "<b>x</b>", ParseMode: render.ParseMode}})
	if m.Keyboard != nil || m.ParseMode != render.ParseMode || m.Text != "<b>x</b>" {
		t.Fatalf("%+v", m)
	}
	long := "<b>" + strings.Repeat("ы\n", 3000) + "</b>"
	m = r.Screen(flows.Screen{Raw: &flows.RawScreen{Text: long, ParseMode: render.ParseMode}})
	if utf8.RuneCountInString(m.Text) > render.MaxTextLen || m.ParseMode != "" {
		t.Fatalf("long raw text: %d characters, parse mode %q", utf8.RuneCountInString(m.Text), m.ParseMode)
	}
}
