package xmlsig_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// gostEnv is the GOST test CA and the RSA one, a verifier trusting both (as a real trust
// directory holds both), and a GOST AUTH and SIGN person.
type gostEnv struct {
	rsa, gost  *xmlsigtest.CA
	verifier   *xmlsig.Verifier
	auth, sign *xmlsigtest.Person
}

func mustGOSTEnv(tb testing.TB, opts ...xmlsig.Option) *gostEnv {
	tb.Helper()
	rsaCA, err := xmlsigtest.NewCA()
	if err != nil {
		tb.Fatal(err)
	}
	gostCA, err := xmlsigtest.NewGOSTCA()
	if err != nil {
		tb.Fatal(err)
	}
	v, err := xmlsig.NewVerifier(xmlsigtest.TrustStoreOf(rsaCA, gostCA), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return &gostEnv{
		rsa: rsaCA, gost: gostCA, verifier: v,
		auth: mustIssue(tb, gostCA, xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth}),
		sign: mustIssue(tb, gostCA, xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign}),
	}
}

func TestVerifyGOST_OK(t *testing.T) {
	e := mustGOSTEnv(t)
	want, err := xmlsig.Canonicalize([]byte(unsignedDoc))
	if err != nil {
		t.Fatal(err)
	}
	rsaPerson := mustIssue(t, e.rsa, xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign})
	for _, tt := range []struct {
		name    string
		person  *xmlsigtest.Person
		policy  xmlsig.Policy
		usage   xmlsig.Usage
		alg     xmlsig.Algorithm
		issuers string
	}{
		{"AUTH", e.auth, xmlsig.Policy{Usage: xmlsig.UsageAuth, IIN: xmlsigtest.DefaultIIN}, xmlsig.UsageAuth, xmlsig.AlgorithmGOST2015_512, xmlsigtest.GOSTIntermediateCN},
		{"SIGN", e.sign, xmlsig.Policy{Usage: xmlsig.UsageSign, IIN: xmlsigtest.DefaultIIN}, xmlsig.UsageSign, xmlsig.AlgorithmGOST2015_512, xmlsigtest.GOSTIntermediateCN},
		{"AnySIGN", e.sign, xmlsig.Policy{Usage: xmlsig.UsageAny}, xmlsig.UsageSign, xmlsig.AlgorithmGOST2015_512, xmlsigtest.GOSTIntermediateCN},
		{"RSASameVerifier", rsaPerson, xmlsig.Policy{Usage: xmlsig.UsageSign}, xmlsig.UsageSign, xmlsig.AlgorithmRSA, xmlsigtest.IntermediateCN},
	} {
		t.Run(tt.name, func(t *testing.T) {
			signed := mustSign(t, unsignedDoc, tt.person)
			// Twice: the second time the leaf's chain comes from the cache.
			for range 2 {
				res, err := e.verifier.Verify(context.Background(), []byte(signed), tt.policy)
				if err != nil {
					t.Fatal(err)
				}
				if res.Algorithm != tt.alg || res.Usage != tt.usage || res.IIN != xmlsigtest.DefaultIIN {
					t.Fatalf("alg %s usage %s iin %q", res.Algorithm, res.Usage, res.IIN)
				}
				if !bytes.Equal(res.Canonical, want) || res.SignedElement.FindElement("action").Text() != "bind" {
					t.Fatalf("canonical %s", res.Canonical)
				}
				if len(res.Chain) != 3 || !strings.Contains(res.Issuer, tt.issuers) {
					t.Fatalf("chain %d issuer %q", len(res.Chain), res.Issuer)
				}
			}
		})
	}
}

