package staff

import (
	"reflect"
	"testing"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/audience"
)

// run feeds events in order; presses take the revision of the screen shown last.
func run(t *testing.T, st State, evs ...Event) (State, []Effect) {
	t.Helper()
	var out []Effect
	for _, ev := range evs {
		if p, ok := ev.(Press); ok && p.Rev == 0 && p.Action != ActStop && p.Action != ActResume {
			p.Rev = st.Rev
			ev = p
		}
		st, out = Step(st, ev)
	}
	return st, out
}

func answers(out []Effect) int {
	n := 0
	for _, e := range out {
		if _, ok := e.(Answer); ok {
			n++
		}
	}
	return n
}

func screen(t *testing.T, out []Effect) Screen {
	t.Helper()
	for _, e := range out {
		if s, ok := e.(Show); ok {
			return s.Screen
		}
	}
	t.Fatalf("no screen in %#v", out)
	return Screen{}
}

func TestDialog(t *testing.T) {
	iin := "" // a valid IIN, found by brute force so the test does not hard-code one
	for s := 0; s < 100 && iin == ""; s++ {
		p := "850101300" + string(rune('0'+s/10)) + string(rune('0'+s%10))
		if d, ok := kezekbot.IINCheckDigit(p); ok {
			iin = p + string(rune('0'+d))
		}
	}
	tests := []struct {
		name   string
		evs    []Event
		state  StateName
		screen ScreenKind
		notice string
		effect Effect // expected among the last effects, when set
	}{
		{"start", []Event{Command{Name: "broadcast"}}, SAudience, ScreenAudience, "", nil},
		{"all counts", []Event{Command{Name: "broadcast"}, Press{Action: ActAll}}, SCounting, "", "",
			CountAudience{Audience: audience.Audience{}}},
		{"nobody", []Event{Command{Name: "broadcast"}, Press{Action: ActAll}, Counted{N: 0}}, SAudience, ScreenAudience, "staff.notice.nobody", nil},
		{"count error", []Event{Command{Name: "broadcast"}, Press{Action: ActAll}, Counted{Code: kezekbot.EINTERNAL}}, SAudience, ScreenAudience, "staff.notice.error", nil},
		{"kindergarten", []Event{Command{Name: "broadcast"}, Press{Action: ActKindergarten}, Text{Text: "#42"}}, SCounting, "", "",
			CountAudience{Audience: audience.Audience{KindergartenID: 42}}},
		{"kindergarten typo", []Event{Command{Name: "broadcast"}, Press{Action: ActKindergarten}, Text{Text: "42a"}}, SParam, ScreenParam, "staff.notice.bad_kg", nil},
		{"years", []Event{Command{Name: "broadcast"}, Press{Action: ActYears}, Text{Text: "2019-2021"}}, SCounting, "", "",
			CountAudience{Audience: audience.Audience{YearFrom: 2019, YearTo: 2021}}},
		{"numbers", []Event{Command{Name: "broadcast"}, Press{Action: ActNumbers}, Text{Text: "УО.1, УО.2\nУО.1"}}, SCounting, "", "",
			CountAudience{Audience: audience.Audience{Numbers: []string{"УО.1", "УО.2"}}}},
		{"status", []Event{Command{Name: "broadcast"}, Press{Action: ActStatus}, Press{Action: ActPickStatus, ID: 0}}, SCounting, "", "",
			CountAudience{Audience: audience.Audience{Status: kezekbot.Statuses[0]}}},
		{"status out of range", []Event{Command{Name: "broadcast"}, Press{Action: ActStatus}, Press{Action: ActPickStatus, ID: 99}}, SStatus, ScreenStatus, "staff.notice.stale", nil},
		{"texts then confirm", []Event{Command{Name: "broadcast"}, Press{Action: ActAll}, Counted{N: 10},
			Text{Text: "  Привет  "}, Text{Text: "Сәлем"}}, SConfirm, ScreenConfirm, "", nil},
		{"ru only", []Event{Command{Name: "broadcast"}, Press{Action: ActAll}, Counted{N: 10},
			Text{Text: "Привет"}, Press{Action: ActSkip}}, SConfirm, ScreenConfirm, "", nil},
		{"neither text", []Event{Command{Name: "broadcast"}, Press{Action: ActAll}, Counted{N: 10},
			Press{Action: ActSkip}, Press{Action: ActSkip}}, STextRU, ScreenTextRU, "staff.notice.text_required", nil},
		{"iin refused", []Event{Command{Name: "broadcast"}, Press{Action: ActAll}, Counted{N: 10},
			Text{Text: "Ребёнок " + iin + " зачислен"}}, STextRU, ScreenTextRU, "staff.notice.text_iin", nil},
		{"confirm creates", []Event{Command{Name: "broadcast"}, Press{Action: ActAll}, Counted{N: 10},
			Text{Text: "Привет"}, Text{Text: "Сәлем"}, Press{Action: ActConfirm}}, SCreating, "", "",
			CreateBroadcast{TextRU: "Привет", TextKK: "Сәлем"}},
		{"created", []Event{Command{Name: "broadcast"}, Press{Action: ActAll}, Counted{N: 10},
			Text{Text: "Привет"}, Press{Action: ActSkip}, Press{Action: ActConfirm}, Created{ID: 7, Total: 10}}, SIdle, ScreenStarted, "",
			AttachProgress{ID: 7}},
		{"cancel", []Event{Command{Name: "broadcast"}, Press{Action: ActCancel}}, SIdle, ScreenCancelled, "", nil},
		{"/cancel", []Event{Command{Name: "broadcast"}, Command{Name: "cancel"}}, SIdle, ScreenCancelled, "", nil},
		{"stop from anywhere", []Event{Press{Action: ActStop, ID: 9}}, SIdle, "", "", StopBroadcast{ID: 9}},
		{"resume", []Event{Press{Action: ActResume, ID: 9}}, SIdle, "", "", ResumeBroadcast{ID: 9}},
		{"late count ignored", []Event{Command{Name: "broadcast"}, Counted{N: 5}}, SAudience, "", "", nil},
		{"text instead of button", []Event{Command{Name: "broadcast"}, Text{Text: "hi"}}, SAudience, ScreenAudience, "staff.notice.use_buttons", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, out := run(t, State{Lang: "kk"}, tt.evs...)
			if st.Name != tt.state {
				t.Errorf("state %q, want %q", st.Name, tt.state)
			}
			if tt.screen != "" {
				sc := screen(t, out)
				if sc.Kind != tt.screen || sc.Notice != tt.notice || sc.Lang != "kk" {
					t.Errorf("screen %q notice %q lang %q, want %q %q kk", sc.Kind, sc.Notice, sc.Lang, tt.screen, tt.notice)
				}
			}
			if tt.effect != nil {
				found := false
				for _, e := range out {
					if reflect.DeepEqual(e, tt.effect) {
						found = true
					}
				}
				if !found {
					t.Errorf("effects %#v lack %#v", out, tt.effect)
				}
			}
			if _, ok := tt.evs[len(tt.evs)-1].(Press); ok && answers(out) != 1 {
				t.Errorf("a press must be answered exactly once: %#v", out)
			}
		})
	}
}

