package flows_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
)

// randomFixture fills the store with several applicants, each with random applications and
// referrals around now; chat A is bound to the first applicant.
func randomFixture(r *rand.Rand) (f *fixture, owner kezekbot.IIN, appIDs, refIDs []int64) {
	f = newFixture()
	f.data.apps = nil
	f.data.bound = map[int64]kezekbot.IIN{}
	var iins []kezekbot.IIN
	for len(iins) < 2+r.IntN(4) {
		prefix := fmt.Sprintf("%02d%02d%02d%d%04d", 70+r.IntN(29), 1+r.IntN(12), 1+r.IntN(28), 3+r.IntN(2), r.IntN(10000))
		if _, ok := kezekbot.IINCheckDigit(prefix); ok {
			iins = append(iins, mkIIN(prefix))
		}
	}
	owner = iins[0]
	f.data.bound[chatA] = owner
	states := kezekbot.ReferralStates
	nextID, nextRef := int64(1), int64(1000)
	for _, iin := range iins {
		for range r.IntN(9) {
			var refs []kezekbot.Referral
			for range r.IntN(3) {
				issued := f.now.Add(-time.Duration(r.IntN(60*60)) * time.Minute / 30) // 0..~48h ago
				rf := ref(nextRef, kg(nextRef, fmt.Sprintf("Сад <%d> & Co", nextRef)), issued)
				if r.IntN(3) == 0 {
					rf.State = states[r.IntN(len(states))]
				}
				rf.Extendable = r.IntN(2) == 0
				refs = append(refs, rf)
				refIDs = append(refIDs, nextRef)
				nextRef++
			}
			status := kezekbot.Statuses[r.IntN(len(kezekbot.Statuses))]
			a := app(nextID, iin, fmt.Sprintf("Ребёнок%d Тестовый", nextID), f.now.Add(-time.Duration(r.IntN(1000))*time.Hour), status, refs...)
			f.data.apps = append(f.data.apps, a)
			appIDs = append(appIDs, nextID)
			nextID++
		}
	}
	return f, owner, appIDs, refIDs
}

