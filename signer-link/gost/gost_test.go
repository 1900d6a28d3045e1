package gost_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/signer-link/gost"
)

func readCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustKey(t testing.TB, c *x509.Certificate) *gost.PublicKey {
	t.Helper()
	k, err := gost.ParsePublicKey(c.RawSubjectPublicKeyInfo)
	if err != nil {
		t.Fatalf("%s: %v", c.Subject.CommonName, err)
	}
	return k
}

// About test vectors: RFC 7091's worked examples (and the standard's appendix) use test
// curves, not id-tc26-gost-3410-12-512-paramSetA, and this package's field arithmetic is
// specialised to paramSetA's p = 2^512 − 569, so they cannot run here. What stands in: NCA's
// real GOST 2022 CA certificates and a Kalkan XML signature (below), the curve arithmetic
// against crypto/elliptic's independent generic implementation (curve_test.go), and
// sign/verify round trips with every byte of the signature flipped (gosttest).

// TestNCACertificates: NCA's GOST 2022 CA certificates (test and production) verify: each
// root's self-signature and each intermediate under its root; not across.
func TestNCACertificates(t *testing.T) {
	dir := testenv.GOSTSamples(t)
	testRoot := readCert(t, filepath.Join(dir, "trust-test", "root_test_gost_2022.pem"))
	testNCA := readCert(t, filepath.Join(dir, "trust-test", "nca_gost2022_test.pem"))
	prodRoot := readCert(t, filepath.Join(dir, "trust-prod", "root_gost_2022.pem"))
	prodNCA := readCert(t, filepath.Join(dir, "trust-prod", "nca_gost_2022.pem"))
	for _, tc := range []struct {
		name         string
		cert, issuer *x509.Certificate
		ok           bool
	}{
		{"test root self", testRoot, testRoot, true},
		{"test nca <- test root", testNCA, testRoot, true},
		{"prod root self", prodRoot, prodRoot, true},
		{"prod nca <- prod root", prodNCA, prodRoot, true},
		{"test nca <- prod root", testNCA, prodRoot, false},
		{"prod nca <- test root", prodNCA, testRoot, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v := gost.KeyVariant(tc.cert.RawSubjectPublicKeyInfo); v != gost.GOST2015512 {
				t.Fatalf("variant %s", v)
			}
			err := gost.CheckSigned(tc.cert.Raw, mustKey(t, tc.issuer))
			if (err == nil) != tc.ok {
				t.Fatalf("CheckSigned = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// One flipped bit anywhere in the TBS breaks it.
	raw := slices.Clone(testNCA.Raw)
	raw[200] ^= 1
	if gost.CheckSigned(raw, mustKey(t, testRoot)) == nil {
		t.Fatal("tampered certificate verified")
	}
}

// TestKalkanXMLSignature: the SignedInfo signature of the skarm/kalkan sample (Kalkan C SDK)
// verifies with the recipe in the package comment, and fails with any other byte order.
func TestKalkanXMLSignature(t *testing.T) {
	dir := testenv.GOSTSamples(t)
	doc, err := os.ReadFile(filepath.Join(dir, "cases", "skarm_native_xml_sign.xml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	text := func(tag string) string {
		m := regexp.MustCompile(`(?s)<ds:` + tag + `[^>]*>(.*?)</ds:` + tag + `>`).FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("no ds:%s", tag)
		}
		return m[1]
	}
	b64 := func(v string) []byte {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cert, err := x509.ParseCertificate(b64(text("X509Certificate")))
	if err != nil {
		t.Fatal(err)
	}
	pub := mustKey(t, cert)
	sig := b64(text("SignatureValue"))
	// C14N 1.0 of SignedInfo in context: the inherited xmlns:ds is added to the element,
	// which in this document already declares nothing itself.
	si := regexp.MustCompile(`(?s)<ds:SignedInfo.*?</ds:SignedInfo>`).FindString(s)
	canon := strings.Replace(si, "<ds:SignedInfo", `<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"`, 1)
	canon = regexp.MustCompile(`<(ds:\w+)([^>]*)/>`).ReplaceAllString(canon, "<$1$2></$1>")
	if !gost.Verify(pub, []byte(canon), sig) {
		t.Fatal("Kalkan signature does not verify")
	}
	rev := slices.Clone(sig)
	slices.Reverse(rev)
	swapped := append(slices.Clone(sig[64:]), sig[:64]...)
	for name, bad := range map[string][]byte{"reversed": rev, "s‖r": swapped} {
		if gost.Verify(pub, []byte(canon), bad) {
			t.Fatalf("%s signature verified", name)
		}
	}
	if gost.Verify(pub, []byte(canon+" "), sig) {
		t.Fatal("other message verified")
	}
	// Tests of the leaf certificate under the test intermediate.
	nca := readCert(t, filepath.Join(dir, "trust-test", "nca_gost2022_test.pem"))
	if err := gost.CheckSigned(cert.Raw, mustKey(t, nca)); err != nil {
		t.Fatal(err)
	}
}

func TestParsePublicKeyRejects(t *testing.T) {
	dir := testenv.GOSTSamples(t)
	root := readCert(t, filepath.Join(dir, "trust-test", "root_test_gost_2022.pem"))
	k := mustKey(t, root)
	if got := gost.KeyVariant(root.RawSubjectPublicKeyInfo); got != gost.GOST2015512 {
		t.Fatal(got)
	}
	raw := k.Bytes()
	raw[0] ^= 1
	if _, err := gost.ParseRawPublicKey(raw); err == nil {
		t.Fatal("point off the curve accepted")
	}
	if _, err := gost.ParseRawPublicKey(raw[:127]); err == nil {
		t.Fatal("short key accepted")
	}
	der, err := gost.MarshalPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := gost.ParsePublicKey(der)
	if err != nil || !k2.Equal(k) {
		t.Fatalf("round trip: %v", err)
	}
}

// BenchmarkVerifyHash: one GOST-2015-512 verification (the certificate of the test
// intermediate under the test root).
func BenchmarkVerifyHash(b *testing.B) {
	dir := testenv.GOSTSamples(b)
	root := readCert(b, filepath.Join(dir, "trust-test", "root_test_gost_2022.pem"))
	nca := readCert(b, filepath.Join(dir, "trust-test", "nca_gost2022_test.pem"))
	k := mustKey(b, root)
	for b.Loop() {
		if err := gost.CheckSigned(nca.Raw, k); err != nil {
			b.Fatal(err)
		}
	}
}
