package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

// TestRevocationSettings: the policy's default keeps today's behaviour (crl with a CRL
// directory, else off), and settings that cannot work are refused with one line.
func TestRevocationSettings(t *testing.T) {
	crlDir := t.TempDir()
	for _, tt := range []struct {
		name       string
		env        map[string]string
		wantPolicy string
		wantErr    string // in loadConfig or checkRevocation
		wantType   string
	}{
		{"default without CRLs is off", nil, "off", "", "<nil>"},
		{"default with CRLs is crl", map[string]string{"KEZEKBOT_CRL_DIR": crlDir}, "crl", "", "*main.crlReloader"},
		{"ocsp", map[string]string{"KEZEKBOT_REVOCATION": "ocsp"}, "ocsp", "", "*xmlsig.OCSPChecker"},
		{"ocsp with override", map[string]string{"KEZEKBOT_REVOCATION": "ocsp", "KEZEKBOT_OCSP_URL": "http://ocsp.pki.gov.kz/", "KEZEKBOT_OCSP_TIMEOUT": "5s"}, "ocsp", "", "*xmlsig.OCSPChecker"},
		{"both", map[string]string{"KEZEKBOT_REVOCATION": "both", "KEZEKBOT_CRL_DIR": crlDir}, "both", "", "xmlsig.EitherGood"},
		{"both without CRLs", map[string]string{"KEZEKBOT_REVOCATION": "both"}, "", "KEZEKBOT_CRL_DIR", ""},
		{"crl without CRLs", map[string]string{"KEZEKBOT_REVOCATION": "crl"}, "", "KEZEKBOT_CRL_DIR", ""},
		{"off with CRLs", map[string]string{"KEZEKBOT_REVOCATION": "off", "KEZEKBOT_CRL_DIR": crlDir}, "", "KEZEKBOT_REVOCATION=off", ""},
		{"unknown policy", map[string]string{"KEZEKBOT_REVOCATION": "maybe"}, "", "KEZEKBOT_REVOCATION", ""},
		{"bad URL", map[string]string{"KEZEKBOT_OCSP_URL": "ldap://x"}, "", "KEZEKBOT_OCSP_URL", ""},
		{"bad timeout", map[string]string{"KEZEKBOT_OCSP_TIMEOUT": "0s"}, "", "KEZEKBOT_OCSP_TIMEOUT", ""},
		{"ocsp sha1", map[string]string{"KEZEKBOT_REVOCATION": "ocsp", "KEZEKBOT_OCSP_HASH": "sha1"}, "ocsp", "", "*xmlsig.OCSPChecker"},
		{"bad hash", map[string]string{"KEZEKBOT_OCSP_HASH": "md5"}, "", "KEZEKBOT_OCSP_HASH", ""},
		{"timeout too long", map[string]string{"KEZEKBOT_OCSP_TIMEOUT": "2m"}, "", "KEZEKBOT_OCSP_TIMEOUT", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, func(k string) string { return tt.env[k] })
			if err == nil {
				err = c.checkRevocation()
			}
			if tt.wantErr != "" {
				var u *usageError
				if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want a usage error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p := c.revocationPolicy(); p != tt.wantPolicy {
				t.Fatalf("policy %q, want %q", p, tt.wantPolicy)
			}
			rc, _, err := c.revocationChecker(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := typeName(rc); got != tt.wantType {
				t.Fatalf("checker %s, want %s", got, tt.wantType)
			}
		})
	}
}

func typeName(rc xmlsig.RevocationChecker) string {
	if rc == nil {
		return "<nil>"
	}
	return revTypeName(rc)
}

func revTypeName(v any) string { return fmt.Sprintf("%T", v) }