func TestStalePress(t *testing.T) {
	st, _ := Step(State{}, Command{Name: "broadcast"})
	old := st.Rev
	st, _ = Step(st, Press{Action: ActKindergarten, Rev: st.Rev})
	next, out := Step(st, Press{Action: ActAll, Rev: old})
	if next.Name != SParam || len(out) != 1 || out[0] != (Answer{Key: "staff.answer.stale"}) {
		t.Fatalf("stale press: %q %#v", next.Name, out)
	}
	// Double confirm: the second press is stale, so one broadcast.
	st, _ = run(t, State{}, Command{Name: "broadcast"}, Press{Action: ActAll}, Counted{N: 3}, Text{Text: "x"}, Press{Action: ActSkip})
	st, out1 := Step(st, Press{Action: ActConfirm, Rev: st.Rev})
	_, out2 := Step(st, Press{Action: ActConfirm, Rev: st.Rev})
	creates := 0
	for _, e := range append(out1, out2...) {
		if _, ok := e.(CreateBroadcast); ok {
			creates++
		}
	}
	if creates != 1 {
		t.Fatalf("double confirm created %d broadcasts", creates)
	}
}

func TestCallbackRoundTrip(t *testing.T) {
	for a := range actions {
		for _, id := range []int64{0, 1, 35, 1 << 40} {
			data := EncodeCallback(a, id, 4000000000)
			p, err := ParseCallback(data)
			if err != nil || p != (Press{Action: a, ID: id, Rev: 4000000000}) {
				t.Errorf("%q → %+v, %v", data, p, err)
			}
		}
	}
	for _, bad := range []string{"", "s:", "s:all", "s:all:1", "s:all:01:1", "s:all:1:1:1", "s:zz:1:1", "1:open:1:1",
		"s:all:-1:1", "s:all:1:100000000", "s:all:A:1", "s:all:1:"} {
		if _, err := ParseCallback(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseCallback(f *testing.F) {
	f.Add("s:stop:1z:0")
	f.Add("s:ps:3:ab")
	f.Add("1:open:1:1")
	f.Fuzz(func(t *testing.T, data string) {
		p, err := ParseCallback(data)
		if err != nil {
			return
		}
		if got := EncodeCallback(p.Action, p.ID, p.Rev); got != data {
			t.Fatalf("%q parsed to %+v which encodes to %q", data, p, got)
		}
	})
}

func FuzzStep(f *testing.F) {
	f.Add("Привет 123", int64(1), uint32(1))
	f.Fuzz(func(t *testing.T, text string, id int64, rev uint32) {
		st, _ := Step(State{}, Command{Name: "broadcast"})
		for _, ev := range []Event{Text{Text: text}, Press{Action: ActAll, Rev: rev}, Counted{N: int(id)},
			Text{Text: text}, Press{Action: ActSkip, Rev: st.Rev}, Press{Action: ActPickStatus, ID: id, Rev: rev}} {
			st, _ = Step(st, ev)
		}
		if len(st.TextRU) > 4*MaxText || ContainsIIN(st.TextRU) || ContainsIIN(st.TextKK) {
			t.Fatalf("state let through a bad text: %+v", st)
		}
	})
}

// The started screen is drawn after the state is reset; it must still say how many parents
// the broadcast goes to.
func TestStartedScreenKeepsCount(t *testing.T) {
	st := State{Lang: "ru"}
	var last Screen
	for _, ev := range []Event{Command{Name: "broadcast"}, Press{Action: ActAll}, Counted{N: 10},
		Text{Text: "Привет"}, Press{Action: ActSkip}, Press{Action: ActConfirm}, Created{ID: 7, Total: 10}} {
		if p, ok := ev.(Press); ok {
			p.Rev = st.Rev
			ev = p
		}
		var out []Effect
		st, out = Step(st, ev)
		for _, e := range out {
			if sh, ok := e.(Show); ok {
				last = sh.Screen
			}
		}
	}
	if last.Kind != ScreenStarted || last.ID != 7 || last.Count != 10 {
		t.Fatalf("started screen = %+v, want broadcast 7 to 10 parents", last)
	}
}
