package flows_test

import (
	"math"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/flows"
)

var allActions = []flows.ButtonAction{
	flows.ActLangKK, flows.ActLangRU, flows.ActBind, flows.ActMenu, flows.ActApps, flows.ActOpen,
	flows.ActHistory, flows.ActDocs, flows.ActReferral, flows.ActExtend, flows.ActRevoke,
	flows.ActPickReferral, flows.ActReasonPreset, flows.ActConfirm, flows.ActCancel, flows.ActBack,
	flows.ActLogout, flows.ActRefresh, flows.ActLangMenu, flows.ActSettings, flows.ActMute,
}

func TestCallbackRoundTrip(t *testing.T) {
	for _, act := range allActions {
		for _, id := range []int64{0, 1, 35, 36, 123456789, math.MaxInt64} {
			for _, rev := range []uint32{1, 7, 1 << 31, math.MaxUint32} {
				data := flows.EncodeCallback(flows.Button{Action: act, ID: id}, rev)
				if len(data) > flows.MaxCallbackLen || !strings.HasPrefix(data, "1:") {
					t.Fatalf("%q: %d bytes", data, len(data))
				}
				p, err := flows.ParseCallback(data)
				if err != nil {
					t.Fatalf("ParseCallback(%q): %v", data, err)
				}
				if p.Action != act || p.ID != id || p.Rev != rev || p.MsgID != 0 {
					t.Fatalf("ParseCallback(%q) = %+v", data, p)
				}
			}
		}
	}
	if got := flows.EncodeCallback(flows.Button{Action: flows.ActOpen, ID: 12345}, 1000); got != "1:open:9ix:rs" {
		t.Errorf("format changed: %q", got)
	}
	if got := flows.EncodeCallback(flows.Button{Action: flows.ActOpen, ID: -5}, 1); got != "1:open:0:1" {
		t.Errorf("negative id: %q", got)
	}
}

func TestParseCallbackRejects(t *testing.T) {
	for _, data := range []string{
		"", "1", "1:", "1:open", "1:open:1", "1:open:1:", "1:open::1", "1::1:1",
		"2:open:1:1",             // another version
		"1:OPEN:1:1",             // case
		"1:nope:1:1",             // unknown action
		"1:open:01:1",            // leading zero
		"1:open:1:01",            // leading zero
		"1:open:-1:1",            // sign
		"1:open:+1:1",            // sign
		"1:open:A:1",             // upper case digit
		"1:open:1:1:1",           // extra field
		"1:open:1:1 ",            // trailing space
		" 1:open:1:1",            // leading space
		"1:open:1:1\x00",         // NUL
		"1:open:1y2p0ij32e8e8:1", // > int64
		"1:open:1:1z141z4",       // > uint32
		"1:open:1:" + strings.Repeat("1", 60),
		"1:open:ꙮ:1",
		"1:open:1:1\n",
		"1:open:1;DROP TABLE:1",
	} {
		if p, err := flows.ParseCallback(data); err == nil {
			t.Errorf("ParseCallback(%q) = %+v, want error", data, p)
		}
	}
}

func TestEventFromCallback(t *testing.T) {
	if ev := flows.EventFromCallback("1:open:9ix:rs", 42); ev != (flows.Press{Action: flows.ActOpen, ID: 12345, Rev: 1000, MsgID: 42}) {
		t.Errorf("%#v", ev)
	}
	// Our prefix but not our format: BadPress. Anything else is another dialog's (or hostile):
	// ForeignPress, with the data and message for the adapter that routes it.
	for _, data := range []string{"1:", "1:evil", "1:open:1:1:1", "1:open:01:1"} {
		if ev := flows.EventFromCallback(data, 42); ev != (flows.BadPress{}) {
			t.Errorf("EventFromCallback(%q) = %#v, want BadPress", data, ev)
		}
	}
	for _, data := range []string{"evil", "", "1", "s:ok:0:1", "s:", "2:open:1:1", "\x001:open:1:1", " 1:open:1:1"} {
		if ev := flows.EventFromCallback(data, 42); ev != (flows.ForeignPress{Data: data, MsgID: 42}) {
			t.Errorf("EventFromCallback(%q) = %#v, want ForeignPress", data, ev)
		}
	}
}

func TestEventFromText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want flows.Event
	}{
		{"/start", flows.Start{TelegramLang: "kk"}},
		{"/start@KezekBot payload", flows.Start{TelegramLang: "kk"}},
		{"/lang ru", flows.Command{Name: "lang", Arg: "ru"}},
		{"/LANG@KezekBot  kk ", flows.Command{Name: "lang", Arg: "kk"}},
		{"/logout", flows.Command{Name: "logout"}},
		{"/help\nplease", flows.Command{Name: "help", Arg: "please"}},
		{"hello", flows.Text{Text: "hello"}},
		{"/", flows.Text{Text: "/"}},
		{"/ра", flows.Text{Text: "/ра"}},
		{"/" + strings.Repeat("a", 33), flows.Text{Text: "/" + strings.Repeat("a", 33)}},
	} {
		if got := flows.EventFromText(tc.in, "kk"); got != tc.want {
			t.Errorf("EventFromText(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseCallback(f *testing.F) {
	for _, act := range allActions {
		f.Add(flows.EncodeCallback(flows.Button{Action: act, ID: 42}, 7))
	}
	f.Add("1:open:1y2p0ij32e8e7:1z141z3")
	f.Add("1:open:0:0")
	f.Add("1:open:-0:0")
	f.Add("")
	f.Fuzz(func(t *testing.T, data string) {
		p, err := flows.ParseCallback(data)
		if err != nil {
			if p != (flows.Press{}) {
				t.Fatalf("error with a non-zero press %+v", p)
			}
			return
		}
		if len(data) > flows.MaxCallbackLen {
			t.Fatalf("accepted %d bytes", len(data))
		}
		if p.ID < 0 {
			t.Fatalf("negative id %d", p.ID)
		}
		// Only canonical data is accepted: encoding the press gives the same bytes.
		if again := flows.EncodeCallback(flows.Button{Action: p.Action, ID: p.ID}, p.Rev); again != data {
			t.Fatalf("ParseCallback(%q) = %+v, encodes back to %q", data, p, again)
		}
	})
}
