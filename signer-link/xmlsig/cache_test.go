package xmlsig_test

import (
	"context"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// TestVerify_CachedChainKeepsTime: a chain verified once is reused only at signing times at
// which every certificate in it is valid. The intermediate here expires before the signer's
// certificate does: a document checked at a time before that expiry passes (and caches the
// chain), the same document checked after it is refused as crypto/x509 would refuse it, and
// before it again passes.
func TestVerify_CachedChainKeepsTime(t *testing.T) {
	now := time.Now()
	ca, err := xmlsigtest.NewCAWithOptions(xmlsigtest.CAOptions{
		NotBefore:             now.AddDate(-5, 0, 0),
		IntermediateNotBefore: now.AddDate(-5, 0, 0),
		IntermediateNotAfter:  now.AddDate(0, 0, 10),
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := xmlsig.NewVerifier(xmlsig.NewTrustStore(ca.Root, ca.Intermediate))
	if err != nil {
		t.Fatal(err)
	}
	p := mustIssue(t, ca, xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(1, 0, 0)})
	signed := []byte(mustSign(t, unsignedDoc, p))
	ctx := context.Background()
	for i, tc := range []struct {
		at   time.Time
		want xmlsig.Reason
	}{
		{now, ""},
		{now, ""}, // from the cache
		{now.AddDate(0, 0, 20), xmlsig.ReasonExpired},
		{now.AddDate(0, 0, 5), ""},
		{now.AddDate(0, 0, 20), xmlsig.ReasonExpired},
	} {
		_, err := v.Verify(ctx, signed, xmlsig.Policy{Usage: xmlsig.UsageAuth, At: tc.at})
		if got := xmlsig.ReasonOf(err); got != tc.want {
			t.Fatalf("check %d at %s: reason %q, want %q: %v", i, tc.at.Format(time.DateOnly), got, tc.want, err)
		}
	}
	// The usage is part of what was verified: the AUTH certificate's cached chain does not
	// make it good for signing.
	if _, err := v.Verify(ctx, signed, xmlsig.Policy{Usage: xmlsig.UsageSign, At: now}); xmlsig.ReasonOf(err) != xmlsig.ReasonKeyUsage {
		t.Fatalf("AUTH certificate for signing: %v", err)
	}
}
