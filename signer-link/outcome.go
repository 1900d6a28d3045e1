package signerlink

import (
	"errors"
	"net/http"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

// outcome is how the page answers one result: the HTTP status, the text, and what the parent
// can do next.
type outcome struct {
	Status int
	Key    string // text key; key_usage picks the action's variant
	// Retry: the link is still alive and another attempt (another key, NCALayer restarted)
	// may succeed.
	Retry bool
	// Back is the closing advice: back to the bot, which was told ("page.back"), or ask the
	// bot for a new link ("page.back.dead"); none while the parent can retry here.
	Back string
}

const (
	told = "page.back"
	dead = "page.back.dead"
)

// outcomes is the one table from every result to a status and a message. A reason missing
// here is answered as "internal" (TestOutcomesComplete checks every xmlsig reason is here).
var outcomes = map[string]outcome{
	"ok": {http.StatusOK, "", false, told},

	// The link itself.
	"link_forged":  {http.StatusBadRequest, "err.forged", false, dead},
	"link_expired": {http.StatusGone, "err.expired", false, dead},
	"link_used":    {http.StatusNotFound, "err.used", false, dead},
	"csrf":         {http.StatusForbidden, "err.csrf", false, ""},
	"too_large":    {http.StatusRequestEntityTooLarge, "err.too_large", true, ""},
	"content_type": {http.StatusUnsupportedMediaType, "err.content_type", true, ""},
	"rate_limited": {http.StatusTooManyRequests, "err.rate_limited", true, ""},

	// The signature (xmlsig reasons, cert_ prefixed where the name would be ambiguous).
	"malformed":          {http.StatusBadRequest, "err.malformed", true, ""},
	"dtd":                {http.StatusBadRequest, "err.malformed", true, ""},
	"signature_count":    {http.StatusBadRequest, "err.malformed", true, ""},
	"signature_position": {http.StatusBadRequest, "err.malformed", true, ""},
	"reference":          {http.StatusBadRequest, "err.malformed", true, ""},
	"algorithm":          {http.StatusBadRequest, "err.malformed", true, ""},
	"no_certificate":     {http.StatusBadRequest, "err.malformed", true, ""},
	"bad_certificate":    {http.StatusBadRequest, "err.malformed", true, ""},
	"gost":               {http.StatusUnprocessableEntity, "err.gost", true, ""},
	"chain":              {http.StatusUnprocessableEntity, "err.chain", true, ""},
	"cert_expired":       {http.StatusUnprocessableEntity, "err.cert_expired", true, ""},
	"cert_not_yet_valid": {http.StatusUnprocessableEntity, "err.cert_not_yet_valid", true, ""},
	"key_usage":          {http.StatusUnprocessableEntity, "err.key_usage", true, ""},
	"not_individual":     {http.StatusUnprocessableEntity, "err.not_individual", true, ""},
	"iin_mismatch":       {http.StatusForbidden, "err.iin_mismatch", true, ""},
	"revoked":            {http.StatusUnprocessableEntity, "err.revoked", true, ""},
	"revocation_unknown": {http.StatusServiceUnavailable, "err.revocation_unknown", true, ""},
	"signature_invalid":  {http.StatusBadRequest, "err.signature_invalid", true, ""},
	"document_mismatch":  {http.StatusBadRequest, "err.document_mismatch", true, ""},

	// The action, after the link was consumed.
	"window_closed":   {http.StatusConflict, "err.window_closed", false, told},
	"not_active":      {http.StatusConflict, "err.not_active", false, told},
	"not_found":       {http.StatusNotFound, "err.not_found", false, told},
	"conflict":        {http.StatusConflict, "err.conflict", false, told},
	"bound_elsewhere": {http.StatusConflict, "err.bound_elsewhere", false, ""},
	"internal":        {http.StatusInternalServerError, "err.internal", false, dead},
}

// reasonOfVerify names a verification failure; errors without an xmlsig reason (a cancelled
// context, a bug) are internal.
func reasonOfVerify(err error) string {
	r := xmlsig.ReasonOf(err)
	switch r {
	case "":
		return "internal"
	case xmlsig.ReasonExpired:
		return "cert_expired"
	case xmlsig.ReasonNotYetValid:
		return "cert_not_yet_valid"
	}
	if _, ok := outcomes[string(r)]; ok {
		return string(r)
	}
	// A reason xmlsig added later: the signature was not accepted, say so plainly.
	return "signature_invalid"
}

// reasonOfAction names a failure of Bind or RevokeReferral.
func reasonOfAction(err error) (reason, code string) {
	var refusal *kezekbot.RevokeRefusal
	if errors.As(err, &refusal) {
		if refusal.Reason == kezekbot.RefusalWindowClosed {
			return "window_closed", refusal.Code()
		}
		return "not_active", refusal.Code()
	}
	if errors.Is(err, kezekbot.ErrBoundElsewhere) {
		return "bound_elsewhere", kezekbot.EFORBIDDEN
	}
	switch code := kezekbot.ErrorCode(err); code {
	case kezekbot.ENOTFOUND, kezekbot.EFORBIDDEN:
		return "not_found", code
	case kezekbot.ECONFLICT:
		return "conflict", code
	case kezekbot.EEXPIRED:
		return "window_closed", code
	default:
		return "internal", kezekbot.EINTERNAL
	}
}
