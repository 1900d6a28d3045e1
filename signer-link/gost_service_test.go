package signerlink_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// TestGOSTBindAndRevoke: a parent whose keys are GOST 34.10-2015 512 (NCA's one key type for
// everyone from now on) binds the chat with the AUTH key and revokes a referral with the SIGN
// key, through the same pages, checks, evidence and chat resumption as with RSA; GOST-specific
// failures leave the link usable.
func TestGOSTBindAndRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.gostParent(time.Hour)
	if p.Auth.Algorithm() != xmlsig.AlgorithmGOST2015_512 || p.Sign.GOSTKey == nil {
		t.Fatal("test parent has no GOST keys")
	}

	bind := e.issueBind(p)
	b := e.browser()
	if st := b.open(bind.URL); st != http.StatusOK {
		t.Fatalf("GET bind page → %d", st)
	}
	bindDoc := b.document()
	// The SIGN key is refused for binding, the link stays.
	wantStatus(t, b.post(e.sign(bindDoc, p.Sign)), 422, "key_usage")
	r := b.post(e.sign(bindDoc, p.Auth))
	wantStatus(t, r, http.StatusOK, "ok")
	ev := e.res.next(t)
	if s := ev.Event.(flows.Signed); !s.OK || s.Action != kezekbot.ActionBind || !s.IIN.Equal(p.IIN) {
		t.Fatalf("bind event %+v", s)
	}
	if got := e.boundIIN(p.ChatID); !got.Equal(p.IIN) {
		t.Fatalf("chat bound to %v", got)
	}

	revoke := e.issueRevoke(p, flows.Russian)
	b = e.browser()
	if st := b.open(revoke.URL); st != http.StatusOK {
		t.Fatalf("GET revoke page → %d", st)
	}
	doc := b.document()
	signed := e.sign(doc, p.Sign)
	if !strings.Contains(string(signed), "gostr34102015-gostr34112015-512") {
		t.Fatal("not a GOST signature")
	}
	// Another person's GOST key, a tampered GOST document: refused, link alive.
	stranger, err := e.gostCA.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign, IIN: e.iin().Digits()})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, b.post(e.sign(doc, stranger)), 403, "iin_mismatch")
	wantStatus(t, b.post(tamper(signed)), 400, "signature_invalid")
	e.res.none(t)

	r = b.post(signed)
	wantStatus(t, r, http.StatusOK, "ok")
	ev = e.res.next(t)
	s := ev.Event.(flows.Signed)
	if !s.OK || s.Action != kezekbot.ActionRevoke || s.Result.Referral.State != kezekbot.ReferralRevoked {
		t.Fatalf("revoke event %+v", s)
	}
	if st := e.referralState(p); st != kezekbot.ReferralRevoked {
		t.Fatalf("referral is %s", st)
	}
	wantStatus(t, b.post(signed), http.StatusNotFound, "link_used")
}
