package broadcast

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/audience"
	"github.com/kezekbot/kezekbot/flows/staff"
	"github.com/kezekbot/kezekbot/store/postgres"
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

func TestRenderStaffEveryScreen(t *testing.T) {
	kinds := []staff.ScreenKind{staff.ScreenAudience, staff.ScreenParam, staff.ScreenStatus, staff.ScreenTextRU,
		staff.ScreenTextKK, staff.ScreenConfirm, staff.ScreenStarted, staff.ScreenCancelled, staff.ScreenError}
	params := []staff.Param{staff.ParamKindergarten, staff.ParamYears, staff.ParamNumbers}
	for _, lang := range []string{"kk", "ru"} {
		for _, k := range kinds {
			for _, p := range params {
				// Every button and notice the machine can draw, on every screen.
				st, out := staff.Step(staff.State{Lang: lang}, staff.Command{Name: "broadcast"})
				_ = st
				sc := out[0].(staff.Show).Screen
				sc.Kind, sc.Param, sc.Notice = k, p, "staff.notice.text_iin"
				sc.Audience = audience.Audience{KindergartenID: 3, Status: kezekbot.StatusQueued, YearFrom: 2020, Numbers: []string{"a"}}
				sc.Buttons = append(sc.Buttons, []staff.Button{{Label: "status.queued", Action: staff.ActPickStatus}})
				text, buttons := RenderStaff(sc, 5)
				if strings.Contains(text, "staff.") || strings.Contains(text, "{") {
					t.Errorf("%s %s/%s: unrendered key or placeholder in %q", lang, k, p, text)
				}
				for _, row := range buttons {
					for _, b := range row {
						if strings.Contains(b.Text, "staff.") || strings.Contains(b.Text, "status.") || len(b.Data) > 64 {
							t.Errorf("%s: bad button %+v", lang, b)
						}
					}
				}
			}
		}
	}
}

func TestProgressView(t *testing.T) {
	b := postgres.Broadcast{ID: 12, State: postgres.BroadcastRunning, Total: 1000, Sent: 400, Failed: 5, Blocked: 95}
	for _, lang := range []string{"kk", "ru"} {
		text, buttons := ProgressView(lang, b, 0.5, time.Minute)
		if !strings.Contains(text, "400") || !strings.Contains(text, "500") || !strings.Contains(text, "0.5") ||
			strings.Contains(text, "{") || !strings.Contains(text, T(lang, "minutes", "N", "17")) {
			t.Errorf("%s: %q", lang, text)
		}
		if len(buttons) != 1 || buttons[0][0].Data != staff.EncodeCallback(staff.ActStop, 12, 0) {
			t.Errorf("%s: buttons %+v", lang, buttons)
		}
	}
	b.State = postgres.BroadcastDone
	if _, buttons := ProgressView("ru", b, 0, time.Minute); len(buttons) != 0 {
		t.Errorf("a finished broadcast has buttons: %+v", buttons)
	}
}
