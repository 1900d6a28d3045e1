package main

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

// revocationConfig is how certificates are checked for revocation (issue 12): the policy, and
// the OCSP responder's override and timeout. CRLs come from KEZEKBOT_CRL_DIR (crl.go).
type revocationConfig struct {
	Policy      string // ocsp | crl | both | off | "" (crl when KEZEKBOT_CRL_DIR is set, else off)
	OCSPURL     string // "" asks the certificate's AIA OCSP URL
	OCSPTimeout time.Duration
	OCSPHash    crypto.Hash
}

var revocationConfigFields = []configField{
	{"KEZEKBOT_REVOCATION", "revocation", "",
		"certificate revocation check: ocsp, crl, both or off (default: crl when KEZEKBOT_CRL_DIR is set, else off); an unknown status refuses the signature",
		func(c *Config, v string) error {
			switch v {
			case "", "ocsp", "crl", "both", "off":
				c.revocation.Policy = v
				return nil
			}
			return fmt.Errorf("want ocsp, crl, both or off, got %q", v)
		}},
	{"KEZEKBOT_OCSP_URL", "ocsp-url", "",
		"OCSP responder asked instead of the certificate's own (AIA) one, e.g. http://ocsp.pki.gov.kz/",
		func(c *Config, v string) error {
			if v == "" {
				c.revocation.OCSPURL = ""
				return nil
			}
			u, err := parseHTTPURL(v)
			if err != nil {
				return err
			}
			c.revocation.OCSPURL = u.String()
			return nil
		}},
	{"KEZEKBOT_OCSP_TIMEOUT", "ocsp-timeout", "3s", "how long one OCSP request may take before the status counts as unknown",
		func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > time.Minute {
				return fmt.Errorf("want a duration above 0 and at most 1m, got %q", v)
			}
			c.revocation.OCSPTimeout = d
			return nil
		}},
	{"KEZEKBOT_OCSP_HASH", "ocsp-hash", "sha256", "hash of the certificate id in OCSP requests: sha256 (what NCANode sends NCA) or sha1 (RFC 5019)",
		func(c *Config, v string) error {
			switch v {
			case "sha256":
				c.revocation.OCSPHash = crypto.SHA256
			case "sha1":
				c.revocation.OCSPHash = crypto.SHA1
			default:
				return fmt.Errorf("want sha256 or sha1, got %q", v)
			}
			return nil
		}},
}

func init() { configFields = append(configFields, revocationConfigFields...) }

// revocationPolicy is the policy in force: the setting, or today's default (crl when a CRL
// directory is given, else off).
func (c *Config) revocationPolicy() string {
	if c.revocation.Policy != "" {
		return c.revocation.Policy
	}
	if c.CRLDir != "" {
		return "crl"
	}
	return "off"
}

// checkRevocation refuses a policy that cannot work with the other settings.
func (c *Config) checkRevocation() error {
	p := c.revocationPolicy()
	if (p == "crl" || p == "both") && c.CRLDir == "" {
		return usagef("KEZEKBOT_REVOCATION=%s needs KEZEKBOT_CRL_DIR (a directory of NCA's CRLs)", p)
	}
	if p == "off" && c.CRLDir != "" {
		return usagef("KEZEKBOT_REVOCATION=off with KEZEKBOT_CRL_DIR set: the CRLs would be ignored; unset one of them")
	}
	return nil
}

// revocationChecker builds the checker of the policy (nil for off) and the jobs it needs in
// the background (the CRL reloader).
func (c *Config) revocationChecker(log *slog.Logger, observe func(result string, cached bool)) (xmlsig.RevocationChecker, []func(context.Context) error, error) {
	if err := c.checkRevocation(); err != nil {
		return nil, nil, err
	}
	p := c.revocationPolicy()
	var bg []func(context.Context) error
	var crl xmlsig.RevocationChecker
	if p == "crl" || p == "both" {
		r, err := newCRLReloader(c.CRLDir, log)
		if err != nil {
			return nil, nil, err
		}
		crl = r
		bg = append(bg, func(ctx context.Context) error { return r.run(ctx, 10*time.Minute) })
	}
	var oc xmlsig.RevocationChecker
	if p == "ocsp" || p == "both" {
		o, err := xmlsig.NewOCSPChecker(xmlsig.OCSPOptions{URL: c.revocation.OCSPURL, Timeout: c.revocation.OCSPTimeout, Hash: c.revocation.OCSPHash, Observe: observe})
		if err != nil {
			return nil, nil, usagef("KEZEKBOT_OCSP_URL: %v", err)
		}
		oc = o
	}
	log.Info("certificate revocation check", "policy", p, "ocsp_url", c.revocation.OCSPURL)
	switch p {
	case "crl":
		return crl, bg, nil
	case "ocsp":
		return oc, bg, nil
	case "both":
		// The CRLs first: local and instant, and a revocation they list needs no request.
		return xmlsig.EitherGood{First: crl, Second: oc}, bg, nil
	}
	return nil, nil, nil
}
