package xmlsig_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

// sampleReason is why an invalid row of the corpus must be rejected (README.md of the corpus,
// "Rows"). Rows it does not know only have to be rejected.
func sampleReason(r sampleRow) xmlsig.Reason {
	name := filepath.Base(r.file)
	switch {
	case strings.Contains(name, "two_signers"):
		return xmlsig.ReasonSignatureCount
	case strings.HasSuffix(name, "_gost.xml"):
		return xmlsig.ReasonGOST
	case strings.Contains(name, "_org_") || strings.Contains(name, "corporate"):
		return xmlsig.ReasonNotIndividual // checked before the signature, so also for _tampered
	case strings.Contains(name, "_tampered"):
		return xmlsig.ReasonSignatureInvalid
	case r.iin == "880102400776":
		return xmlsig.ReasonIINMismatch
	case filepath.Base(r.trustDir) == "trust-test":
		return xmlsig.ReasonChain
	case (strings.HasSuffix(name, "_auth.xml") && r.usage == xmlsig.UsageSign) ||
		(strings.HasSuffix(name, "_sign.xml") && r.usage == xmlsig.UsageAuth):
		return xmlsig.ReasonKeyUsage
	case r.raw[3] == "2020-12-01T00:00:00Z":
		return xmlsig.ReasonNotYetValid
	case r.raw[3] == "2022-06-01T00:00:00Z" || r.raw[3] == "2025-08-01T00:00:00Z" || r.raw[3] == "2024-05-04T09:00:00Z":
		return xmlsig.ReasonExpired
	}
	return ""
}

// TestSamples checks every row of the real NCALayer/Kalkan corpus the way verify-xml does:
// LoadTrustDir(trustdir), NewVerifier, Verify with the row's usage, IIN and time.
func TestSamples(t *testing.T) {
	_, rows := readSamples(t)
	verifiers := map[string]*xmlsig.Verifier{}
	for _, r := range rows {
		name := fmt.Sprintf("%d_%s_%s_%s_%s", r.line, strings.TrimSuffix(filepath.Base(r.file), ".xml"), r.raw[1], r.raw[3][:10], filepath.Base(r.trustDir))
		t.Run(name, func(t *testing.T) {
			v, ok := verifiers[r.trustDir]
			if !ok {
				ts, err := xmlsig.LoadTrustDir(r.trustDir)
				if err != nil {
					t.Fatal(err)
				}
				if v, err = xmlsig.NewVerifier(ts); err != nil {
					t.Fatal(err)
				}
				verifiers[r.trustDir] = v
			}
			doc, err := os.ReadFile(r.file)
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(context.Background(), doc, xmlsig.Policy{Usage: r.usage, IIN: r.iin, At: r.at})
			if r.valid {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if res.IIN != "123456789011" || res.SignedElement == nil || len(res.Canonical) == 0 || res.Usage != r.usage {
					t.Fatalf("incomplete result: iin=%q usage=%s canonical=%d bytes", res.IIN, res.Usage, len(res.Canonical))
				}
				return
			}
			if err == nil {
				t.Fatalf("want invalid, got valid (%s)", res.Subject)
			}
			got := xmlsig.ReasonOf(err)
			if got == "" {
				t.Fatalf("want a rejection, got internal error %v", err)
			}
			if want := sampleReason(r); want != "" && got != want {
				t.Fatalf("reason %s, want %s (%v)", got, want, err)
			}
			t.Logf("rejected: %v", err)
		})
	}
}

