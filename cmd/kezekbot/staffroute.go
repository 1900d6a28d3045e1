package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/bot"
	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/flows/staff"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// ScreenStaff is the flows screen kind of every staff dialog screen; its text and buttons are
// in Screen.Raw, drawn by broadcast.RenderStaff.
const ScreenStaff flows.ScreenKind = "staff"

// staffMembers says who is staff: *postgres.DB.
type staffMembers interface {
	GetStaff(ctx context.Context, userID int64) (postgres.StaffMember, error)
}

// staffEffects carries out the staff dialog's store effects: *broadcast.Replica.
type staffEffects interface {
	StaffEffect(ctx context.Context, userID, chatID int64, lang string, eff staff.Effect) (staff.Event, bool, error)
}

// staffRouter is the intake's Stepper: the parents' dialog, with the staff broadcast dialog
// (flows/staff) beside it in the same chat. It sends to the staff dialog /broadcast, a press
// of a staff button ("s:…"), and a text or /cancel while the staff dialog is under way, once
// the chat's user is found to be staff; everything else, and everything from anyone else, goes
// to the parents' dialog. Staff are looked up only for those events, so a parent's ordinary
// update costs no query; a non-staff /broadcast is an unknown command like any other.
//
// The staff dialog's state rides in flows.State.Staff, which the parents' dialog never sees
// change: the router puts it back after every parents' step.
type staffRouter struct {
	parents bot.Stepper
	members staffMembers
	effects staffEffects
}

// maxStaffChain bounds the effects fed back into one staff step (count → show, create →
// attach): a dialog that kept asking would be a bug, not a reason to spin.
const maxStaffChain = 8

// staffRoute is where an event goes.
type staffRoute int

const (
	routeParents staffRoute = iota
	routeStaff              // to the staff dialog, if the user is staff
	routeLeave              // to the parents, leaving a staff dialog under way
)

// routeOf decides, without the store, where ev goes: for routeStaff also the event the staff
// dialog takes and, for a press, the message its button was on.
func routeOf(chatID int64, ev flows.Event, ss staff.State) (staffRoute, staff.Event, int) {
	if chatID <= 0 {
		return routeParents, nil, 0 // groups: the parents' dialog answers «private chats only»
	}
	mid := ss.Name != staff.SIdle
	switch ev := ev.(type) {
	case flows.Command:
		switch {
		case ev.Name == "broadcast":
			return routeStaff, staff.Command{Name: "broadcast"}, 0
		case mid && ev.Name == "cancel":
			return routeStaff, staff.Command{Name: "cancel"}, 0
		case mid:
			return routeLeave, nil, 0
		}
	case flows.Start:
		if mid {
			return routeLeave, nil, 0
		}
	case flows.Text:
		if mid {
			return routeStaff, staff.Text{Text: ev.Text}, 0
		}
	case flows.ForeignPress:
		if strings.HasPrefix(ev.Data, staff.Prefix) {
			return routeStaff, staff.EventFromCallback(ev.Data), ev.MsgID
		}
	}
	return routeParents, nil, 0
}

// Step implements bot.Stepper.
func (r staffRouter) Step(ctx context.Context, chatID int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error) {
	var ss staff.State
	if st.Staff != "" {
		if err := json.Unmarshal([]byte(st.Staff), &ss); err != nil {
			ss = staff.State{} // damaged or from another version: no dialog under way
		}
	}
	where, sev, msgID := routeOf(chatID, ev, ss)
	var lookupErr error
	keep := st.Staff
	switch where {
	case routeStaff:
		// In a private chat the user is the chat.
		m, err := r.members.GetStaff(ctx, chatID)
		switch {
		case err == nil:
			return r.staffStep(ctx, chatID, m, st, ss, sev, msgID)
		case kezekbot.ErrorCode(err) == kezekbot.ENOTFOUND:
			keep = "" // not staff (any more): no staff dialog here
		default:
			// The store is down: the parents' dialog answers (it shows its error screen if it
			// needs the store too); the staff member tries again.
			lookupErr = fmt.Errorf("staff router: chat %d: %w", chatID, err)
		}
	case routeLeave:
		// Another command: the parents' screen takes the chat; the staff dialog is left
		// (its revision kept, so its buttons are stale).
		keep = encodeStaff(staff.State{Lang: ss.Lang, Rev: ss.Rev})
	}
	next, effs, err := r.parents.Step(ctx, chatID, st, ev)
	next.Staff = keep
	return next, effs, errors.Join(lookupErr, err)
}

// staffStep runs the staff dialog for one event, carrying out its store effects and feeding
// their results back, and returns the parents' state (untouched but for the staff state, the
// revision and the live message) with the staff dialog's screens and answer as flows effects.
func (r staffRouter) staffStep(ctx context.Context, chatID int64, m postgres.StaffMember, st flows.State, ss staff.State, ev staff.Event, msgID int) (flows.State, []flows.Effect, error) {
	ss.Lang = m.Lang
	press := false
	switch ev.(type) {
	case staff.Press, staff.BadPress:
		press = true
	}
	var out []flows.Effect
	var errs []error
	answered := false
	for i := 0; ev != nil; i++ {
		if i == maxStaffChain {
			errs = append(errs, fmt.Errorf("staff router: chat %d: effects still asking after %d steps", chatID, i))
			break
		}
		var effs []staff.Effect
		ss, effs = staff.Step(ss, ev)
		ev = nil
		for _, e := range effs {
			switch e := e.(type) {
			case staff.Show:
				text, buttons := broadcast.RenderStaff(e.Screen, ss.Rev)
				raw := &flows.RawScreen{Text: text, Buttons: make([][]flows.RawButton, 0, len(buttons))}
				for _, row := range buttons {
					rr := make([]flows.RawButton, 0, len(row))
					for _, b := range row {
						rr = append(rr, flows.RawButton{Text: b.Text, Data: b.Data, URL: b.URL})
					}
					raw.Buttons = append(raw.Buttons, rr)
				}
				// The parents' revision follows the staff screen's: the live message now
				// carries staff buttons, so the parents' buttons drawn before are stale.
				st.Rev = ss.Rev
				if press && msgID != 0 {
					// Edit the message whose button was pressed, wherever the live one is.
					st.MsgID = msgID
				}
				out = append(out, flows.Show{
					Screen: flows.Screen{Kind: ScreenStaff, Lang: flows.Lang(ss.Lang), Rev: ss.Rev, Raw: raw},
					New:    !press,
				})
			case staff.Answer:
				if answered {
					continue
				}
				answered = true
				a := flows.Answer{Alert: e.Alert}
				if e.Key != "" {
					a.Text = clipRunes(broadcast.T(ss.Lang, e.Key), 200)
				}
				// The answer goes first: it stops the client's spinner.
				out = append([]flows.Effect{a}, out...)
			default:
				next, handled, err := r.effects.StaffEffect(ctx, chatID, chatID, ss.Lang, e)
				if err != nil {
					errs = append(errs, fmt.Errorf("staff router: chat %d: %T: %w", chatID, e, err))
				} else if !handled {
					errs = append(errs, fmt.Errorf("staff router: chat %d: effect %T not handled", chatID, e))
				}
				if next != nil {
					ev = next
				}
			}
		}
	}
	st.Staff = encodeStaff(ss)
	return st, out, errors.Join(errs...)
}

func encodeStaff(ss staff.State) flows.RawJSON {
	b, err := json.Marshal(ss)
	if err != nil {
		return "" // cannot happen for staff.State; no dialog beats a wrong one
	}
	return flows.RawJSON(b)
}

// clipRunes keeps s within n characters (a callback answer's limit is 200).
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
