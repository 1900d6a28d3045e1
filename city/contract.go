// Package city is kezekbot's side of the contract with the city's queue system (the system of
// record behind e.astana.kz): the wire shapes of api/queue.yaml, and conversions between them
// and the domain types. The HTTP client, the reference city and the conformance kit build on
// these shapes; the mirror (store/postgres) stores what they carry.
//
// The contract's rules, in one place:
//   - Ids of applications, referrals and kindergartens are the city's, positive int64, stable.
//   - Every application has a revision: a positive integer the city raises on every change of
//     the application or of one of its referrals. A snapshot with a lower or equal revision than
//     the one kezekbot holds is old news and is ignored.
//   - A change carries the application's whole snapshot after the change (with its referrals),
//     so applying a change never depends on having seen the ones before it.
//   - A change id is applied once; a second delivery of it is acknowledged and ignored.
//   - A revocation carries an idempotency key; the city answers a repeat of the key with the
//     answer it gave the first time.
package city

import (
	"fmt"
	"time"

	"github.com/kezekbot/kezekbot"
)

// Version is the contract version this package speaks (api/queue.yaml info.version).
const Version = "1.0.0"

// Date is a calendar date on the wire ("2006-01-02").
const Date = "2006-01-02"

// Person is the applicant as the city holds them.
type Person struct {
	IIN   kezekbot.IIN `json:"iin"`
	Name  string       `json:"name"`
	Phone string       `json:"phone,omitempty"`
	Email string       `json:"email,omitempty"`
}

// Child is the child an application is for.
type Child struct {
	IIN       kezekbot.IIN `json:"iin"`
	Name      string       `json:"name"`
	BirthDate string       `json:"birth_date"` // Date
}

// Kindergarten is a preschool organisation («ДДО»).
type Kindergarten struct {
	ID      int64    `json:"id"`
	Name    string   `json:"name"`
	Address string   `json:"address,omitempty"`
	Lat     *float64 `json:"lat,omitempty"`
	Lon     *float64 `json:"lon,omitempty"`
}

// Referral is a referral of an application to a kindergarten.
type Referral struct {
	ID           int64        `json:"id"`
	Kindergarten Kindergarten `json:"kindergarten"`
	IssuedAt     time.Time    `json:"issued_at"`
	State        string       `json:"state"` // kezekbot.ReferralState values
	ClosedAt     *time.Time   `json:"closed_at,omitempty"`
	RevokeReason string       `json:"revoke_reason,omitempty"`
	EnrolBefore  string       `json:"enrol_before,omitempty"` // Date
	Extendable   bool         `json:"extendable,omitempty"`
}

// HistoryEntry is one row of «История изменений».
type HistoryEntry struct {
	At          time.Time `json:"at"`
	Event       string    `json:"event"`  // kezekbot.HistoryEvent values
	Status      string    `json:"status"` // kezekbot.Status values
	QueueNumber int       `json:"queue_number,omitempty"`
	Note        string    `json:"note,omitempty"`
}

// Document is one of «Общие документы».
type Document struct {
	Kind     string `json:"kind"`
	Number   string `json:"number,omitempty"`
	IssuedAt string `json:"issued_at,omitempty"` // Date
}

// Application is an application as the city holds it. In a list (Applications) Referrals,
// History and Documents may be left out; one application (Application, a change, a revocation's
// answer) has them all.
type Application struct {
	ID                 int64          `json:"id"`
	Revision           int64          `json:"revision"`
	Number             string         `json:"number"`
	Applicant          Person         `json:"applicant"`
	Child              Child          `json:"child"`
	Benefit            string         `json:"benefit"` // kezekbot.Benefit values
	RegisteredAt       time.Time      `json:"registered_at"`
	PEPNumber          string         `json:"pep_number,omitempty"`
	CONNumber          string         `json:"con_number,omitempty"`
	Status             string         `json:"status"` // kezekbot.Status values
	StatusChangedAt    time.Time      `json:"status_changed_at"`
	QueuedSince        time.Time      `json:"queued_since"`
	QueueNumber        int            `json:"queue_number"`
	BenefitQueueNumber int            `json:"benefit_queue_number"`
	Referrals          []Referral     `json:"referrals,omitempty"`
	History            []HistoryEntry `json:"history,omitempty"`
	Documents          []Document     `json:"documents,omitempty"`
}

// ApplicationList is the answer to a search by applicant.
type ApplicationList struct {
	Applications []Application `json:"applications"`
}

// SearchRequest asks for the applications of one applicant. It is a POST body, not a query
// parameter, so that IINs stay out of URLs and access logs.
type SearchRequest struct {
	ApplicantIIN kezekbot.IIN `json:"applicant_iin"`
}

