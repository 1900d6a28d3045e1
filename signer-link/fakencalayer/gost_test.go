package fakencalayer_test

import (
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/signer-link/fakencalayer"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// TestSignGOST: holding GOST-2015-512 keys, the fake answers both protocols with Kalkan-style
// GOST signatures that verify, each with the key of the requested usage.
func TestSignGOST(t *testing.T) {
	ca, err := xmlsigtest.NewGOSTCA()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth})
	if err != nil {
		t.Fatal(err)
	}
	sign, err := ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ca.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	s, err := fakencalayer.Start(t.Context(), fakencalayer.Options{Auth: auth, Sign: sign})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c := dial(t, s)
	for _, tc := range []struct {
		signed string
		usage  xmlsig.Usage
	}{
		{basicsResult(t, c.call(basics(fakencalayer.EKUAuth))), xmlsig.UsageAuth},
		{basicsResult(t, c.call(basics(fakencalayer.EKUSign))), xmlsig.UsageSign},
		{c.call(legacy("SIGNATURE"))["responseObject"].(string), xmlsig.UsageSign},
	} {
		if !strings.Contains(tc.signed, "gostr34102015-gostr34112015-512") {
			t.Fatalf("not a GOST signature: %s", tc.signed)
		}
		verify(t, v, tc.signed, tc.usage)
		res, err := v.Verify(t.Context(), []byte(tc.signed), xmlsig.Policy{Usage: tc.usage})
		if err != nil || res.Algorithm != xmlsig.AlgorithmGOST2015_512 {
			t.Fatalf("algorithm: %v, %v", res, err)
		}
	}
}