func randomEvent(r *rand.Rand, st flows.State, f *fixture, appIDs, refIDs []int64) flows.Event {
	pickID := func() int64 {
		switch r.IntN(4) {
		case 0:
			if len(appIDs) > 0 {
				return appIDs[r.IntN(len(appIDs))]
			}
		case 1:
			if len(refIDs) > 0 {
				return refIDs[r.IntN(len(refIDs))]
			}
		case 2:
			return int64(r.IntN(6))
		}
		return r.Int64()
	}
	// Steer the walk towards the interesting parts: get bound again after a logout, and let
	// the signer-link answer a revocation in progress.
	if st.IIN.IsZero() && r.IntN(2) == 0 {
		if st.Name == flows.SBinding {
			f.data.bound[chatA] = walkOwner // the signer-link stores the binding, then reports
			return flows.Signed{Action: kezekbot.ActionBind, Nonce: st.Nonce, OK: true, IIN: walkOwner}
		}
		return flows.Press{Action: flows.ActBind, Rev: st.Rev, MsgID: st.MsgID}
	}
	if st.Name == flows.SRevokeSigning && r.IntN(3) == 0 {
		ev := flows.Signed{Action: kezekbot.ActionRevoke, Nonce: st.Nonce, OK: r.IntN(3) > 0}
		if !ev.OK {
			ev.Code = []string{kezekbot.EEXPIRED, kezekbot.ECONFLICT, kezekbot.EFORBIDDEN}[r.IntN(3)]
		}
		for _, d := range f.data.apps {
			if d.ID == st.AppID {
				ev.Result.Application = d.Application
				ev.Result.Application.Status = kezekbot.StatusQueued
				for _, rf := range d.Referrals {
					if rf.ID == st.RefID {
						ev.Result.Referral = rf
						ev.Result.Referral.State = kezekbot.ReferralRevoked
					}
				}
			}
		}
		return ev
	}
	switch n := r.IntN(100); {
	case n < 60: // a press on the live screen: either one of its buttons or a forged one
		if n < 40 && len(lastButtons) > 0 {
			b := lastButtons[r.IntN(len(lastButtons))]
			return flows.Press{Action: b.Action, ID: b.ID, Rev: st.Rev, MsgID: st.MsgID}
		}
		return flows.Press{Action: allActions[r.IntN(len(allActions))], ID: pickID(), Rev: st.Rev, MsgID: st.MsgID}
	case n < 68:
		return flows.Press{Action: allActions[r.IntN(len(allActions))], ID: pickID(), Rev: r.Uint32(), MsgID: r.IntN(100)}
	case n < 70:
		return flows.BadPress{}
	case n < 72:
		return flows.ForeignPress{Data: "s:ok:0:1", MsgID: r.IntN(100)}
	case n < 80:
		texts := []string{"привет", "791028302728", "", strings.Repeat("ы", 400), "Переезд <b>", "/start"}
		return flows.Text{Text: texts[r.IntN(len(texts))]}
	case n < 88:
		cmds := []string{"start", "lang", "apps", "cancel", "help", "menu", "logout", "x"}
		return flows.Command{Name: cmds[r.IntN(len(cmds))], Arg: []string{"", "kk", "ru"}[r.IntN(3)]}
	case n < 91:
		return flows.Unsupported{Kind: "photo"}
	default:
		nonce := st.Nonce
		if r.IntN(3) == 0 {
			nonce = "nonce-other"
		}
		var res kezekbot.RevokeResult
		if len(f.data.apps) > 0 {
			d := f.data.apps[r.IntN(len(f.data.apps))]
			res.Application = d.Application
			if len(d.Referrals) > 0 {
				res.Referral = d.Referrals[0]
			}
		}
		codes := []string{"", kezekbot.EEXPIRED, kezekbot.ECONFLICT, kezekbot.EFORBIDDEN}
		if r.IntN(4) == 0 {
			return flows.Signed{Action: kezekbot.ActionBind, Nonce: nonce, OK: r.IntN(2) == 0, IIN: f.data.bound[chatA]}
		}
		return flows.Signed{Action: kezekbot.ActionRevoke, Nonce: nonce, OK: r.IntN(2) == 0, Code: codes[r.IntN(len(codes))], Result: res}
	}
}

// lastButtons are the callback buttons of the last screen shown, walkOwner the IIN chat A
// binds to (package state of the walk).
var (
	lastButtons []flows.Button
	walkOwner   kezekbot.IIN
)

