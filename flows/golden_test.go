package flows_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// matrixStates are one state of each name, with what the state would hold there.
func matrixStates() []flows.State {
	binding := flows.State{Name: flows.SBinding, Lang: flows.Russian, Rev: 7, MsgID: 55, Nonce: "nonce-b", LinkURL: "https://sign.kezekbot.example/l/b", LinkExp: t0.Add(10 * time.Minute)}
	return []flows.State{
		{},
		unbound(),
		binding,
		live(flows.SMenu, 0, 0, ""),
		live(flows.SList, 0, 0, ""),
		live(flows.SCard, 2, 0, ""),
		live(flows.SHistory, 2, 0, ""),
		live(flows.SDocs, 2, 0, ""),
		live(flows.SReferral, 2, 20, ""),
		live(flows.SExtend, 3, 0, ""),
		live(flows.SRevokePick, 4, 0, ""),
		live(flows.SRevokeReason, 2, 20, ""),
		live(flows.SRevokeConfirm, 2, 20, "Переезд"),
		signing(2, 20),
		live(flows.SSettings, 0, 0, ""),
	}
}

type namedEvent struct {
	name string
	ev   func(st flows.State) flows.Event
}

func matrixEvents() []namedEvent {
	fixed := func(name string, ev flows.Event) namedEvent {
		return namedEvent{name, func(flows.State) flows.Event { return ev }}
	}
	live := func(act flows.ButtonAction, id int64) namedEvent {
		return namedEvent{fmt.Sprintf("press %s:%d", act, id), func(st flows.State) flows.Event { return press(st, act, id) }}
	}
	evs := []namedEvent{
		fixed("/start", flows.Start{TelegramLang: "kk"}),
		fixed("/lang kk", flows.Command{Name: "lang", Arg: "kk"}),
		fixed("/lang", flows.Command{Name: "lang"}),
		fixed("/apps", flows.Command{Name: "apps"}),
		fixed("/menu", flows.Command{Name: "menu"}),
		fixed("/settings", flows.Command{Name: "settings"}),
		fixed("/cancel", flows.Command{Name: "cancel"}),
		fixed("/help", flows.Command{Name: "help"}),
		fixed("/logout", flows.Command{Name: "logout"}),
		fixed("/bogus", flows.Command{Name: "bogus"}),
		fixed("text", flows.Text{Text: "привет"}),
		fixed("text IIN", flows.Text{Text: iinB.Digits()}),
		fixed("sticker", flows.Unsupported{Kind: "sticker"}),
		fixed("bad press", flows.BadPress{}),
		{"stale press open:1", func(st flows.State) flows.Event {
			return flows.Press{Action: flows.ActOpen, ID: 1, Rev: st.Rev + 1000, MsgID: 40}
		}},
	}
	for _, b := range []struct {
		act flows.ButtonAction
		id  int64
	}{
		{flows.ActLangKK, 0}, {flows.ActLangMenu, 0}, {flows.ActRefresh, 0}, {flows.ActBind, 0},
		{flows.ActMenu, 0}, {flows.ActLogout, 0}, {flows.ActCancel, 0}, {flows.ActBack, 0},
		{flows.ActApps, 1}, {flows.ActOpen, 1}, {flows.ActOpen, 100}, {flows.ActHistory, 2}, {flows.ActDocs, 2},
		{flows.ActExtend, 2}, {flows.ActReferral, 20}, {flows.ActRevoke, 2}, {flows.ActPickReferral, 20},
		{flows.ActReasonPreset, 0}, {flows.ActReasonPreset, 4}, {flows.ActConfirm, 20},
		{flows.ActSettings, 0}, {flows.ActMute, 1}, {flows.ActMute, 5},
	} {
		evs = append(evs, live(b.act, b.id))
	}
	evs = append(evs,
		namedEvent{"signed bind ok", func(st flows.State) flows.Event {
			return flows.Signed{Action: kezekbot.ActionBind, Nonce: cmpOr(st.Nonce, "nonce-x"), OK: true, IIN: iinA}
		}},
		namedEvent{"signed revoke ok", func(st flows.State) flows.Event {
			return flows.Signed{Action: kezekbot.ActionRevoke, Nonce: cmpOr(st.Nonce, "nonce-x"), OK: true, Result: kezekbot.RevokeResult{
				Application: kezekbot.Application{ID: 2, ApplicantIIN: iinA, Status: kezekbot.StatusQueued, QueueNumber: 3},
				Referral:    kezekbot.Referral{ID: 20, ApplicationID: 2, State: kezekbot.ReferralRevoked},
			}}
		}},
		namedEvent{"signed revoke expired", func(st flows.State) flows.Event {
			return flows.Signed{Action: kezekbot.ActionRevoke, Nonce: cmpOr(st.Nonce, "nonce-x"), Code: kezekbot.EEXPIRED}
		}},
	)
	return evs
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func stateLabel(st flows.State) string {
	name := string(st.Name)
	if name == "" {
		name = "new"
	}
	if st.AppID != 0 {
		name += fmt.Sprintf("[app %d", st.AppID)
		if st.RefID != 0 {
			name += fmt.Sprintf(" ref %d", st.RefID)
		}
		name += "]"
	}
	return name
}

// TestTransitionsGolden writes every state × every event to testdata/transitions.golden, so
// that a change to the dialog shows up in review. Run with -update to accept a change.
func TestTransitionsGolden(t *testing.T) {
	var out bytes.Buffer
	out.WriteString("# flows: state × event → state | effects | buttons of the shown screen\n")
	out.WriteString("# Fixture: see fake_test.go (chat A bound; app 2 revocable ref 20; app 3 window closed;\n")
	out.WriteString("# app 4 two revocable refs; app 100 belongs to another applicant). Regenerate: go test ./flows -run Golden -update\n")
	for _, st := range matrixStates() {
		fmt.Fprintf(&out, "\n## %s\n", stateLabel(st))
		for _, ne := range matrixEvents() {
			f := newFixture()
			next, effs, err := f.step(t, chatA, st, ne.ev(st))
			line := fmt.Sprintf("%-24s → %-28s | %s", ne.name, stateLabel(next), summary(effs))
			for _, e := range effs {
				if s, ok := e.(flows.Show); ok && len(s.Screen.Buttons) > 0 {
					line += " | " + strings.Join(buttons(s.Screen), " ")
				}
			}
			if n := len(f.links.issued); n > 0 {
				line += fmt.Sprintf(" | links issued: %d", n)
			}
			if err != nil {
				line += " | logged: " + kezekbot.ErrorCode(err)
			}
			out.WriteString(strings.TrimRight(line, " ") + "\n")
		}
	}
	golden(t, "transitions.golden", out.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run with -update to accept)", path, i+1, g, w)
			}
		}
	}
}
