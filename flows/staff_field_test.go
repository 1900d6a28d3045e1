package flows_test

import (
	"encoding/json"
	"testing"

	"github.com/kezekbot/kezekbot/flows"
)

// The staff dialog's state rides in State.Staff: it survives JSON and the parents' ordinary
// steps untouched, and an empty one costs nothing in the stored state.
func TestStaffFieldKept(t *testing.T) {
	raw := flows.RawJSON(`{"n":"text_ru","r":3}`)
	st := live(flows.SMenu, 0, 0, "")
	st.Staff = raw
	blob, err := json.Marshal(&st)
	if err != nil {
		t.Fatal(err)
	}
	var back flows.State
	if err := json.Unmarshal(blob, &back); err != nil {
		t.Fatal(err)
	}
	if back.Staff != raw {
		t.Fatalf("Staff after JSON %q, want %q", back.Staff, raw)
	}
	plain, _ := json.Marshal(live(flows.SMenu, 0, 0, ""))
	var m map[string]any
	_ = json.Unmarshal(plain, &m)
	if _, ok := m["st"]; ok {
		t.Fatalf("an empty Staff is stored: %s", plain)
	}
	if !json.Valid(blob) || !json.Valid([]byte(`{"st":`+string(raw)+`}`)) {
		t.Fatalf("state JSON %s", blob)
	}
	var inner struct{ St map[string]any }
	if err := json.Unmarshal(blob, &inner); err != nil || inner.St["n"] != "text_ru" {
		t.Fatalf("Staff is not stored as a JSON object: %s (%v)", blob, err)
	}
	bad := st
	bad.Staff = "{not json"
	if blob, err := json.Marshal(&bad); err != nil {
		t.Fatalf("invalid Staff must not break the state: %v", err)
	} else if err := json.Unmarshal(blob, &back); err != nil || back.Staff != "" {
		t.Fatalf("invalid Staff came back as %q (%v)", back.Staff, err)
	}

	f := newFixture()
	for _, ev := range []flows.Event{
		flows.Start{},
		flows.Command{Name: "help"},
		flows.Text{Text: "привет"},
		flows.BadPress{},
		flows.ForeignPress{Data: "s:ok:0:1", MsgID: 55},
		flows.Press{Action: flows.ActApps, Rev: st.Rev, MsgID: 55},
	} {
		next, _, _ := f.step(t, chatA, st, ev)
		if next.Staff != raw {
			t.Errorf("%T: Staff %q, want %q", ev, next.Staff, raw)
		}
	}
}
