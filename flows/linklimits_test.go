package flows_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
)

// TestLinkLimits: a link spent by failed attempts takes the chat back to where a new one is
// asked for, saying so; a refused link request keeps the screen (and a live link) with the
// notice.
func TestLinkLimits(t *testing.T) {
	binding := flows.State{Name: flows.SBinding, Lang: flows.Kazakh, Rev: 7, Nonce: "n1", LinkURL: "https://x.example/1", LinkExp: t0.Add(time.Minute)}
	tooMany := fmt.Errorf("issue link for chat 1: %w", flows.ErrTooManyLinks)
	tests := []struct {
		name    string
		st      flows.State
		ev      flows.Event
		issue   error
		want    flows.StateName
		effects string
	}{
		{"bind link spent", binding, flows.Signed{Action: kezekbot.ActionBind, Nonce: "n1", Rejected: flows.RejectedSpent},
			nil, flows.SUnbound, "show(welcome,new,link_limits.spent)"},
		{"revoke link spent", signing(2, 20), flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", Rejected: flows.RejectedSpent},
			nil, flows.SRevokeConfirm, "show(link_used) show(revoke_confirm,new,link_limits.spent)"}, // the spent link's message loses its buttons
		{"spent report for another link", binding, flows.Signed{Action: kezekbot.ActionBind, Nonce: "n0", Rejected: flows.RejectedSpent},
			nil, flows.SBinding, ""},
		{"bind refused by the per-chat limit", unbound(), press(unbound(), flows.ActBind, 0),
			tooMany, flows.SUnbound, "answer() show(welcome,link_limits.rate)"},
		{"confirm refused by the per-chat limit", live(flows.SRevokeConfirm, 2, 20, "Переезд"), press(live(flows.SRevokeConfirm, 2, 20, "Переезд"), flows.ActConfirm, 20),
			tooMany, flows.SRevokeConfirm, "answer() show(revoke_confirm,link_limits.rate)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			f.links.err = tt.issue
			chat := chatA
			if tt.st.IIN.IsZero() {
				chat = 77
			}
			st, effs, err := f.step(t, chat, tt.st, tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(effs); got != tt.effects || st.Name != tt.want {
				t.Fatalf("effects %s state %q; want %s, %q", got, st.Name, tt.effects, tt.want)
			}
			if ev, ok := tt.ev.(flows.Signed); ok && ev.Rejected == flows.RejectedSpent && tt.effects != "" && (st.Nonce != "" || st.LinkURL != "") {
				t.Fatalf("a spent link stays in the state: %+v", st)
			}
		})
	}
}