// TestSamplesCanonical checks that Result.Canonical of a real sample is its signed content.
func TestSamplesCanonical(t *testing.T) {
	dir := testenv.NCALayerSamples(t)
	ts, err := xmlsig.LoadTrustDir(filepath.Join(dir, "trust"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := xmlsig.NewVerifier(ts)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(dir, "cases", "ncanode_xmlservicetest_sign.xml"))
	if err != nil {
		t.Fatal(err)
	}
	at := mustTime(t, "2021-06-01T00:00:00Z")
	res, err := v.Verify(context.Background(), doc, xmlsig.Policy{Usage: xmlsig.UsageSign, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(res.Canonical), "<a><b>test</b></a>"; got != want {
		t.Fatalf("canonical %q, want %q", got, want)
	}
	want, err := xmlsig.Canonicalize([]byte(`<?xml version="1.0" encoding="UTF-8"?><a><b>test</b></a>`))
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(res.Canonical) {
		t.Fatalf("Canonicalize(issued) = %q, Result.Canonical = %q", want, res.Canonical)
	}
}

// gostSampleReason is why an invalid row of the GOST corpus must be rejected (its README,
// "What the oracle said").
func gostSampleReason(r sampleRow) xmlsig.Reason {
	name := filepath.Base(r.file)
	switch {
	case strings.Contains(name, "two_signers"):
		return xmlsig.ReasonSignatureCount
	case strings.Contains(name, "gost2004"):
		return xmlsig.ReasonGOST
	case strings.Contains(name, "_tampered"), strings.Contains(name, "_sigbit"):
		return xmlsig.ReasonSignatureInvalid
	case filepath.Base(r.trustDir) == "trust-prod":
		return xmlsig.ReasonChain
	case r.iin == "880102400776":
		return xmlsig.ReasonIINMismatch
	case r.usage == xmlsig.UsageAuth:
		return xmlsig.ReasonKeyUsage
	case r.raw[3] == "2024-12-01T00:00:00Z":
		return xmlsig.ReasonExpired
	case r.raw[3] == "2023-11-01T00:00:00Z":
		return xmlsig.ReasonNotYetValid
	}
	return ""
}

// TestGOSTSamples checks every row of the real Kalkan GOST corpus like TestSamples: the trust
// directories hold GOST certificates only, and every rejection has its expected reason.
func TestGOSTSamples(t *testing.T) {
	_, rows := readSampleDir(t, testenv.GOSTSamples(t))
	verifiers := map[string]*xmlsig.Verifier{}
	for _, r := range rows {
		name := fmt.Sprintf("%d_%s_%s_%s_%s", r.line, strings.TrimSuffix(filepath.Base(r.file), ".xml"), r.raw[1], r.raw[3][:10], filepath.Base(r.trustDir))
		t.Run(name, func(t *testing.T) {
			v, ok := verifiers[r.trustDir]
			if !ok {
				ts, err := xmlsig.LoadTrustDir(r.trustDir)
				if err != nil {
					t.Fatal(err)
				}
				if len(ts.Roots) != 1 || len(ts.Intermediates) != 1 || len(ts.Skipped) != 0 {
					t.Fatalf("trust: roots %d intermediates %d skipped %v", len(ts.Roots), len(ts.Intermediates), ts.Skipped)
				}
				if v, err = xmlsig.NewVerifier(ts); err != nil {
					t.Fatal(err)
				}
				verifiers[r.trustDir] = v
			}
			doc, err := os.ReadFile(r.file)
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(context.Background(), doc, xmlsig.Policy{Usage: r.usage, IIN: r.iin, At: r.at})
			if r.valid {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if res.IIN != "123456789011" || res.Algorithm != xmlsig.AlgorithmGOST2015_512 || res.Usage != xmlsig.UsageSign || len(res.Chain) != 3 {
					t.Fatalf("result: iin=%q alg=%s usage=%s chain=%d", res.IIN, res.Algorithm, res.Usage, len(res.Chain))
				}
				if got, want := string(res.Canonical), "<root><value>native XML interoperability</value></root>"; got != want {
					t.Fatalf("canonical %q, want %q", got, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("want invalid, got valid (%s)", res.Subject)
			}
			if got, want := xmlsig.ReasonOf(err), gostSampleReason(r); got != want {
				t.Fatalf("reason %s, want %s (%v)", got, want, err)
			}
			if xmlsig.ReasonOf(err) == xmlsig.ReasonGOST && !strings.Contains(err.Error(), "GOST 34.310-2004") {
				t.Fatalf("GOST-2004 refusal does not say so: %v", err)
			}
			t.Logf("rejected: %v", err)
		})
	}
}