func TestVerifyGOST_Rejections(t *testing.T) {
	e := mustGOSTEnv(t)
	signed := mustSign(t, unsignedDoc, e.auth)
	rsaSigned := mustSign(t, unsignedDoc, mustIssue(t, e.rsa, xmlsigtest.PersonOptions{}))
	rep := func(old, new string) string { return strings.Replace(signed, old, new, 1) }
	certOf := func(s string) string {
		i := strings.Index(s, "<ds:X509Certificate>")
		j := strings.Index(s, "</ds:X509Certificate>")
		return s[i:j]
	}
	sigValue := func(s string) string {
		i := strings.Index(s, "<ds:SignatureValue>") + len("<ds:SignatureValue>")
		j := strings.Index(s, "</ds:SignatureValue>")
		return s[i:j]
	}
	sv, _ := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(sigValue(signed)), ""))
	reversed := make([]byte, len(sv))
	for i := range sv {
		reversed[i] = sv[len(sv)-1-i]
	}
	swapped := append(append([]byte(nil), sv[64:]...), sv[:64]...)
	tests := []struct {
		name, doc string
		want      xmlsig.Reason
	}{
		{"Tampered", rep("<action>bind</action>", "<action>revoke</action>"), xmlsig.ReasonSignatureInvalid},
		{"CommentAdded", rep("<action>bind</action>", "<action>bind</action><!-- x -->"), xmlsig.ReasonSignatureInvalid},
		{"DigestChanged", rep("<ds:DigestValue>", "<ds:DigestValue>AAAA"), xmlsig.ReasonMalformed},
		{"RFCByteOrder", rep(sigValue(signed), base64.StdEncoding.EncodeToString(reversed)), xmlsig.ReasonSignatureInvalid},
		{"SThenR", rep(sigValue(signed), base64.StdEncoding.EncodeToString(swapped)), xmlsig.ReasonSignatureInvalid},
		{"ShortSignature", rep(sigValue(signed), base64.StdEncoding.EncodeToString(sv[:64])), xmlsig.ReasonSignatureInvalid},
		{"RSACertUnderGOSTMethod", strings.Replace(signed, certOf(signed), certOf(rsaSigned), 1), xmlsig.ReasonAlgorithm},
		{"GOSTCertUnderRSAMethod", strings.Replace(rsaSigned, certOf(rsaSigned), certOf(signed), 1), xmlsig.ReasonAlgorithm},
		{"RSAMethodOnGOSTSignature", strings.NewReplacer(
			"urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
		).Replace(signed), xmlsig.ReasonAlgorithm},
		{"GOST256Method", strings.NewReplacer(
			"gostr34102015-gostr34112015-512", "gostr34102015-gostr34112015-256", "gostr34112015-512", "gostr34112015-256",
		).Replace(signed), xmlsig.ReasonGOST},
		{"TwoSignatures", rep("</kezekbot>", signatureOf(t, signed)+"</kezekbot>"), xmlsig.ReasonSignatureCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.verifier.Verify(context.Background(), []byte(tt.doc), xmlsig.Policy{Usage: xmlsig.UsageAuth})
			if got := xmlsig.ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q: %v", got, tt.want, err)
			}
			if tt.want == xmlsig.ReasonGOST && !strings.Contains(err.Error(), "256-bit") {
				t.Fatalf("the refusal must say what is refused: %v", err)
			}
		})
	}
}

