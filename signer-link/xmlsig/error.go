package xmlsig

import (
	"errors"
	"fmt"
)

// Reason is a stable code for why a document was rejected. The web page, the bot and the CLI
// map reasons to texts for people; the codes themselves never change meaning.
type Reason string

// Reasons, roughly in the order Verify checks them.
const (
	ReasonTooLarge          Reason = "too_large"          // the input is over the size limit
	ReasonMalformed         Reason = "malformed"          // not well-formed XML, or a Signature of the wrong shape
	ReasonDTD               Reason = "dtd"                // a DOCTYPE, ENTITY or other DTD declaration
	ReasonSignatureCount    Reason = "signature_count"    // no ds:Signature, or more than one
	ReasonSignaturePosition Reason = "signature_position" // the ds:Signature is not a direct child of the root
	ReasonReference         Reason = "reference"          // not exactly one Reference with URI=""
	ReasonAlgorithm         Reason = "algorithm"          // an algorithm outside the allow-list
	ReasonGOST              Reason = "gost"               // a GOST variant that is refused: GOST 34.310-2004 or GOST 34.10-2015 256-bit
	ReasonNoCertificate     Reason = "no_certificate"     // not exactly one X509Certificate in KeyInfo
	ReasonBadCertificate    Reason = "bad_certificate"    // the certificate cannot be decoded or parsed
	ReasonChain             Reason = "chain"              // the certificate does not chain to a trusted NCA root
	ReasonExpired           Reason = "expired"            // a certificate in the chain has expired at the verification time
	ReasonNotYetValid       Reason = "not_yet_valid"      // a certificate in the chain is not valid yet at the verification time
	ReasonKeyUsage          Reason = "key_usage"          // wrong key for the action (AUTH key where SIGN is needed, or the reverse)
	ReasonNotIndividual     Reason = "not_individual"     // not an individual person's certificate (e.g. an organization's employee)
	ReasonIINMismatch       Reason = "iin_mismatch"       // the certificate belongs to another IIN
	ReasonRevoked           Reason = "revoked"            // the certificate was revoked
	ReasonRevocationUnknown Reason = "revocation_unknown" // revocation status could not be established (fail closed)
	ReasonSignatureInvalid  Reason = "signature_invalid"  // the signature or the digest does not match: the document was changed
)

// Message is a short English explanation of the reason for operators and the CLI. User-facing
// texts come from the kk/ru catalogues keyed by the reason.
func (r Reason) Message() string {
	switch r {
	case ReasonTooLarge:
		return "the document is too large"
	case ReasonMalformed:
		return "the document is not a well-formed signed XML document"
	case ReasonDTD:
		return "the document contains a DTD or entity declarations, which are not allowed"
	case ReasonSignatureCount:
		return "the document must contain exactly one signature"
	case ReasonSignaturePosition:
		return "the signature must be a direct child of the document's root element"
	case ReasonReference:
		return "the signature must cover the whole document (one Reference with URI=\"\")"
	case ReasonAlgorithm:
		return "the signature uses an algorithm that is not accepted"
	case ReasonGOST:
		return "the document is signed with a GOST variant this service does not accept (GOST 34.310-2004, whose NCA chain expired in 2025, or GOST 34.10-2015 256-bit); GOST 34.10-2015 512-bit and RSA keys are accepted"
	case ReasonNoCertificate:
		return "the signature must carry exactly one signer certificate"
	case ReasonBadCertificate:
		return "the signer certificate cannot be read"
	case ReasonChain:
		return "the signer certificate is not issued by a trusted NCA RK certification authority"
	case ReasonExpired:
		return "the certificate has expired"
	case ReasonNotYetValid:
		return "the certificate is not valid yet"
	case ReasonKeyUsage:
		return "the key cannot be used for this action (AUTH and SIGN keys are not interchangeable)"
	case ReasonNotIndividual:
		return "the certificate is not an individual person's certificate"
	case ReasonIINMismatch:
		return "the certificate belongs to another person (IIN does not match)"
	case ReasonRevoked:
		return "the certificate has been revoked"
	case ReasonRevocationUnknown:
		return "the revocation status of the certificate could not be checked"
	case ReasonSignatureInvalid:
		return "the signature is not valid: the document was changed after signing"
	}
	return "the signature was rejected"
}

// Error is a rejection. Reason is stable; Detail is for operators and never contains the
// signed XML or an IIN. Signer is set when the signer certificate could be parsed, so that a
// caller can still say whose certificate it was (it is not proof of anything).
type Error struct {
	Reason Reason
	Detail string
	Signer *Signer
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("xmlsig: %s: %s", e.Reason, e.Reason.Message())
	}
	return fmt.Sprintf("xmlsig: %s: %s", e.Reason, e.Detail)
}

// ReasonOf returns the reason of the first *Error in err's chain, and "" if there is none
// (nil, or an internal error such as a cancelled context or a bad Policy).
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func newError(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}
