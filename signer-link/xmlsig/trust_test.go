package xmlsig_test

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

func TestLoadTrustDir(t *testing.T) {
	e := mustEnv(t)
	dir := t.TempDir()
	if err := e.ca.WriteTrustDir(dir); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// DER copy of the root under another name, a garbage .cer, an ignored .txt.
	write("root.der", e.ca.Root.Raw)
	write("garbage.cer", []byte("not a certificate"))
	write("notes.txt", []byte("ignored"))
	// A GOST certificate (a real NCA test one, from the sample corpus) parses in Go with an
	// unknown key algorithm: it must be skipped, not trusted, and not crash anything.
	if gost := gostCertDER(t); gost != nil {
		write("gost.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gost}))
	}

	ts, err := xmlsig.LoadTrustDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Roots) != 2 || len(ts.Intermediates) != 1 {
		t.Fatalf("roots %d intermediates %d", len(ts.Roots), len(ts.Intermediates))
	}
	if len(ts.Skipped) < 1 {
		t.Fatalf("skipped %v", ts.Skipped)
	}
	for _, s := range ts.Skipped {
		t.Logf("skipped %s: %v", s.File, s.Err)
	}
	v, err := xmlsig.NewVerifier(ts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), []byte(mustSign(t, unsignedDoc, e.auth)), xmlsig.Policy{Usage: xmlsig.UsageAuth}); err != nil {
		t.Fatal(err)
	}

	t.Run("Missing", func(t *testing.T) {
		if _, err := xmlsig.LoadTrustDir(filepath.Join(dir, "nope")); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("NoRoot", func(t *testing.T) {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, "nca.pem"), e.ca.IntermediatePEM(), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := xmlsig.LoadTrustDir(d); err == nil || !strings.Contains(err.Error(), "no self-signed root") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("Samples", func(t *testing.T) {
		ts, err := xmlsig.LoadTrustDir(filepath.Join(testenv.NCALayerSamples(t), "trust"))
		if err != nil {
			t.Fatal(err)
		}
		if len(ts.Roots) != 2 || len(ts.Intermediates) != 2 || len(ts.Skipped) != 0 {
			t.Fatalf("roots %d intermediates %d skipped %d", len(ts.Roots), len(ts.Intermediates), len(ts.Skipped))
		}
	})
}

// gostCertDER returns the GOST signer certificate of a sample, or nil if the corpus is absent.
func gostCertDER(t *testing.T) []byte {
	t.Helper()
	wd, _ := os.Getwd()
	for dir := wd; filepath.Dir(dir) != dir; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "..", "shared", "testdata", "ncalayer-samples", "cases", "danikarik_org_active_gost.xml")
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		m := regexp.MustCompile(`(?s)<ds:X509Certificate>(.*?)</ds:X509Certificate>`).FindSubmatch(b)
		if m == nil {
			t.Fatal("no certificate in the GOST sample")
		}
		der, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\n", "", "\r", "", "&#13;", "").Replace(string(m[1])))
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	return nil
}

// TestVerify_GOSTCertificateWithRSAMethod: a GOST certificate under an rsa-sha256 method must
// be reported as GOST, not crash.
func TestVerify_GOSTCertificateWithRSAMethod(t *testing.T) {
	der := gostCertDER(t)
	if der == nil {
		t.Skip("NCALayer sample corpus absent")
	}
	e := mustEnv(t)
	signed := mustSign(t, unsignedDoc, e.auth)
	i := strings.Index(signed, "<ds:X509Certificate>") + len("<ds:X509Certificate>")
	j := strings.Index(signed, "</ds:X509Certificate>")
	doc := signed[:i] + base64.StdEncoding.EncodeToString(der) + signed[j:]
	_, err := e.verifier.Verify(context.Background(), []byte(doc), xmlsig.Policy{Usage: xmlsig.UsageAuth})
	if xmlsig.ReasonOf(err) != xmlsig.ReasonGOST {
		t.Fatalf("got %v", err)
	}
}

func TestCRLChecker(t *testing.T) {
	ca, err := xmlsigtest.NewCA()
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
	staleCRL, err := ca.CRL(now.Add(-72*time.Hour), now.Add(-48*time.Hour), now.Add(-72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := xmlsigtest.NewCAWithOptions(xmlsigtest.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Signed by a CA with the same names but another key: must be ignored.
	forgedCRL, err := otherCA.CRL(now.Add(-time.Hour), now.Add(24*time.Hour), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	load := func(t *testing.T, files map[string][]byte) *xmlsig.CRLChecker {
		t.Helper()
		dir := t.TempDir()
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		c, err := xmlsig.LoadCRLDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	pemCRL := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl})
	tests := []struct {
		name   string
		files  map[string][]byte
		person *xmlsigtest.Person
		want   xmlsig.Reason
	}{
		{"Revoked", map[string][]byte{"nca.crl": crl}, revoked, xmlsig.ReasonRevoked},
		{"RevokedPEM", map[string][]byte{"nca.pem": pemCRL}, revoked, xmlsig.ReasonRevoked},
		{"Good", map[string][]byte{"nca.crl": crl}, good, ""},
		{"StaleOnly", map[string][]byte{"old.crl": staleCRL}, good, xmlsig.ReasonRevocationUnknown},
		{"NoCRL", map[string][]byte{}, good, xmlsig.ReasonRevocationUnknown},
		{"ForgedCRLIgnored", map[string][]byte{"forged.crl": forgedCRL}, good, xmlsig.ReasonRevocationUnknown},
		{"ForgedAndReal", map[string][]byte{"forged.crl": forgedCRL, "nca.crl": crl}, good, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ca.Verifier(xmlsig.WithRevocation(load(t, tt.files)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), []byte(mustSign(t, unsignedDoc, tt.person)), xmlsig.Policy{Usage: xmlsig.UsageAuth})
			if got := xmlsig.ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q: %v", got, tt.want, err)
			}
		})
	}
	t.Run("RevokedAfterSigningTime", func(t *testing.T) {
		v, err := ca.Verifier(xmlsig.WithRevocation(xmlsig.NewCRLChecker(mustParseCRL(t, crl))))
		if err != nil {
			t.Fatal(err)
		}
		// Revoked 30 minutes ago. 45 minutes ago the CRL (thisUpdate an hour ago) already
		// covered the time and the certificate was still good.
		_, err = v.Verify(context.Background(), []byte(mustSign(t, unsignedDoc, revoked)),
			xmlsig.Policy{Usage: xmlsig.UsageAuth, At: now.Add(-45 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("BadFile", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "bad.crl"), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := xmlsig.LoadCRLDir(dir); err == nil {
			t.Fatal("no error")
		}
	})
}
