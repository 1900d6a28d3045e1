package kezekbot

import "time"

// Action is what a parent signs for.
type Action string

const (
	// ActionBind proves who the parent is with the AUTH key; the certificate's IIN becomes
	// the chat's identity.
	ActionBind Action = "bind"
	// ActionRevoke revokes a referral; signed with the SIGN key.
	ActionRevoke Action = "revoke"
)

// Evidence is what we keep of an accepted signature: the signed document as received and what
// the verification found. It is stored with the audit row of the action it authorised.
type Evidence struct {
	SignedXML  []byte
	IIN        IIN
	Subject    string // certificate subject DN
	Serial     string // certificate serial number, hex
	Issuer     string
	Algorithm  string // signature algorithm: "rsa" or "gost2015-512"
	NotBefore  time.Time
	NotAfter   time.Time
	VerifiedAt time.Time
	Nonce      string // the link's nonce: one document, one action
}

// RevokeRequest is a parent's signed request to revoke a referral.
type RevokeRequest struct {
	ChatID        int64
	ApplicantIIN  IIN
	ApplicationID int64
	ReferralID    int64
	Reason        string
	Evidence      Evidence
}

// RevokeResult is the application after a revocation: back in the queue, with its new place.
type RevokeResult struct {
	Application Application
	Referral    Referral
	// Pending is set when the revocation was signed and handed to the system of record (the
	// city) and its answer comes later; Application and Referral are then as before it.
	Pending bool
}
