package flows_test

import (
	"testing"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
)

func pendingResult(appID, refID int64, owner kezekbot.IIN) kezekbot.RevokeResult {
	return kezekbot.RevokeResult{
		Pending:     true,
		Application: kezekbot.Application{ID: appID, Number: "УО.2024.000002.1", ApplicantIIN: owner, Status: kezekbot.StatusReferralIssued},
		Referral:    kezekbot.Referral{ID: refID, ApplicationID: appID, State: kezekbot.ReferralActive, Kindergarten: kg(1, "ЧДС 1")},
	}
}

// waiting is chat A on the «sent to the queue system» screen of nonce-9.
func waiting() flows.State {
	st := live(flows.SRevokePending, 2, 20, "")
	st.Pending, st.Awaiting = "nonce-9", "nonce-9"
	return st
}

func accepted(nonce string) flows.RevokeDecided {
	return flows.RevokeDecided{Nonce: nonce, Accepted: true, Result: kezekbot.RevokeResult{
		Application: kezekbot.Application{ID: 2, Number: "УО.2024.000002.1", ApplicantIIN: iinA, Status: kezekbot.StatusQueued, QueueNumber: 14, BenefitQueueNumber: 3},
		Referral:    kezekbot.Referral{ID: 20, ApplicationID: 2, State: kezekbot.ReferralRevoked, Kindergarten: kg(1, "ЧДС 1")},
	}}
}

func refusedBy(nonce, code string) flows.RevokeDecided {
	r := pendingResult(2, 20, iinA)
	r.Pending = false
	return flows.RevokeDecided{Nonce: nonce, Code: code, Result: r}
}

func TestRevokeHandedToTheCity(t *testing.T) {
	tests := []struct {
		name    string
		st      flows.State
		ev      flows.Event
		want    flows.StateName
		effects string
		wantErr bool
		check   func(t *testing.T, st flows.State, sc flows.Screen)
		setup   func(f *fixture)
	}{
		{name: "signed and pending shows sent", st: signing(2, 20),
			ev:   flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", OK: true, Result: pendingResult(2, 20, iinA)},
			want: flows.SRevokePending, effects: "show(link_used) show(revoke_pending,new)",
			check: func(t *testing.T, st flows.State, sc flows.Screen) {
				if st.Pending != "nonce-9" || st.Awaiting != "nonce-9" || st.Nonce != "" || st.AppID != 2 || st.RefID != 20 {
					t.Errorf("state %+v", st)
				}
				if sc.App == nil || sc.App.ID != 2 || sc.Ref == nil || sc.Ref.ID != 20 || !hasButton(sc, flows.ActOpen) {
					t.Errorf("screen %+v", sc)
				}
			}},
		{name: "pending for another applicant is not shown", st: signing(2, 20),
			ev:   flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", OK: true, Result: pendingResult(100, 1000, iinB)},
			want: flows.SRevokeSigning, effects: "show(link_used) show(error,new,err=not_found)", wantErr: true},
		{name: "accepted is edited in place", st: waiting(), ev: accepted("nonce-9"),
			want: flows.SCard, effects: "show(revoked)",
			check: func(t *testing.T, st flows.State, sc flows.Screen) {
				if st.Pending != "" || st.Awaiting != "" || st.AppID != 2 {
					t.Errorf("state %+v", st)
				}
				if sc.App.QueueNumber != 14 || sc.App.BenefitQueueNumber != 3 || sc.App.Status != kezekbot.StatusQueued {
					t.Errorf("screen app %+v", sc.App)
				}
			}},
		{name: "accepted after the chat moved on comes as a new message",
			st: func() flows.State {
				st := live(flows.SList, 0, 0, "")
				st.Pending, st.Awaiting = "nonce-9", "nonce-9"
				return st
			}(),
			ev: accepted("nonce-9"), want: flows.SCard, effects: "show(revoked,new)"},
		{name: "accepted after the state expired is still reported", st: flows.State{}, ev: accepted("nonce-9"),
			want: flows.SCard, effects: "show(revoked,new)"},
		{name: "a repeated answer is shown once", st: live(flows.SCard, 2, 0, ""), ev: accepted("nonce-9"),
			want: flows.SCard, effects: ""},
		{name: "an answer with an unknown nonce is ignored", st: waiting(), ev: accepted("nonce-other"),
			want: flows.SRevokePending, effects: ""},
		{name: "an answer without a nonce is ignored", st: waiting(), ev: accepted(""),
			want: flows.SRevokePending, effects: ""},
		{name: "an answer for another applicant is not shown", st: waiting(),
			ev:   flows.RevokeDecided{Nonce: "nonce-9", Accepted: true, Result: kezekbot.RevokeResult{Application: kezekbot.Application{ID: 100, ApplicantIIN: iinB}}},
			want: flows.SRevokePending, effects: "show(error,err=not_found)", wantErr: true},
		{name: "an answer after logout is not shown", st: flows.State{}, ev: accepted("nonce-9"),
			setup: func(f *fixture) { delete(f.data.bound, chatA) },
			want:  flows.SUnbound, effects: ""},
		{name: "delayed keeps waiting in place", st: waiting(),
			ev:   flows.RevokeDecided{Nonce: "nonce-9", Delayed: true, Result: pendingResult(2, 20, iinA)},
			want: flows.SRevokePending, effects: "show(revoke_delayed)",
			check: func(t *testing.T, st flows.State, _ flows.Screen) {
				if st.Pending != "nonce-9" || st.Awaiting != "nonce-9" {
					t.Errorf("delayed forgot the pending nonce: %+v", st)
				}
			}},
		{name: "delayed after the chat moved on is a new message that waits",
			st:   func() flows.State { st := live(flows.SMenu, 0, 0, ""); st.Pending = "nonce-9"; return st }(),
			ev:   flows.RevokeDecided{Nonce: "nonce-9", Delayed: true, Result: pendingResult(2, 20, iinA)},
			want: flows.SRevokePending, effects: "show(revoke_delayed,new)",
			check: func(t *testing.T, st flows.State, _ flows.Screen) {
				if st.Awaiting != "nonce-9" || st.AppID != 2 {
					t.Errorf("state %+v", st)
				}
			}},
		{name: "an answer before the signer-link's report is taken", st: signing(2, 20), ev: accepted("nonce-9"),
			want: flows.SCard, effects: "show(revoked,new)",
			check: func(t *testing.T, st flows.State, _ flows.Screen) {
				if st.Nonce != "" || st.LinkURL != "" || st.Pending != "" {
					t.Errorf("state %+v", st)
				}
			}},
		{name: "delayed before the signer-link's report waits", st: signing(2, 20),
			ev:   flows.RevokeDecided{Nonce: "nonce-9", Delayed: true, Result: pendingResult(2, 20, iinA)},
			want: flows.SRevokePending, effects: "show(revoke_delayed,new)",
			check: func(t *testing.T, st flows.State, _ flows.Screen) {
				if st.Nonce != "" || st.Pending != "nonce-9" || st.Awaiting != "nonce-9" {
					t.Errorf("state %+v", st)
				}
			}},
		{name: "pending screen shown again on refresh", st: waiting(), ev: press(waiting(), flows.ActRefresh, 0),
			want: flows.SRevokePending, effects: "answer() show(revoke_pending)"},
		{name: "stale press on the pending screen", st: waiting(), ev: flows.Press{Action: flows.ActConfirm, ID: 20, Rev: 3, MsgID: 55},
			want: flows.SRevokePending, effects: "answer(answer.stale) show(revoke_pending,notice.stale)"},
	}
	for _, code := range []string{"window_closed", "not_active", "not_applicant", "not_found", "signature_rejected", "invalid_request"} {
		tests = append(tests, struct {
			name    string
			st      flows.State
			ev      flows.Event
			want    flows.StateName
			effects string
			wantErr bool
			check   func(t *testing.T, st flows.State, sc flows.Screen)
			setup   func(f *fixture)
		}{name: "refused " + code, st: waiting(), ev: refusedBy("nonce-9", code), want: flows.SCard,
			effects: "show(revoke_rejected,err=" + code + ")",
			check: func(t *testing.T, st flows.State, _ flows.Screen) {
				if st.Pending != "" || st.Awaiting != "" {
					t.Errorf("state %+v", st)
				}
			}})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			if tc.setup != nil {
				tc.setup(f)
			}
			next, effs, err := f.step(t, chatA, tc.st, tc.ev)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if next.Name != tc.want {
				t.Errorf("state %q, want %q", next.Name, tc.want)
			}
			if got := summary(effs); got != tc.effects {
				t.Errorf("effects %q, want %q", got, tc.effects)
			}
			if tc.check != nil && tc.effects != "" {
				tc.check(t, next, screenOf(t, effs))
			}
		})
	}
}

