package kezekbot

import (
	"fmt"
	"time"
)

// ReferralState is where a referral («направление») to a kindergarten stands.
type ReferralState string

const (
	ReferralActive  ReferralState = "active"  // issued, not yet used
	ReferralRevoked ReferralState = "revoked" // the applicant revoked it («Отозвать направление»)
	ReferralExpired ReferralState = "expired" // not used in time, cancelled
	ReferralUsed    ReferralState = "used"    // the child was enrolled with it
)

// ReferralStates lists every referral state.
var ReferralStates = []ReferralState{ReferralActive, ReferralRevoked, ReferralExpired, ReferralUsed}

// RevocationWindow is how long after its issue a referral may be revoked by the applicant:
// «в срок не позднее суток с момента выдачи направления». We read сутки as 24 hours from the
// moment of issue, not the end of the calendar day (domain.md §1.4 flags this as the product
// owner's rule).
const RevocationWindow = 24 * time.Hour

// Referral is a referral of an application to a kindergarten.
type Referral struct {
	ID            int64
	ApplicationID int64
	Kindergarten  Kindergarten
	IssuedAt      time.Time
	State         ReferralState
	ClosedAt      time.Time // when it left state active; zero while active
	RevokeReason  string
	// EnrolBefore is the date by which the child must be enrolled with this referral, as the
	// department set it; zero if unknown.
	EnrolBefore time.Time
	// Extendable says whether the department allows «Продлить направление» for this referral.
	// The city's rule is not public (domain.md §1.4), so it comes from the backend, not from a
	// constant here.
	Extendable bool
}

// RevocableUntil is the moment the revocation window closes.
func (r Referral) RevocableUntil() time.Time { return r.IssuedAt.Add(RevocationWindow) }

// RefusalReason says why a referral cannot be revoked.
type RefusalReason string

const (
	RefusalNotActive    RefusalReason = "not_active"
	RefusalWindowClosed RefusalReason = "window_closed"
)

// RevokeRefusal is the error CheckRevoke returns: the reason, the referral's state and, for a
// closed window, when it closed, so that a parent is told exactly that.
type RevokeRefusal struct {
	Reason   RefusalReason
	State    ReferralState
	ClosedAt time.Time
}

func (e *RevokeRefusal) Error() string {
	switch e.Reason {
	case RefusalWindowClosed:
		return fmt.Sprintf("referral can no longer be revoked: the 24-hour window closed at %s", e.ClosedAt.UTC().Format(time.RFC3339))
	default:
		return fmt.Sprintf("referral is %s, only an active referral can be revoked", e.State)
	}
}

// Code maps a refusal to a domain error code.
func (e *RevokeRefusal) Code() string {
	if e.Reason == RefusalWindowClosed {
		return EEXPIRED
	}
	return ECONFLICT
}

// CheckRevoke decides whether the applicant may revoke r at now: the referral must be active
// and now must be before IssuedAt+24h. It returns nil or a *RevokeRefusal. Callers check it
// when drawing a button and again, inside the transaction, when revoking.
func CheckRevoke(r Referral, now time.Time) error {
	if r.State != ReferralActive {
		return &RevokeRefusal{Reason: RefusalNotActive, State: r.State, ClosedAt: r.ClosedAt}
	}
	if !now.Before(r.RevocableUntil()) {
		return &RevokeRefusal{Reason: RefusalWindowClosed, State: r.State, ClosedAt: r.RevocableUntil()}
	}
	return nil
}
