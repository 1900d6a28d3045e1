package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// runVerifyXMLForTest runs the command and decodes its one JSON object.
func runVerifyXMLForTest(t *testing.T, args ...string) (int, map[string]any, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runVerifyXML(context.Background(), args, &stdout, &stderr)
	if code == 2 {
		if stdout.Len() != 0 {
			t.Errorf("usage error printed to stdout: %q", stdout.String())
		}
		return code, nil, stderr.String()
	}
	dec := json.NewDecoder(&stdout)
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("stdout is not JSON: %v: %q", err, stdout.String())
	}
	if dec.More() {
		t.Fatalf("stdout has more than one JSON object: %q", stdout.String())
	}
	return code, out, stderr.String()
}

// TestVerifyXMLSamples: verify-xml decides every row of both real corpora, the NCALayer
// (RSA) one and the Kalkan GOST one.
func TestVerifyXMLSamples(t *testing.T) {
	t.Run("ncalayer", func(t *testing.T) { verifyXMLCorpus(t, testenv.NCALayerSamples(t), "rsa") })
	t.Run("gost", func(t *testing.T) { verifyXMLCorpus(t, testenv.GOSTSamples(t), "gost2015-512") })
}

func verifyXMLCorpus(t *testing.T, dir, alg string) {
	f, err := os.Open(filepath.Join(dir, "expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	rows := 0
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 6 {
			t.Fatalf("expected.tsv:%d: want 6 columns, got %d", n, len(c))
		}
		rows++
		file, usage, iin, at, expect, trust := c[0], c[1], c[2], c[3], c[4], c[5]
		t.Run(strings.Join([]string{c[0], usage, at[:10], trust}, "_"), func(t *testing.T) {
			args := []string{"--trust", filepath.Join(dir, trust), "--at", at, "--usage", usage}
			if iin != "-" {
				args = append(args, "--iin", iin)
			}
			args = append(args, filepath.Join(dir, "cases", file))
			code, out, stderr := runVerifyXMLForTest(t, args...)
			want := map[string]int{"0": 0, "1": 1}[expect]
			if code != want {
				t.Fatalf("exit %d, want %d; output %v; stderr %q", code, want, out, stderr)
			}
			if out["valid"] != (want == 0) {
				t.Fatalf("valid=%v with exit %d", out["valid"], code)
			}
			if want == 0 {
				if out["iin"] != "123456789011" || out["usage"] != usage || out["serial"] == "" || out["not_after"] == "" || out["algorithm"] != alg {
					t.Fatalf("output %v", out)
				}
				if _, ok := out["error"]; ok {
					t.Fatalf("error on a valid row: %v", out)
				}
				return
			}
			if out["reason"] == "" || out["error"] == "" || out["reason"] == "internal" {
				t.Fatalf("invalid without a reason: %v", out)
			}
			// The certificate can be parsed in every sample (GOST ones are refused by
			// algorithm before the certificate is read).
			if !strings.Contains(file, "gost") && !strings.Contains(file, "two_signers") && out["subject"] == nil {
				t.Fatalf("no certificate fields: %v", out)
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if rows == 0 {
		t.Fatal("expected.tsv has no rows")
	}
}

func TestVerifyXMLTestCA(t *testing.T) {
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	trust := t.TempDir()
	if err := ca.WriteTrustDir(trust); err != nil {
		t.Fatal(err)
	}
	p, err := ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := xmlsigtest.Sign([]byte(`<kezekbot><action>revoke</action></kezekbot>`), p)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "signed.xml")
	if err := os.WriteFile(file, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), "tampered.xml")
	if err := os.WriteFile(tampered, bytes.Replace(signed, []byte("revoke"), []byte("rev0ke"), 1), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("AnyUsage", func(t *testing.T) {
		code, out, _ := runVerifyXMLForTest(t, "--trust", trust, file)
		if code != 0 || out["usage"] != "sign" || out["iin"] != xmlsigtest.DefaultIIN {
			t.Fatalf("exit %d, %v", code, out)
		}
	})
	t.Run("FlagsAfterFile", func(t *testing.T) {
		code, out, _ := runVerifyXMLForTest(t, file, "--trust", trust, "--usage", "sign", "--iin", xmlsigtest.DefaultIIN)
		if code != 0 {
			t.Fatalf("exit %d, %v", code, out)
		}
	})
	t.Run("WrongUsage", func(t *testing.T) {
		code, out, _ := runVerifyXMLForTest(t, "--trust", trust, "--usage", "auth", file)
		if code != 1 || out["reason"] != "key_usage" || out["usage"] != "auth" || out["iin"] != xmlsigtest.DefaultIIN {
			t.Fatalf("exit %d, %v", code, out)
		}
	})
	t.Run("Tampered", func(t *testing.T) {
		code, out, _ := runVerifyXMLForTest(t, "--trust", trust, tampered)
		if code != 1 || out["reason"] != "signature_invalid" {
			t.Fatalf("exit %d, %v", code, out)
		}
	})
	t.Run("Help", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := runVerifyXML(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "--trust DIR") {
			t.Fatalf("exit %d, %q", code, stdout.String())
		}
	})
}

func TestVerifyXMLUsageErrors(t *testing.T) {
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	trust := t.TempDir()
	if err := ca.WriteTrustDir(trust); err != nil {
		t.Fatal(err)
	}
	emptyDir := t.TempDir()
	file := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(file, []byte("<a/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string][]string{
		"NoArgs":         {},
		"NoTrust":        {file},
		"NoFile":         {"--trust", trust},
		"TwoFiles":       {"--trust", trust, file, file},
		"UnknownFlag":    {"--trust", trust, "--frobnicate", file},
		"MissingValue":   {file, "--trust"},
		"BadAt":          {"--trust", trust, "--at", "yesterday", file},
		"BadAtNoZone":    {"--trust", trust, "--at", "2021-06-01T00:00:00", file},
		"BadUsage":       {"--trust", trust, "--usage", "login", file},
		"AnyIsNotAFlag":  {"--trust", trust, "--usage", "any", file},
		"ShortIIN":       {"--trust", trust, "--iin", "12345", file},
		"IINPrefix":      {"--trust", trust, "--iin", "IIN123456789", file},
		"UnreadableFile": {"--trust", trust, filepath.Join(emptyDir, "missing.xml")},
		"FileIsDir":      {"--trust", trust, emptyDir},
		"MissingTrust":   {"--trust", filepath.Join(emptyDir, "nope"), file},
		"TrustNoRoots":   {"--trust", emptyDir, file},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runVerifyXMLForTest(t, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
			if lines := strings.Count(stderr, "\n"); lines != 1 || !strings.HasPrefix(stderr, "kezekbot verify-xml: ") {
				t.Fatalf("want one line on stderr, got %q", stderr)
			}
		})
	}
}
