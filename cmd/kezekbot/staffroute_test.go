package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/flows/staff"
	"github.com/kezekbot/kezekbot/store/postgres"
)

const (
	routeStaffUser  = 501
	routeParentUser = 502
	routeBrokenUser = 503 // the staff lookup fails
)

type fakeParents struct{ calls []flows.Event }

func (f *fakeParents) Step(_ context.Context, _ int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error) {
	f.calls = append(f.calls, ev)
	// Like the Machine's resets (logout), a new State that knows nothing of Staff.
	next := flows.State{Name: flows.SMenu, Lang: st.Lang, Rev: st.Rev + 100, MsgID: st.MsgID}
	effs := []flows.Effect{flows.Show{Screen: flows.Screen{Kind: flows.ScreenMenu, Rev: next.Rev}}}
	switch ev.(type) {
	case flows.Press, flows.BadPress, flows.ForeignPress:
		effs = append([]flows.Effect{flows.Answer{Key: "answer.stale"}}, effs...)
	}
	return next, effs, nil
}

type fakeMembers struct {
	mu      sync.Mutex
	lookups int
}

func (f *fakeMembers) GetStaff(_ context.Context, userID int64) (postgres.StaffMember, error) {
	f.mu.Lock()
	f.lookups++
	f.mu.Unlock()
	switch userID {
	case routeStaffUser:
		return postgres.StaffMember{UserID: userID, Role: postgres.RoleOperator, Lang: "ru"}, nil
	case routeBrokenUser:
		return postgres.StaffMember{}, kezekbot.Errorf(kezekbot.EINTERNAL, "database down")
	}
	return postgres.StaffMember{}, kezekbot.Errorf(kezekbot.ENOTFOUND, "no such staff member")
}

type fakeStaffEffects struct{ done []staff.Effect }

func (f *fakeStaffEffects) StaffEffect(_ context.Context, _, _ int64, _ string, eff staff.Effect) (staff.Event, bool, error) {
	f.done = append(f.done, eff)
	switch eff := eff.(type) {
	case staff.CountAudience:
		return staff.Counted{N: 12}, true, nil
	case staff.CreateBroadcast:
		return staff.Created{ID: 77, Total: 12}, true, nil
	case staff.AttachProgress, staff.StopBroadcast, staff.ResumeBroadcast:
		return nil, true, nil
	default:
		return nil, false, errors.New("unexpected " + fmtType(eff))
	}
}

func staffJSON(t *testing.T, ss staff.State) flows.RawJSON {
	t.Helper()
	b, err := json.Marshal(ss)
	if err != nil {
		t.Fatal(err)
	}
	return flows.RawJSON(b)
}

func decodeStaff(t *testing.T, raw flows.RawJSON) staff.State {
	t.Helper()
	var ss staff.State
	if raw == "" {
		return ss
	}
	if err := json.Unmarshal([]byte(raw), &ss); err != nil {
		t.Fatalf("staff state %q: %v", raw, err)
	}
	return ss
}