func TestVerifyGOST_Certificates(t *testing.T) {
	e := mustGOSTEnv(t)
	now := time.Now()
	untrusted, err := xmlsigtest.NewGOSTCAWithOptions(xmlsigtest.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := xmlsigtest.NewGOSTCAWithOptions(xmlsigtest.CAOptions{RootCN: xmlsigtest.GOSTRootCN, IntermediateCN: xmlsigtest.GOSTIntermediateCN})
	if err != nil {
		t.Fatal(err)
	}
	expiredCA, err := xmlsigtest.NewGOSTCAWithOptions(xmlsigtest.CAOptions{
		RootCN: "expired root", IntermediateCN: "expired nca",
		NotBefore: now.AddDate(-5, 0, 0), IntermediateNotBefore: now.AddDate(-5, 0, 0), IntermediateNotAfter: now.AddDate(0, 0, -1),
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := xmlsig.NewVerifier(xmlsigtest.TrustStoreOf(e.gost, expiredCA))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		ca     *xmlsigtest.CA
		opts   xmlsigtest.PersonOptions
		policy xmlsig.Policy
		want   xmlsig.Reason
	}{
		{"Expired", e.gost, xmlsigtest.PersonOptions{NotBefore: now.AddDate(-2, 0, 0), NotAfter: now.AddDate(-1, 0, 0)}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonExpired},
		{"NotYetValid", e.gost, xmlsigtest.PersonOptions{NotBefore: now.Add(time.Hour), NotAfter: now.AddDate(1, 0, 0)}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonNotYetValid},
		{"ValidThenButNotAt", e.gost, xmlsigtest.PersonOptions{}, xmlsig.Policy{Usage: xmlsig.UsageAuth, At: now.AddDate(2, 0, 0)}, xmlsig.ReasonExpired},
		{"AuthKeyForSign", e.gost, xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth}, xmlsig.Policy{Usage: xmlsig.UsageSign}, xmlsig.ReasonKeyUsage},
		{"SignKeyForAuth", e.gost, xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonKeyUsage},
		{"WrongEKU", e.gost, xmlsigtest.PersonOptions{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, xmlsig.Policy{Usage: xmlsig.UsageAny}, xmlsig.ReasonKeyUsage},
		{"OtherIIN", e.gost, xmlsigtest.PersonOptions{IIN: "880102400776"}, xmlsig.Policy{Usage: xmlsig.UsageAuth, IIN: xmlsigtest.DefaultIIN}, xmlsig.ReasonIINMismatch},
		{"Organization", e.gost, xmlsigtest.PersonOptions{Organization: true}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonNotIndividual},
		{"UntrustedCA", untrusted, xmlsigtest.PersonOptions{}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonChain},
		{"ForgedCAWithSameNames", forged, xmlsigtest.PersonOptions{}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonChain},
		{"ExpiredIntermediate", expiredCA, xmlsigtest.PersonOptions{NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(1, 0, 0)}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonExpired},
		{"IntermediateValidAtSigningTime", expiredCA, xmlsigtest.PersonOptions{NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(1, 0, 0)}, xmlsig.Policy{Usage: xmlsig.UsageAuth, At: now.AddDate(0, -1, 0)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustIssue(t, tt.ca, tt.opts)
			_, err := v.Verify(context.Background(), []byte(mustSign(t, unsignedDoc, p)), tt.policy)
			if got := xmlsig.ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q: %v", got, tt.want, err)
			}
			if tt.want != "" {
				var xe *xmlsig.Error
				if !errors.As(err, &xe) || xe.Signer == nil || xe.Signer.Serial != p.Cert.SerialNumber.Text(16) {
					t.Fatalf("rejection does not describe the signer certificate: %#v", xe)
				}
			}
		})
	}
}

// TestVerifyGOST_CRL: NCA's GOST CAs sign their CRLs with GOST; such a CRL is used only if
// its GOST signature verifies with the issuing CA's key.
func TestVerifyGOST_CRL(t *testing.T) {
	ca, err := xmlsigtest.NewGOSTCA()
	if err != nil {
		t.Fatal(err)
	}
	forged, err := xmlsigtest.NewGOSTCAWithOptions(xmlsigtest.CAOptions{RootCN: xmlsigtest.GOSTRootCN, IntermediateCN: xmlsigtest.GOSTIntermediateCN})
	if err != nil {
		t.Fatal(err)
	}
	revoked := mustIssue(t, ca, xmlsigtest.PersonOptions{})
	good := mustIssue(t, ca, xmlsigtest.PersonOptions{})
	now := time.Now()
	crl, err := ca.CRL(now.Add(-time.Hour), now.Add(24*time.Hour), now.Add(-30*time.Minute), revoked)
	if err != nil {
		t.Fatal(err)
	}
	forgedCRL, err := forged.CRL(now.Add(-time.Hour), now.Add(24*time.Hour), now.Add(-30*time.Minute), good)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		crls   [][]byte
		person *xmlsigtest.Person
		want   xmlsig.Reason
	}{
		{"Revoked", [][]byte{crl}, revoked, xmlsig.ReasonRevoked},
		{"Good", [][]byte{crl}, good, ""},
		{"ForgedCRLIgnored", [][]byte{forgedCRL}, good, xmlsig.ReasonRevocationUnknown},
		{"ForgedCannotRevoke", [][]byte{forgedCRL, crl}, good, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, b := range tt.crls {
				if err := os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".crl"), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, err := xmlsig.LoadCRLDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			v, err := ca.Verifier(xmlsig.WithRevocation(c))
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), []byte(mustSign(t, unsignedDoc, tt.person)), xmlsig.Policy{Usage: xmlsig.UsageAuth})
			if got := xmlsig.ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q: %v", got, tt.want, err)
			}
		})
	}
}

