package signerlink

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

// acceptResult is what became of a POSTed signature.
type acceptResult struct {
	reason  string // an outcomes key
	refusal *kezekbot.RevokeRefusal
	detail  string // for the log: xmlsig's detail, never XML or an IIN
	err     error  // for the log
	// pending: the revocation was handed to the city (city mode); the page says it was sent,
	// not that it is done.
	pending bool
}

// accept verifies a signature over the link's document and, if it holds, consumes the link and
// carries out the action. The order matters:
//
//  1. verify (chain, key usage, IIN, signature) — a failure leaves the link alive, so the
//     parent can retry with the right key;
//  2. compare the signed content with the document we issued, byte for byte in C14N — a valid
//     signature over anything else proves nothing;
//  3. consume the link — of two concurrent POSTs exactly one gets past here;
//  4. act, on a context detached from the request, and tell the chat either way.
func (s *Service) accept(ctx context.Context, l link, body []byte) acceptResult {
	// The attempt limit (attempts.go) first: a link out of attempts costs no verification.
	taken, refusal := s.takeAttempt(ctx, l)
	if refusal != "" {
		return acceptResult{reason: refusal}
	}
	res := s.verifyAndAct(ctx, l, body)
	if taken && res.reason != "ok" {
		res.reason = s.endAttempt(ctx, l, res.reason)
	}
	return res
}

// verifyAndAct is accept without the attempt limit.
func (s *Service) verifyAndAct(ctx context.Context, l link, body []byte) acceptResult {
	rec := &l.rec
	now := s.now()
	policy := xmlsig.Policy{At: now}
	switch rec.Action {
	case kezekbot.ActionBind:
		policy.Usage = xmlsig.UsageAuth
	case kezekbot.ActionRevoke:
		policy.Usage = xmlsig.UsageSign
		policy.IIN = rec.IIN.Digits()
		if policy.IIN == "" {
			return acceptResult{reason: "internal", err: fmt.Errorf("revoke link without an IIN")}
		}
	default:
		return acceptResult{reason: "internal", err: fmt.Errorf("link with unknown action %q", rec.Action)}
	}

	res, err := s.verifier.Verify(ctx, body, policy)
	if err != nil {
		out := acceptResult{reason: reasonOfVerify(err)}
		if xe, ok := errors.AsType[*xmlsig.Error](err); ok {
			out.detail = xe.Detail
		} else {
			out.err = err
		}
		return out
	}
	want, err := canonicalize(rec.XML)
	if err != nil {
		return acceptResult{reason: "internal", err: fmt.Errorf("canonicalize issued document: %w", err)}
	}
	if !bytes.Equal(want, res.Canonical) {
		return acceptResult{reason: "document_mismatch"}
	}
	iin, err := kezekbot.ParseIIN(res.IIN)
	if err != nil {
		// xmlsig read 12 digits that are no person's IIN: not a certificate we can bind.
		return acceptResult{reason: "not_individual", detail: "certificate IIN fails the check digit"}
	}
	if rec.Action == kezekbot.ActionRevoke && !iin.Equal(rec.IIN) {
		return acceptResult{reason: "iin_mismatch"}
	}

	blob, err := s.links.ConsumeLink(ctx, l.nonce)
	if err != nil {
		if kezekbot.ErrorCode(err) == kezekbot.ENOTFOUND {
			return acceptResult{reason: "link_used"}
		}
		return acceptResult{reason: "internal", err: fmt.Errorf("consume link: %w", err)}
	}
	if !bytes.Equal(blob, l.blob) {
		return acceptResult{reason: "internal", err: fmt.Errorf("consumed link record differs from the one verified against")}
	}

	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actionTimeout)
	defer cancel()
	ev := kezekbot.Evidence{
		SignedXML:  body,
		IIN:        iin,
		Subject:    res.Subject,
		Serial:     res.Serial,
		Issuer:     res.Issuer,
		Algorithm:  string(res.Algorithm),
		NotBefore:  res.NotBefore,
		NotAfter:   res.NotAfter,
		VerifiedAt: now,
		Nonce:      l.nonce,
	}
	signed := flows.Signed{Action: rec.Action, Nonce: l.nonce, IIN: iin}
	out := acceptResult{reason: "ok"}
	switch rec.Action {
	case kezekbot.ActionBind:
		err = s.store.Bind(actx, rec.ChatID, string(rec.Lang), ev)
		if errors.Is(err, kezekbot.ErrBoundElsewhere) {
			s.alertBoundElsewhere(actx, rec, iin)
		}
	case kezekbot.ActionRevoke:
		signed.Result, err = s.store.RevokeReferral(actx, kezekbot.RevokeRequest{
			ChatID:        rec.ChatID,
			ApplicantIIN:  rec.IIN,
			ApplicationID: rec.AppID,
			ReferralID:    rec.RefID,
			Reason:        rec.Reason,
			Evidence:      ev,
		})
	}
	if err != nil {
		reason, code := reasonOfAction(err)
		out = acceptResult{reason: reason, err: err}
		out.refusal, _ = errors.AsType[*kezekbot.RevokeRefusal](err)
		signed.Code = code
	} else {
		signed.OK = true
		out.pending = signed.Result.Pending
	}
	if ierr := s.resumer.Inject(actx, rec.ChatID, signed); ierr != nil {
		// The action stands; the chat learns of it on its next update. Logged, not shown: the
		// page's answer is still true.
		s.log.ErrorContext(ctx, "tell the chat about a signature", "link", nonceTag(l.nonce), "err", ierr)
	}
	return out
}
