package city

import (
	"fmt"
	"slices"
	"time"

	"github.com/kezekbot/kezekbot"
)

// Detail checks a snapshot as outside input and converts it to the domain's shape. Errors have
// code EINVALID and name the field, never its value (values may be personal).
func (a Application) Detail() (kezekbot.ApplicationDetail, error) {
	bad := func(field string) (kezekbot.ApplicationDetail, error) {
		return kezekbot.ApplicationDetail{}, kezekbot.Errorf(kezekbot.EINVALID, "application %d: bad %s", a.ID, field)
	}
	switch {
	case a.ID <= 0:
		return bad("id")
	case a.Revision <= 0:
		return bad("revision")
	case a.Number == "" || len(a.Number) > 64:
		return bad("number")
	case a.Applicant.IIN.IsZero():
		return bad("applicant.iin")
	case a.Child.IIN.IsZero():
		return bad("child.iin")
	case !kezekbot.Benefit(a.Benefit).Valid():
		return bad("benefit")
	case !kezekbot.Status(a.Status).Valid():
		return bad("status")
	case a.RegisteredAt.IsZero():
		return bad("registered_at")
	case a.QueueNumber < 0:
		return bad("queue_number")
	case a.BenefitQueueNumber < 0:
		return bad("benefit_queue_number")
	case len(a.Applicant.Name) > 300 || len(a.Child.Name) > 300:
		return bad("name")
	}
	birth, err := time.Parse(Date, a.Child.BirthDate)
	if err != nil {
		return bad("child.birth_date")
	}
	d := kezekbot.ApplicationDetail{Application: kezekbot.Application{
		ID:                 a.ID,
		Number:             a.Number,
		ChildName:          a.Child.Name,
		ChildIIN:           a.Child.IIN,
		ChildBirthDate:     birth,
		ApplicantName:      a.Applicant.Name,
		ApplicantIIN:       a.Applicant.IIN,
		Phone:              a.Applicant.Phone,
		Email:              a.Applicant.Email,
		QueueNumber:        a.QueueNumber,
		BenefitQueueNumber: a.BenefitQueueNumber,
		Benefit:            kezekbot.Benefit(a.Benefit),
		RegisteredAt:       a.RegisteredAt,
		PEPNumber:          a.PEPNumber,
		CONNumber:          a.CONNumber,
		Status:             kezekbot.Status(a.Status),
		StatusChangedAt:    a.StatusChangedAt,
		QueuedSince:        a.QueuedSince,
	}}
	for _, r := range a.Referrals {
		if r.ID <= 0 || r.Kindergarten.ID <= 0 || r.Kindergarten.Name == "" || r.IssuedAt.IsZero() {
			return bad("referral")
		}
		if !slices.Contains(kezekbot.ReferralStates, kezekbot.ReferralState(r.State)) {
			return bad("referral.state")
		}
		ref := kezekbot.Referral{
			ID:            r.ID,
			ApplicationID: a.ID,
			Kindergarten: kezekbot.Kindergarten{
				ID: r.Kindergarten.ID, Name: r.Kindergarten.Name, Address: r.Kindergarten.Address,
			},
			IssuedAt:     r.IssuedAt,
			State:        kezekbot.ReferralState(r.State),
			RevokeReason: r.RevokeReason,
			Extendable:   r.Extendable,
		}
		if r.Kindergarten.Lat != nil && r.Kindergarten.Lon != nil {
			ref.Kindergarten.Lat, ref.Kindergarten.Lon = *r.Kindergarten.Lat, *r.Kindergarten.Lon
		}
		if r.ClosedAt != nil {
			ref.ClosedAt = *r.ClosedAt
		}
		if r.EnrolBefore != "" {
			if ref.EnrolBefore, err = time.Parse(Date, r.EnrolBefore); err != nil {
				return bad("referral.enrol_before")
			}
		}
		d.Referrals = append(d.Referrals, ref)
	}
	for _, h := range a.History {
		if h.At.IsZero() || !kezekbot.Status(h.Status).Valid() || h.QueueNumber < 0 {
			return bad("history")
		}
		d.History = append(d.History, kezekbot.HistoryEntry{
			At: h.At, Event: kezekbot.HistoryEvent(h.Event), Status: kezekbot.Status(h.Status),
			QueueNumber: h.QueueNumber, Note: h.Note,
		})
	}
	for _, doc := range a.Documents {
		kd := kezekbot.Document{Kind: doc.Kind, Number: doc.Number}
		if doc.IssuedAt != "" {
			if kd.IssuedAt, err = time.Parse(Date, doc.IssuedAt); err != nil {
				return bad("document.issued_at")
			}
		}
		d.Documents = append(d.Documents, kd)
	}
	return d, nil
}