func TestStaffRouter(t *testing.T) {
	audienceState := staff.State{Name: staff.SAudience, Lang: "ru", Rev: 4}
	textState := staff.State{Name: staff.STextRU, Lang: "ru", Rev: 6, Count: 12}
	idle := staff.State{Lang: "ru", Rev: 9}
	tests := []struct {
		name    string
		chat    int64
		staff   staff.State
		ev      flows.Event
		parents bool            // handled by the parents' dialog
		lookup  bool            // the staff table was asked
		state   staff.StateName // the staff dialog's state after
		effects []string        // staff effects carried out
		screen  string          // a text the shown staff screen contains
		answer  string          // the answer's text ("" silent or none)
		newMsg  bool            // the staff screen is sent as a new message
		wantErr bool
		check   func(*testing.T, flows.State)
	}{
		{name: "parent text", chat: routeParentUser, ev: flows.Text{Text: "привет"}, parents: true},
		{name: "parent press", chat: routeParentUser, ev: flows.Press{Action: flows.ActMenu, Rev: 1}, parents: true},
		{name: "parent /start", chat: routeParentUser, ev: flows.Start{}, parents: true},
		{name: "parent other command", chat: routeParentUser, ev: flows.Command{Name: "help"}, parents: true},
		{name: "parent foreign junk", chat: routeParentUser, ev: flows.ForeignPress{Data: "junk", MsgID: 3}, parents: true},
		{name: "parent /broadcast is an unknown command", chat: routeParentUser, ev: flows.Command{Name: "broadcast"}, parents: true, lookup: true},
		{name: "parent presses a staff button", chat: routeParentUser, ev: flows.ForeignPress{Data: "s:all:0:1", MsgID: 3}, parents: true, lookup: true},
		{name: "group /broadcast", chat: -100500, ev: flows.Command{Name: "broadcast"}, parents: true},
		{name: "staff text outside the dialog", chat: routeStaffUser, ev: flows.Text{Text: "привет"}, staff: idle, parents: true, state: staff.SIdle},
		{name: "staff /broadcast", chat: routeStaffUser, ev: flows.Command{Name: "broadcast"}, lookup: true,
			state: staff.SAudience, screen: broadcast.T("ru", "staff.btn.all"), newMsg: true},
		{name: "staff presses all", chat: routeStaffUser, staff: audienceState, ev: flows.ForeignPress{Data: staff.EncodeCallback(staff.ActAll, 0, 4), MsgID: 42},
			lookup: true, state: staff.STextRU, effects: []string{"staff.CountAudience"},
			check: func(t *testing.T, st flows.State) {
				if st.MsgID != 42 {
					t.Errorf("MsgID %d, want the pressed message 42", st.MsgID)
				}
			}},
		{name: "staff stale press", chat: routeStaffUser, staff: audienceState, ev: flows.ForeignPress{Data: staff.EncodeCallback(staff.ActAll, 0, 3), MsgID: 42},
			lookup: true, state: staff.SAudience, answer: broadcast.T("ru", "staff.answer.stale")},
		{name: "staff garbled staff press", chat: routeStaffUser, staff: audienceState, ev: flows.ForeignPress{Data: "s:rocket:0:4", MsgID: 42},
			lookup: true, state: staff.SAudience, answer: broadcast.T("ru", "staff.answer.stale")},
		{name: "staff types the text", chat: routeStaffUser, staff: textState, ev: flows.Text{Text: "Завтра собрание"},
			lookup: true, state: staff.STextKK, newMsg: true},
		{name: "staff /cancel in the dialog", chat: routeStaffUser, staff: textState, ev: flows.Command{Name: "cancel"},
			lookup: true, state: staff.SIdle, screen: broadcast.T("ru", "staff.screen.cancelled"), newMsg: true},
		{name: "staff /cancel outside it", chat: routeStaffUser, staff: idle, ev: flows.Command{Name: "cancel"}, parents: true, state: staff.SIdle},
		{name: "staff /help leaves the dialog", chat: routeStaffUser, staff: textState, ev: flows.Command{Name: "help"}, parents: true, state: staff.SIdle,
			check: func(t *testing.T, st flows.State) {
				if ss := decodeStaff(t, st.Staff); ss.Rev != textState.Rev {
					t.Errorf("left dialog's revision %d, want %d kept", ss.Rev, textState.Rev)
				}
			}},
		{name: "staff /start leaves the dialog", chat: routeStaffUser, staff: textState, ev: flows.Start{}, parents: true, state: staff.SIdle},
		{name: "staff parents' press keeps the dialog", chat: routeStaffUser, staff: textState, ev: flows.Press{Action: flows.ActMenu, Rev: 1}, parents: true, state: staff.STextRU},
		{name: "stop from the progress message", chat: routeStaffUser, staff: idle, ev: flows.ForeignPress{Data: staff.EncodeCallback(staff.ActStop, 77, 0), MsgID: 50},
			lookup: true, state: staff.SIdle, effects: []string{"staff.StopBroadcast"}, answer: broadcast.T("ru", "staff.answer.stopping"),
			check: func(t *testing.T, st flows.State) {
				if st.MsgID != 7 {
					t.Errorf("MsgID %d: a press without a screen must not move the live message", st.MsgID)
				}
			}},
		{name: "no longer staff mid-dialog", chat: routeParentUser, staff: textState, ev: flows.Text{Text: "Завтра собрание"}, parents: true, lookup: true,
			check: func(t *testing.T, st flows.State) {
				if st.Staff != "" {
					t.Errorf("Staff %q kept for a user who is not staff", st.Staff)
				}
			}},
		{name: "lookup fails", chat: routeBrokenUser, ev: flows.Command{Name: "broadcast"}, parents: true, lookup: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, m, fx := &fakeParents{}, &fakeMembers{}, &fakeStaffEffects{}
			r := staffRouter{parents: p, members: m, effects: fx}
			st := flows.State{Name: flows.SMenu, Lang: flows.Russian, Rev: 1, MsgID: 7}
			if tt.staff.Rev != 0 {
				st.Staff = staffJSON(t, tt.staff)
			}
			next, effs, err := r.Step(t.Context(), tt.chat, st, tt.ev)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if got := len(p.calls) == 1; got != tt.parents {
				t.Fatalf("parents' dialog called %d times, want parents=%v", len(p.calls), tt.parents)
			}
			if tt.parents && p.calls[0] != tt.ev {
				t.Errorf("parents got %#v, want %#v", p.calls[0], tt.ev)
			}
			if (m.lookups > 0) != tt.lookup {
				t.Errorf("staff lookups %d, want lookup=%v", m.lookups, tt.lookup)
			}
			var done []string
			for _, e := range fx.done {
				done = append(done, fmtType(e))
			}
			if strings.Join(done, ",") != strings.Join(tt.effects, ",") {
				t.Errorf("staff effects %v, want %v", done, tt.effects)
			}
			if tt.parents {
				if tt.staff.Rev != 0 && tt.state != "" && decodeStaff(t, next.Staff).Name != tt.state {
					t.Errorf("staff state %q, want %q", decodeStaff(t, next.Staff).Name, tt.state)
				}
				if tt.staff.Rev != 0 && tt.lookup == false && next.Staff == "" {
					t.Errorf("the parents' step lost the staff state")
				}
				if tt.check != nil {
					tt.check(t, next)
				}
				return
			}
			// The staff path: the parents' fields kept, the staff state advanced.
			if next.Name != st.Name || next.Lang != st.Lang {
				t.Errorf("parents' state changed: %+v", next)
			}
			ss := decodeStaff(t, next.Staff)
			if ss.Name != tt.state {
				t.Errorf("staff state %q, want %q", ss.Name, tt.state)
			}
			press := false
			switch tt.ev.(type) {
			case flows.ForeignPress:
				press = true
			}
			answers, shows := 0, 0
			for i, e := range effs {
				switch e := e.(type) {
				case flows.Answer:
					answers++
					if i != 0 {
						t.Errorf("the answer is effect %d, want first", i)
					}
					if e.Text != tt.answer && tt.answer != "" {
						t.Errorf("answer %q, want %q", e.Text, tt.answer)
					}
				case flows.Show:
					shows++
					sc := e.Screen
					if sc.Kind != ScreenStaff || sc.Raw == nil || sc.Rev != ss.Rev || next.Rev != ss.Rev {
						t.Errorf("screen %+v (state rev %d, staff rev %d)", sc, next.Rev, ss.Rev)
					}
					if e.New != tt.newMsg {
						t.Errorf("New = %v, want %v", e.New, tt.newMsg)
					}
					if tt.screen != "" && !strings.Contains(sc.Raw.Text+rawLabels(sc.Raw), tt.screen) {
						t.Errorf("screen %q lacks %q", sc.Raw.Text+rawLabels(sc.Raw), tt.screen)
					}
					for _, row := range sc.Raw.Buttons {
						for _, b := range row {
							if !strings.HasPrefix(b.Data, staff.Prefix) {
								t.Errorf("button %+v is not a staff button", b)
							}
							if pr, err := staff.ParseCallback(b.Data); err != nil || pr.Rev != ss.Rev {
								t.Errorf("button %+v: %v, rev %d want %d", b, err, pr.Rev, ss.Rev)
							}
						}
					}
				}
			}
			if press && answers != 1 {
				t.Errorf("a press got %d answers, want 1", answers)
			}
			if !press && answers != 0 {
				t.Errorf("%T got %d answers", tt.ev, answers)
			}
			if shows == 0 && next.Rev != st.Rev {
				t.Errorf("revision changed without a screen")
			}
			if tt.check != nil {
				tt.check(t, next)
			}
		})
	}
}