// TestLoadTrustDirGOST: a directory with GOST CAs only loads; RSA and GOST side by side load
// both and verify both.
func TestLoadTrustDirGOST(t *testing.T) {
	e := mustGOSTEnv(t)
	only := t.TempDir()
	if err := e.gost.WriteTrustDir(only); err != nil {
		t.Fatal(err)
	}
	ts, err := xmlsig.LoadTrustDir(only)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Roots) != 1 || len(ts.Intermediates) != 1 || len(ts.Skipped) != 0 {
		t.Fatalf("roots %d intermediates %d skipped %v", len(ts.Roots), len(ts.Intermediates), ts.Skipped)
	}
	both := t.TempDir()
	if err := e.gost.WriteTrustDir(both); err != nil {
		t.Fatal(err)
	}
	if err := e.rsa.WriteTrustDir(both); err != nil {
		t.Fatal(err)
	}
	ts, err = xmlsig.LoadTrustDir(both)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Roots) != 2 || len(ts.Intermediates) != 2 || len(ts.Skipped) != 0 {
		t.Fatalf("roots %d intermediates %d skipped %v", len(ts.Roots), len(ts.Intermediates), ts.Skipped)
	}
	v, err := xmlsig.NewVerifier(ts)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*xmlsigtest.Person{e.auth, mustIssue(t, e.rsa, xmlsigtest.PersonOptions{})} {
		if _, err := v.Verify(context.Background(), []byte(mustSign(t, unsignedDoc, p)), xmlsig.Policy{Usage: xmlsig.UsageAuth}); err != nil {
			t.Fatalf("%s: %v", p.Algorithm(), err)
		}
	}
	// A GOST-only store refuses RSA signatures as untrusted, not as broken.
	ts, _ = xmlsig.LoadTrustDir(only)
	v, err = xmlsig.NewVerifier(ts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), []byte(mustSign(t, unsignedDoc, mustIssue(t, e.rsa, xmlsigtest.PersonOptions{}))), xmlsig.Policy{Usage: xmlsig.UsageAuth})
	if xmlsig.ReasonOf(err) != xmlsig.ReasonChain {
		t.Fatalf("RSA under GOST-only trust: %v", err)
	}
}

// FuzzVerifyGOST: like FuzzVerify, seeded with GOST documents.
func FuzzVerifyGOST(f *testing.F) {
	e := mustGOSTEnv(f)
	signed := mustSign(f, unsignedDoc, e.auth)
	f.Add([]byte(signed))
	f.Add([]byte(mustSign(f, unsignedDoc, e.sign)))
	f.Add([]byte(strings.Replace(signed, "bind", "revoke", 1)))
	f.Add([]byte(strings.ReplaceAll(signed, "\n", "&#13;\n")))
	f.Fuzz(func(t *testing.T, doc []byte) {
		res, err := e.verifier.Verify(context.Background(), doc, xmlsig.Policy{Usage: xmlsig.UsageAny})
		if err == nil && (res == nil || res.SignedElement == nil || len(res.Canonical) == 0 || res.IIN == "" || res.Algorithm == "") {
			t.Fatalf("accepted with an incomplete result: %+v", res)
		}
		if err != nil && xmlsig.ReasonOf(err) == "" {
			t.Fatalf("internal error for input: %v", err)
		}
	})
}

// BenchmarkVerifyGOST: the whole check of a ~2 KiB GOST-signed revoke document (parse,
// structure, chain — cached per leaf certificate after the first call — Streebog-512 of the
// document and of SignedInfo, one GOST verification). Run with -cpu 1 for the one-core rate.
func BenchmarkVerifyGOST(b *testing.B) {
	e := mustGOSTEnv(b)
	doc := strings.Replace(unsignedDoc, "<action>bind</action>", "<action>revoke</action><application>1234567</application><referral>7654321</referral><reason>"+strings.Repeat("Отказ от направления. ", 10)+"</reason>", 1)
	signed := []byte(mustSign(b, doc, e.sign))
	p := xmlsig.Policy{Usage: xmlsig.UsageSign, IIN: xmlsigtest.DefaultIIN}
	ctx := context.Background()
	if _, err := e.verifier.Verify(ctx, signed, p); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	start, cpu := time.Now(), processCPU()
	for b.Loop() {
		if _, err := e.verifier.Verify(ctx, signed, p); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, start, cpu)
}

// BenchmarkVerifyGOSTNewLeaf: the same with a leaf never seen before each time (the chain's
// leaf signature is verified too: two GOST verifications).
func BenchmarkVerifyGOSTNewLeaf(b *testing.B) {
	e := mustGOSTEnv(b)
	const n = 64
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = []byte(mustSign(b, unsignedDoc, mustIssue(b, e.gost, xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign})))
	}
	p := xmlsig.Policy{Usage: xmlsig.UsageSign}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	start, cpu := time.Now(), processCPU()
	for b.Loop() {
		// A fresh verifier every n documents empties the cache.
		if i%n == 0 {
			b.StopTimer()
			v, err := xmlsig.NewVerifier(xmlsigtest.TrustStoreOf(e.gost))
			if err != nil {
				b.Fatal(err)
			}
			e.verifier = v
			b.StartTimer()
		}
		if _, err := e.verifier.Verify(ctx, docs[i%n], p); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRates(b, start, cpu)
}