// Two revocations handed over at once: each answer finds its own, the older one as a new
// message, and the list never grows past MaxPending.
func TestPendingNonces(t *testing.T) {
	f := newFixture()
	st := signing(2, 20)
	st, _, _ = f.step(t, chatA, st, flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", OK: true, Result: pendingResult(2, 20, iinA)})
	st.Nonce = "nonce-10"
	st.Name = flows.SRevokeSigning
	st, _, _ = f.step(t, chatA, st, flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-10", OK: true, Result: pendingResult(4, 40, iinA)})
	if st.Pending != "nonce-9 nonce-10" || st.Awaiting != "nonce-10" {
		t.Fatalf("state %+v", st)
	}
	st, effs, _ := f.step(t, chatA, st, accepted("nonce-9"))
	if summary(effs) != "show(revoked,new)" || st.Pending != "nonce-10" {
		t.Fatalf("older answer: %s, state %+v", summary(effs), st)
	}
	for i := range 10 {
		st.Nonce, st.Name = "n"+string(rune('a'+i)), flows.SRevokeSigning
		st, _, _ = f.step(t, chatA, st, flows.Signed{Action: kezekbot.ActionRevoke, Nonce: st.Nonce, OK: true, Result: pendingResult(2, 20, iinA)})
	}
	if st.Pending != "ng nh ni nj" {
		t.Fatalf("pending %q", st.Pending)
	}
}

// The city answered before the signer-link's report reached the chat: the answer is shown,
// and the late report is stale.
func TestAnswerBeforeReport(t *testing.T) {
	f := newFixture()
	st, effs, _ := f.step(t, chatA, signing(2, 20), accepted("nonce-9"))
	if summary(effs) != "show(revoked,new)" {
		t.Fatalf("answer: %s", summary(effs))
	}
	st, effs, _ = f.step(t, chatA, st, flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", OK: true, Result: pendingResult(2, 20, iinA)})
	if len(effs) != 0 || st.Name != flows.SCard {
		t.Fatalf("late report: %s, state %+v", summary(effs), st)
	}
}