func fmtType(v any) string {
	switch v.(type) {
	case staff.CountAudience:
		return "staff.CountAudience"
	case staff.CreateBroadcast:
		return "staff.CreateBroadcast"
	case staff.AttachProgress:
		return "staff.AttachProgress"
	case staff.StopBroadcast:
		return "staff.StopBroadcast"
	case staff.ResumeBroadcast:
		return "staff.ResumeBroadcast"
	}
	return "other"
}

func rawLabels(r *flows.RawScreen) string {
	var b strings.Builder
	for _, row := range r.Buttons {
		for _, x := range row {
			b.WriteString(" " + x.Text)
		}
	}
	return b.String()
}

// The whole dialog through the router: confirm creates the broadcast and attaches its
// progress message, and the chain of effects is fed back within one update.
func TestStaffRouterConfirm(t *testing.T) {
	p, m, fx := &fakeParents{}, &fakeMembers{}, &fakeStaffEffects{}
	r := staffRouter{parents: p, members: m, effects: fx}
	st := flows.State{}
	step := func(ev flows.Event) []flows.Effect {
		t.Helper()
		var effs []flows.Effect
		var err error
		st, effs, err = r.Step(t.Context(), routeStaffUser, st, ev)
		if err != nil {
			t.Fatal(err)
		}
		return effs
	}
	press := func(a staff.Action) []flows.Effect {
		return step(flows.EventFromCallback(staff.EncodeCallback(a, 0, decodeStaff(t, st.Staff).Rev), 10))
	}
	step(flows.EventFromText("/broadcast@KezekBot", "ru"))
	press(staff.ActAll)
	step(flows.EventFromText("Завтра собрание", "ru"))
	press(staff.ActSkip)
	effs := press(staff.ActConfirm)
	if len(p.calls) != 0 {
		t.Fatalf("parents' dialog called: %v", p.calls)
	}
	if ss := decodeStaff(t, st.Staff); ss.Name != staff.SIdle {
		t.Fatalf("staff state %+v", ss)
	}
	var kinds []string
	for _, e := range fx.done {
		kinds = append(kinds, fmtType(e))
	}
	if strings.Join(kinds, ",") != "staff.CountAudience,staff.CreateBroadcast,staff.AttachProgress" {
		t.Fatalf("effects %v", kinds)
	}
	if c, ok := fx.done[1].(staff.CreateBroadcast); !ok || c.TextRU != "Завтра собрание" || c.TextKK != "" || !c.Audience.All() {
		t.Fatalf("create %+v", fx.done[1])
	}
	// The count is not checked: flows/staff's created() resets the state before show(), which
	// copies the (now zero) State.Count into the screen, so «started» says 0 recipients
	// (reported to the flows/staff owner).
	if len(effs) != 2 {
		t.Fatalf("effects %#v", effs)
	}
	if _, ok := effs[0].(flows.Answer); !ok {
		t.Fatalf("first effect %#v, want the answer", effs[0])
	}
	if sh, ok := effs[1].(flows.Show); !ok || sh.Screen.Raw == nil || !strings.Contains(sh.Screen.Raw.Text, "№77") || sh.New {
		t.Fatalf("started screen %#v, want broadcast №77 edited in", effs[1])
	}
}
