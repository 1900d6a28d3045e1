package kezekbot

import (
	"time"
	"unicode"
	"unicode/utf8"
)

// Status is the state of an application as the portal shows it. Texts for people come from the
// message catalogs (key "status.<value>"); the values here are storage codes.
type Status string

const (
	// StatusQueued is «В очереди»: waiting for a place. An application whose referral was
	// revoked returns to this status, at the place the queue order gives it.
	StatusQueued Status = "queued"
	// StatusReferralIssued is «Принято решение (Выдано направление)».
	StatusReferralIssued Status = "referral_issued"
	// StatusEnrolled: the child was admitted with the referral and left the queue.
	StatusEnrolled Status = "enrolled"
	// StatusRemoved: taken off the queue (by the applicant or the department).
	StatusRemoved Status = "removed"
)

// Statuses lists every status, for exhaustive checks (catalogs, schema constraints).
var Statuses = []Status{StatusQueued, StatusReferralIssued, StatusEnrolled, StatusRemoved}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// BenefitCategory is the part of the queue an application stands in. Lower goes first:
// extraordinary right, then primary right, then the general queue (domain.md §1.6).
type BenefitCategory int

const (
	CategoryExtraordinary BenefitCategory = 1 // внеочередное право
	CategoryPrimary       BenefitCategory = 2 // первоочередное право
	CategoryGeneral       BenefitCategory = 3 // «Без льготы»
)

// Benefit is the benefit type («Тип льготы») an application was filed with.
type Benefit string

const (
	BenefitNone           Benefit = "none"             // «Без льготы»
	BenefitMilitary       Benefit = "military"         // children of military personnel
	BenefitSpecialBodies  Benefit = "special_bodies"   // children of special state bodies' employees
	BenefitDisabledParent Benefit = "disabled_parent"  // a legal representative is disabled
	BenefitNoParentalCare Benefit = "no_parental_care" // orphans, children left without care
	BenefitLargeFamily    Benefit = "large_family"     // children from large families
	BenefitSpecialNeeds   Benefit = "special_needs"    // special educational needs
)

// Benefits lists every benefit type.
var Benefits = []Benefit{BenefitNone, BenefitMilitary, BenefitSpecialBodies, BenefitDisabledParent,
	BenefitNoParentalCare, BenefitLargeFamily, BenefitSpecialNeeds}

// Category returns the queue category of a benefit; unknown benefits are general.
func (b Benefit) Category() BenefitCategory {
	switch b {
	case BenefitMilitary, BenefitSpecialBodies:
		return CategoryExtraordinary
	case BenefitDisabledParent, BenefitNoParentalCare, BenefitLargeFamily, BenefitSpecialNeeds:
		return CategoryPrimary
	default:
		return CategoryGeneral
	}
}

// Valid reports whether b is a known benefit type.
func (b Benefit) Valid() bool {
	for _, v := range Benefits {
		if b == v {
			return true
		}
	}
	return false
}

// Application is an application to put a child on the kindergarten queue («Заявление»).
type Application struct {
	ID                 int64
	Number             string // «Номер заявления», e.g. УО.2018.000027.1
	ChildName          string
	ChildIIN           IIN
	ChildBirthDate     time.Time
	ApplicantName      string
	ApplicantIIN       IIN
	Phone              string
	Email              string
	QueueNumber        int // «Номер очереди» among queued applications of the same birth year
	BenefitQueueNumber int // «Номер очереди по льготной категории»; 0 in the general queue
	Benefit            Benefit
	RegisteredAt       time.Time // «Дата регистрации»: the queue order within a category
	PEPNumber          string    // «Номер ПЭП»
	CONNumber          string    // «Номер ЦОН»
	Status             Status
	StatusChangedAt    time.Time // «Дата и время последнего изменения»
	QueuedSince        time.Time // «в очереди с …»
}

// VisibleTo reports whether the holder of iin may see the application: only the applicant who
// filed it («Заявка отобразится только у Заявителя»).
func (a Application) VisibleTo(iin IIN) bool {
	return !iin.IsZero() && a.ApplicantIIN.Equal(iin)
}

// QueueYear is the queue an application stands in: places are published per birth year.
func (a Application) QueueYear() int { return a.ChildBirthDate.Year() }

// QueueKey returns what the queue order looks at.
func (a Application) QueueKey() QueueKey {
	return QueueKey{Category: a.Benefit.Category(), RegisteredAt: a.RegisteredAt, ID: a.ID}
}

// Kindergarten is a preschool organisation («ДДО»).
type Kindergarten struct {
	ID      int64
	Name    string
	Address string
	Lat     float64
	Lon     float64
}

// HistoryEvent says what happened to an application («История изменений»).
type HistoryEvent string

const (
	EventRegistered      HistoryEvent = "registered"
	EventReferralIssued  HistoryEvent = "referral_issued"
	EventReferralRevoked HistoryEvent = "referral_revoked"
	EventReferralExpired HistoryEvent = "referral_expired"
	EventEnrolled        HistoryEvent = "enrolled"
	EventQueueChanged    HistoryEvent = "queue_changed"
	EventStatusChanged   HistoryEvent = "status_changed"
)

// HistoryEntry is one row of «История изменений».
type HistoryEntry struct {
	At          time.Time
	Event       HistoryEvent
	Status      Status // status after the event
	QueueNumber int    // queue number after the event, 0 when not in the queue
	Note        string // e.g. the revocation reason
}

// Document is one of «Общие документы» on file for an application.
type Document struct {
	Kind     string // catalog key suffix: birth_certificate, applicant_id, benefit_certificate, …
	Number   string
	IssuedAt time.Time
}

// ApplicationDetail is an application with everything its card shows.
type ApplicationDetail struct {
	Application
	Referrals []Referral
	History   []HistoryEntry
	Documents []Document
	// AsOf is zero when the detail is fresh from the system of record. When the city could not
	// be asked in time, it is when kezekbot's mirror last heard of the application, and the
	// card says «данные на 14:05».
	AsOf time.Time
}

// ActiveReferrals returns the referrals in state active.
func (d ApplicationDetail) ActiveReferrals() []Referral {
	var out []Referral
	for _, r := range d.Referrals {
		if r.State == ReferralActive {
			out = append(out, r)
		}
	}
	return out
}

// Revocable returns the referrals that can be revoked at now.
func (d ApplicationDetail) Revocable(now time.Time) []Referral {
	var out []Referral
	for _, r := range d.Referrals {
		if CheckRevoke(r, now) == nil {
			out = append(out, r)
		}
	}
	return out
}

// MaxReasonLen is the longest revocation reason («Причина снятия») we keep, in characters.
const MaxReasonLen = 300

// NormalizeReason trims a revocation reason and checks it: required, at most MaxReasonLen
// characters, valid UTF-8, no control characters (they would end up in the signed XML).
func NormalizeReason(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(EINVALID, "reason is not valid UTF-8")
	}
	out := make([]rune, 0, len(s))
	space := false
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\r' || unicode.IsSpace(r):
			space = len(out) > 0
			continue
		case unicode.IsControl(r) || r == utf8.RuneError || (r >= 0xFFF9 && r <= 0xFFFF) || unicode.Is(unicode.Cs, r):
			return "", Errorf(EINVALID, "reason contains a control character")
		}
		if space {
			out = append(out, ' ')
			space = false
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return "", Errorf(EINVALID, "reason is required")
	}
	if len(out) > MaxReasonLen {
		return "", Errorf(EINVALID, "reason is longer than %d characters", MaxReasonLen)
	}
	return string(out), nil
}