// TestPropertyOnlyOwnApplications: whatever chat A does (real buttons, forged ids of other
// applicants' applications and referrals, stale presses, commands, late signatures naming
// other applications), no screen shows an application or referral of another IIN, no button
// points to one, and no signing link is asked for one.
func TestPropertyOnlyOwnApplications(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	kinds := map[flows.ScreenKind]int{}
	revokeLinks := 0
	defer func() {
		// The walk must reach the screens that matter, or the property says little.
		for _, k := range []flows.ScreenKind{flows.ScreenList, flows.ScreenCard, flows.ScreenReferral, flows.ScreenRevokeReason, flows.ScreenRevokeConfirm, flows.ScreenSignLink, flows.ScreenRevoked, flows.ScreenRefused} {
			if kinds[k] == 0 {
				t.Errorf("the random walk never showed %s", k)
			}
		}
		if revokeLinks == 0 {
			t.Error("the random walk never issued a revoke link")
		}
		t.Logf("screens %v, revoke links %d", kinds, revokeLinks)
	}()
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 42))
		f, owner, appIDs, refIDs := randomFixture(r)
		own := map[int64]bool{}
		ownRef := map[int64]bool{}
		for _, d := range f.data.apps {
			if d.ApplicantIIN.Equal(owner) {
				own[d.ID] = true
				for _, rf := range d.Referrals {
					ownRef[rf.ID] = true
				}
			}
		}
		st := flows.State{}
		lastButtons, walkOwner = nil, owner
		for i := range 80 {
			if r.IntN(10) == 0 {
				f.now = f.now.Add(time.Duration(r.IntN(20*60)) * time.Minute)
			}
			ev := randomEvent(r, st, f, appIDs, refIDs)
			next, effs, _ := f.step(t, chatA, st, ev)
			where := fmt.Sprintf("seed %d step %d: %s --%#v--> %s", seed, i, st.Name, ev, summary(effs))
			for _, e := range effs {
				sh, ok := e.(flows.Show)
				if !ok {
					continue
				}
				sc := sh.Screen
				kinds[sc.Kind]++
				for _, a := range sc.Apps {
					if !a.ApplicantIIN.Equal(owner) {
						t.Fatalf("%s: list shows application %d of another applicant", where, a.ID)
					}
				}
				if sc.App != nil && (!sc.App.ApplicantIIN.Equal(owner) || !own[sc.App.ID]) {
					t.Fatalf("%s: screen shows application %d of another applicant", where, sc.App.ID)
				}
				if sc.Ref != nil && sc.Ref.ID != 0 && !ownRef[sc.Ref.ID] {
					t.Fatalf("%s: screen shows referral %d of another applicant", where, sc.Ref.ID)
				}
				lastButtons = lastButtons[:0]
				for _, row := range sc.Buttons {
					for _, b := range row {
						if b.Action == "" {
							continue
						}
						lastButtons = append(lastButtons, b)
						switch b.Action {
						case flows.ActOpen, flows.ActHistory, flows.ActDocs, flows.ActExtend, flows.ActRevoke:
							if !own[b.ID] {
								t.Fatalf("%s: button %s:%d points to another applicant's application", where, b.Action, b.ID)
							}
						case flows.ActReferral, flows.ActPickReferral:
							if !ownRef[b.ID] {
								t.Fatalf("%s: button %s:%d points to another applicant's referral", where, b.Action, b.ID)
							}
						}
					}
				}
			}
			st = next
		}
		for _, req := range f.links.issued {
			if req.Action != kezekbot.ActionRevoke {
				continue
			}
			revokeLinks++
			if !req.IIN.Equal(owner) || !own[req.ApplicationID] || !ownRef[req.ReferralID] {
				t.Fatalf("seed %d: link issued for %+v", seed, req)
			}
			if _, err := kezekbot.NormalizeReason(req.Reason); err != nil {
				t.Fatalf("seed %d: link issued with reason %q: %v", seed, req.Reason, err)
			}
		}
	}
}

// TestPropertyConfirmRespectsWindow: whenever a revoke link is issued, the referral was
// revocable at that moment by the store's data.
func TestPropertyConfirmRespectsWindow(t *testing.T) {
	for seed := range 200 {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		f, owner, appIDs, refIDs := randomFixture(r)
		st := flows.State{}
		lastButtons, walkOwner = nil, owner
		for range 80 {
			if r.IntN(6) == 0 {
				f.now = f.now.Add(time.Duration(r.IntN(12*60)) * time.Minute)
			}
			before := len(f.links.issued)
			ev := randomEvent(r, st, f, appIDs, refIDs)
			next, effs, _ := f.step(t, chatA, st, ev)
			if len(f.links.issued) > before {
				req := f.links.issued[len(f.links.issued)-1]
				if req.Action == kezekbot.ActionRevoke {
					d, err := f.data.Application(t.Context(), owner, req.ApplicationID)
					if err != nil {
						t.Fatalf("seed %d: link for invisible application: %v", seed, err)
					}
					ok := false
					for _, rf := range d.Referrals {
						if rf.ID == req.ReferralID && kezekbot.CheckRevoke(rf, f.now) == nil {
							ok = true
						}
					}
					if !ok {
						t.Fatalf("seed %d: link issued for a referral that cannot be revoked now: %+v", seed, req)
					}
				}
			}
			for _, e := range effs {
				if sh, ok := e.(flows.Show); ok {
					lastButtons = lastButtons[:0]
					for _, row := range sh.Screen.Buttons {
						for _, b := range row {
							if b.Action != "" {
								lastButtons = append(lastButtons, b)
							}
						}
					}
				}
			}
			st = next
		}
	}
}