// Change kinds: what happened in the city.
const (
	ChangeApplicationCreated = "application_created"
	ChangeApplicationChanged = "application_changed"
	ChangeReferralIssued     = "referral_issued"
	ChangeReferralRevoked    = "referral_revoked"
	ChangeReferralExpired    = "referral_expired"
	ChangeReferralUsed       = "referral_used"
	ChangeStatusChanged      = "status_changed"
	ChangeQueueChanged       = "queue_changed"
)

// ChangeKinds lists every change kind; any other kind is refused.
var ChangeKinds = []string{ChangeApplicationCreated, ChangeApplicationChanged, ChangeReferralIssued,
	ChangeReferralRevoked, ChangeReferralExpired, ChangeReferralUsed, ChangeStatusChanged, ChangeQueueChanged}

// Change is one thing that happened in the city, with the application's snapshot after it.
type Change struct {
	// ID is the city's id of the change, unique forever (≤ 128 bytes).
	ID   string    `json:"id"`
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
	// ReferralID names the referral of a referral_* change.
	ReferralID  int64       `json:"referral_id,omitempty"`
	Application Application `json:"application"`
}

// ChangePage is a page of the change feed (GET /v1/changes?after=CURSOR&limit=N) and the body
// of a push (POST to kezekbot's /city/changes, Next empty).
type ChangePage struct {
	Changes []Change `json:"changes"`
	// Next is the cursor to ask with next; it is opaque to kezekbot and equal to the cursor
	// asked with when there is nothing new.
	Next string `json:"next,omitempty"`
}

// RevokeRequest is a parent's signed revocation (POST /v1/revocations, header
// Idempotency-Key equal to IdempotencyKey).
type RevokeRequest struct {
	IdempotencyKey string       `json:"idempotency_key"`
	ApplicantIIN   kezekbot.IIN `json:"applicant_iin"`
	ApplicationID  int64        `json:"application_id"`
	ReferralID     int64        `json:"referral_id"`
	Reason         string       `json:"reason"`
	// SignedXML is the signed document exactly as kezekbot verified and stored it.
	SignedXML  string    `json:"signed_xml"`
	SignedAt   time.Time `json:"signed_at"`
	CertSerial string    `json:"cert_serial"`
	CertIssuer string    `json:"cert_issuer"`
}

// RevokeAccepted is the answer to an accepted revocation (200): the application after it.
type RevokeAccepted struct {
	Status             string      `json:"status"`
	QueueNumber        int         `json:"queue_number"`
	BenefitQueueNumber int         `json:"benefit_queue_number"`
	Application        Application `json:"application"`
}

// Refusal codes: the closed list of reasons the city refuses a revocation with (422).
const (
	RefuseWindowClosed      = "window_closed"
	RefuseNotActive         = "not_active"
	RefuseNotApplicant      = "not_applicant"
	RefuseNotFound          = "not_found"
	RefuseSignatureRejected = "signature_rejected"
	RefuseInvalid           = "invalid_request"
)

// RefusalCodes lists every refusal code; any other code breaks the contract.
var RefusalCodes = []string{RefuseWindowClosed, RefuseNotActive, RefuseNotApplicant, RefuseNotFound,
	RefuseSignatureRejected, RefuseInvalid}

// Problem is every error answer's body (application/problem+json shape, with a code).
type Problem struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

func (p *Problem) Error() string { return fmt.Sprintf("city: %s: %s", p.Code, p.Message) }

// Unavailable is a city that did not answer usably: a network error, a timeout, a 5xx, a 429.
// The request may be retried (after RetryAfter when the city said so).
type Unavailable struct {
	RetryAfter time.Duration
	Err        error
}

func (e *Unavailable) Error() string { return "city unavailable: " + e.Err.Error() }
func (e *Unavailable) Unwrap() error { return e.Err }

// ContractError is an answer the contract does not allow (malformed JSON, an unknown refusal
// code, a snapshot that fails Detail). Retrying the same request may not help; an operator must
// look. The message names what was wrong, never personal values.
type ContractError struct {
	Endpoint string
	Err      error
}

func (e *ContractError) Error() string {
	return "city broke the contract at " + e.Endpoint + ": " + e.Err.Error()
}
func (e *ContractError) Unwrap() error { return e.Err }

// The client (client.go) answers with these errors and these methods, which the adapters
// declare as interfaces where they use them:
//
//	Applications(ctx, iin kezekbot.IIN) ([]Application, error)           // POST /v1/applications/search
//	Application(ctx, iin kezekbot.IIN, id int64) (Application, error)     // GET /v1/applications/{id}, header X-Applicant-IIN
//	Revoke(ctx, req RevokeRequest) (RevokeAccepted, error)                // POST /v1/revocations, header Idempotency-Key
//	Changes(ctx, after string, limit int) (ChangePage, error)            // GET /v1/changes?after=&limit=
//
// A refusal or a not-found is a *Problem (errors.As) with a code from RefusalCodes; a failure
// worth retrying is an *Unavailable; an answer outside the contract is a *ContractError.