// FromDetail is the snapshot of d at revision rev: what the reference city serves and what an
// export of the embedded store writes.
func FromDetail(d kezekbot.ApplicationDetail, rev int64) Application {
	a := Application{
		ID:                 d.ID,
		Revision:           rev,
		Number:             d.Number,
		Applicant:          Person{IIN: d.ApplicantIIN, Name: d.ApplicantName, Phone: d.Phone, Email: d.Email},
		Child:              Child{IIN: d.ChildIIN, Name: d.ChildName, BirthDate: d.ChildBirthDate.Format(Date)},
		Benefit:            string(d.Benefit),
		RegisteredAt:       d.RegisteredAt,
		PEPNumber:          d.PEPNumber,
		CONNumber:          d.CONNumber,
		Status:             string(d.Status),
		StatusChangedAt:    d.StatusChangedAt,
		QueuedSince:        d.QueuedSince,
		QueueNumber:        d.QueueNumber,
		BenefitQueueNumber: d.BenefitQueueNumber,
	}
	for _, r := range d.Referrals {
		kg := r.Kindergarten
		wr := Referral{
			ID:           r.ID,
			Kindergarten: Kindergarten{ID: kg.ID, Name: kg.Name, Address: kg.Address},
			IssuedAt:     r.IssuedAt,
			State:        string(r.State),
			RevokeReason: r.RevokeReason,
			Extendable:   r.Extendable,
		}
		if kg.Lat != 0 || kg.Lon != 0 {
			lat, lon := kg.Lat, kg.Lon
			wr.Kindergarten.Lat, wr.Kindergarten.Lon = &lat, &lon
		}
		if !r.ClosedAt.IsZero() {
			t := r.ClosedAt
			wr.ClosedAt = &t
		}
		if !r.EnrolBefore.IsZero() {
			wr.EnrolBefore = r.EnrolBefore.Format(Date)
		}
		a.Referrals = append(a.Referrals, wr)
	}
	for _, h := range d.History {
		a.History = append(a.History, HistoryEntry{At: h.At, Event: string(h.Event), Status: string(h.Status), QueueNumber: h.QueueNumber, Note: h.Note})
	}
	for _, doc := range d.Documents {
		wd := Document{Kind: doc.Kind, Number: doc.Number}
		if !doc.IssuedAt.IsZero() {
			wd.IssuedAt = doc.IssuedAt.Format(Date)
		}
		a.Documents = append(a.Documents, wd)
	}
	return a
}

// Validate checks a change as outside input (the snapshot included).
func (c Change) Validate() error {
	if c.ID == "" || len(c.ID) > 128 {
		return kezekbot.Errorf(kezekbot.EINVALID, "change id must be 1..128 bytes")
	}
	if !slices.Contains(ChangeKinds, c.Kind) {
		return kezekbot.Errorf(kezekbot.EINVALID, "change %s: unknown kind", c.ID)
	}
	if c.At.IsZero() {
		return kezekbot.Errorf(kezekbot.EINVALID, "change %s: at is required", c.ID)
	}
	if _, err := c.Application.Detail(); err != nil {
		return fmt.Errorf("change %s: %w", c.ID, err)
	}
	switch c.Kind {
	case ChangeReferralIssued, ChangeReferralRevoked, ChangeReferralExpired, ChangeReferralUsed:
		if !slices.ContainsFunc(c.Application.Referrals, func(r Referral) bool { return r.ID == c.ReferralID }) {
			return kezekbot.Errorf(kezekbot.EINVALID, "change %s: referral_id names no referral of the application", c.ID)
		}
	}
	return nil
}
