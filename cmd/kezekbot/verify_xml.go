package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

func init() {
	commands["verify-xml"] = command{
		summary: "verify an NCALayer-signed XML file (ЭЦП, RSA or GOST 34.10-2015 512) and print the result as JSON",
		run:     runVerifyXML,
	}
}

const verifyXMLUsage = "usage: kezekbot verify-xml --trust DIR [--at RFC3339] [--usage auth|sign] [--iin IIN] FILE"

const verifyXMLHelp = verifyXMLUsage + `

Verifies the XML signature in FILE as kezekbot's signing page does: one enveloped
ds:Signature at the root, C14N 1.0, rsa-sha256 or GOST 34.10-2015 512 (Streebog-512;
GOST 34.310-2004 and GOST-2015 256-bit are refused), a certificate chaining to a root in
DIR (*.pem, *.crt, *.cer, *.der, RSA and GOST side by side; self-signed = root, others =
intermediates), the key usage (AUTH = clientAuth, SIGN = emailProtection), an individual
person's certificate and, with --iin, its IIN. Revocation is not checked.

Prints one JSON object: {"valid", "algorithm" ("rsa" or "gost2015-512"), "iin", "subject",
"serial", "issuer", "not_before", "not_after", "usage", and "error" and "reason" when
invalid}. Exit status: 0 valid, 1 invalid, 2 usage error.

Flags:
  --trust DIR     trusted NCA certificates (required)
  --at TIME       verification time, RFC 3339 (default: now)
  --usage U       auth or sign (default: either; "usage" in the output says which)
  --iin IIN       the 12-digit IIN the certificate must carry (default: not checked)
`

// verifyXMLOutput is the JSON verify-xml prints. Certificate fields are set whenever the
// signer certificate could be parsed, even for an invalid document.
type verifyXMLOutput struct {
	Valid     bool   `json:"valid"`
	Algorithm string `json:"algorithm,omitempty"`
	IIN       string `json:"iin,omitempty"`
	Subject   string `json:"subject,omitempty"`
	Serial    string `json:"serial,omitempty"`
	Issuer    string `json:"issuer,omitempty"`
	NotBefore string `json:"not_before,omitempty"`
	NotAfter  string `json:"not_after,omitempty"`
	Usage     string `json:"usage,omitempty"`
	Error     string `json:"error,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

func (o *verifyXMLOutput) setSigner(s *xmlsig.Signer) {
	if s == nil {
		return
	}
	o.IIN = s.IIN
	o.Subject = s.Subject
	o.Serial = s.Serial
	o.Issuer = s.Issuer
	o.NotBefore = s.NotBefore.UTC().Format(time.RFC3339)
	o.NotAfter = s.NotAfter.UTC().Format(time.RFC3339)
}

// runVerifyXML implements `kezekbot verify-xml`.
func runVerifyXML(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify-xml", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	trustDir := fs.String("trust", "", "")
	atFlag := fs.String("at", "", "")
	usageFlag := fs.String("usage", "", "")
	iinFlag := fs.String("iin", "", "")
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kezekbot verify-xml: %s; %s\n", fmt.Sprintf(format, a...), verifyXMLUsage)
		return 2
	}

	// Flags may come before or after FILE.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, verifyXMLHelp)
				return 0
			}
			return usageErr("%v", err)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		files = append(files, rest[0])
		rest = rest[1:]
	}
	switch {
	case *trustDir == "":
		return usageErr("--trust is required")
	case len(files) == 0:
		return usageErr("missing FILE")
	case len(files) > 1:
		return usageErr("exactly one FILE, got %d", len(files))
	}

	p := xmlsig.Policy{Usage: xmlsig.UsageAny}
	if *usageFlag != "" {
		switch *usageFlag {
		case "auth":
			p.Usage = xmlsig.UsageAuth
		case "sign":
			p.Usage = xmlsig.UsageSign
		default:
			return usageErr("--usage must be auth or sign, got %q", *usageFlag)
		}
	}
	if *atFlag != "" {
		at, err := time.Parse(time.RFC3339, *atFlag)
		if err != nil {
			return usageErr("--at must be an RFC 3339 time such as 2021-06-01T00:00:00Z, got %q", *atFlag)
		}
		p.At = at
	}
	if *iinFlag != "" {
		if !isTwelveDigits(*iinFlag) {
			return usageErr("--iin must be 12 digits")
		}
		p.IIN = *iinFlag
	}

	trust, err := xmlsig.LoadTrustDir(*trustDir)
	if err != nil {
		fmt.Fprintf(stderr, "kezekbot verify-xml: --trust: %v\n", err)
		return 2
	}
	if n := len(trust.Skipped); n > 0 {
		fmt.Fprintf(stderr, "kezekbot verify-xml: warning: skipped %d certificate(s) in %s (first: %s: %v)\n",
			n, *trustDir, trust.Skipped[0].File, trust.Skipped[0].Err)
	}
	v, err := xmlsig.NewVerifier(trust)
	if err != nil {
		fmt.Fprintf(stderr, "kezekbot verify-xml: %v\n", err)
		return 2
	}
	doc, err := readLimited(files[0], xmlsig.DefaultMaxSize+1)
	if err != nil {
		fmt.Fprintf(stderr, "kezekbot verify-xml: %v\n", err)
		return 2
	}

	out := verifyXMLOutput{}
	code := 0
	res, err := v.Verify(ctx, doc, p)
	if err == nil {
		out.Valid = true
		out.setSigner(&res.Signer)
		out.Usage = res.Usage.String()
		out.Algorithm = string(res.Algorithm)
	} else {
		code = 1
		var xe *xmlsig.Error
		if errors.As(err, &xe) {
			out.setSigner(xe.Signer)
			out.Reason = string(xe.Reason)
			out.Error = xe.Reason.Message()
			if xe.Detail != "" {
				out.Error += ": " + xe.Detail
			}
		} else {
			out.Reason = "internal"
			out.Error = err.Error()
		}
		if *usageFlag != "" {
			out.Usage = *usageFlag
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(stderr, "kezekbot verify-xml: write result: %v\n", err)
		return 1
	}
	return code
}

func isTwelveDigits(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// readLimited reads at most limit bytes of the file; the verifier rejects what is over its
// own limit, so a huge file costs no more memory than that.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read FILE: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
