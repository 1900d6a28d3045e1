package flows

import (
	"slices"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
)

// The city mode's revocation: the signature is verified and the request handed to the city
// (Signed with Result.Pending); the city answers later (RevokeDecided). The parent is told at
// once that the request went out, and then the answer in the same message while the chat is
// still there, or as a new message when it moved on.

// pending shows «sent to the queue system» and remembers the nonce for the answer.
func (s *stepper) pending(ev Signed) {
	app := ev.Result.Application
	if !app.VisibleTo(s.st.IIN) {
		s.fail("revoke pending", kezekbot.Errorf(kezekbot.ENOTFOUND, "pending revocation of application %d is not the chat's", app.ID))
		return
	}
	s.st.Pending = addPending(s.st.Pending, ev.Nonce)
	s.st.Awaiting = ev.Nonce
	ref := ev.Result.Referral
	s.setApp(SRevokePending, app.ID)
	s.st.RefID = ref.ID
	s.show(Screen{Kind: ScreenRevokePending, App: &kezekbot.ApplicationDetail{Application: app}, Ref: refOrNil(ref), Buttons: pendingButtons(app.ID)})
}

func pendingButtons(appID int64) [][]Button {
	return [][]Button{{btn("btn.open_app", ActOpen, appID)}, {btn("btn.apps", ActApps, 0)}}
}

func refOrNil(r kezekbot.Referral) *kezekbot.Referral {
	if r.ID == 0 {
		return nil
	}
	return &r
}

// pendingScreen shows the waiting screen again (a refresh, a language switch, a stale press).
func (s *stepper) pendingScreen(notice string) {
	d, ok := s.loadApp(s.st.AppID)
	if !ok {
		return
	}
	r, _ := findRef(d, s.st.RefID)
	kind := ScreenRevokePending
	s.show(Screen{Kind: kind, Notice: notice, App: d, Ref: r, Buttons: pendingButtons(d.ID)})
}

// decided takes the city's answer. It is current when its nonce is one the chat waits for, or
// when the state was lost since; anything else (a repeat, a nonce of an older session) is
// ignored, as stale Signed reports are.
func (s *stepper) decided(ev RevokeDecided) {
	lost := s.st.Name == SNew
	// The city may answer before the signer-link's own report (Signed) reached the chat: the
	// answer then finds the link's nonce still in the state. It is taken, and the link's
	// report, coming after, is stale.
	early := ev.Nonce != "" && ev.Nonce == s.st.Nonce
	if ev.Nonce == "" || (!lost && !early && !hasPending(s.st.Pending, ev.Nonce)) {
		return
	}
	if early {
		s.st.Nonce, s.st.LinkURL, s.st.LinkExp = "", "", time.Time{}
		s.st.Pending = addPending(s.st.Pending, ev.Nonce)
	}
	inPlace := !lost && s.st.Name == SRevokePending && s.st.Awaiting == ev.Nonce && s.st.MsgID != 0
	s.newMsg = !inPlace
	s.defaultLang()
	if lost || s.st.IIN.IsZero() {
		if !s.reloadBinding() {
			return
		}
		if s.st.IIN.IsZero() {
			// Logged out since: the answer is for whoever holds the IIN, not this chat.
			return
		}
	}
	app := ev.Result.Application
	if !app.VisibleTo(s.st.IIN) {
		s.fail("revoke answer", kezekbot.Errorf(kezekbot.ENOTFOUND, "answer for application %d is not the chat's", app.ID))
		return
	}
	ref := ev.Result.Referral
	d := &kezekbot.ApplicationDetail{Application: app}
	if ev.Delayed {
		// Not an answer: the request stays queued and the answer still comes here.
		s.setApp(SRevokePending, app.ID)
		s.st.RefID, s.st.Awaiting = ref.ID, ev.Nonce
		s.show(Screen{Kind: ScreenRevokeDelayed, App: d, Ref: refOrNil(ref), Buttons: pendingButtons(app.ID)})
		return
	}
	s.st.Pending = removePending(s.st.Pending, ev.Nonce)
	if s.st.Awaiting == ev.Nonce {
		s.st.Awaiting = ""
	}
	s.setApp(SCard, app.ID)
	rows := [][]Button{{btn("btn.open_app", ActOpen, app.ID)}, {btn("btn.apps", ActApps, 0)}}
	if ev.Accepted {
		s.show(Screen{Kind: ScreenRevoked, App: d, Ref: refOrNil(ref), Buttons: rows})
		return
	}
	code := ev.Code
	if code == "" {
		code = "invalid_request"
	}
	s.show(Screen{Kind: ScreenRevokeRejected, App: d, Ref: refOrNil(ref), ErrCode: code, Buttons: rows})
}

func hasPending(list, nonce string) bool {
	return slices.Contains(strings.Fields(list), nonce)
}

func addPending(list, nonce string) string {
	f := slices.DeleteFunc(strings.Fields(list), func(n string) bool { return n == nonce })
	f = append(f, nonce)
	if len(f) > MaxPending {
		f = f[len(f)-MaxPending:]
	}
	return strings.Join(f, " ")
}

func removePending(list, nonce string) string {
	return strings.Join(slices.DeleteFunc(strings.Fields(list), func(n string) bool { return n == nonce }), " ")
}
