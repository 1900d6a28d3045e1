package xmlsig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/gost"
)

// RevocationChecker tells whether leaf, issued by issuer, was revoked at time at. It returns
// nil if the certificate is good. A returned *Error should have ReasonRevoked or
// ReasonRevocationUnknown; any other error is treated as ReasonRevocationUnknown (fail
// closed). Implementations must be safe for concurrent use.
type RevocationChecker interface {
	Check(ctx context.Context, leaf, issuer *x509.Certificate, at time.Time) error
}

// NoRevocationCheck accepts every certificate. It is the default: the NCA test certificates
// in our fixtures are long gone from NCA's CRLs, and production revocation (CRL or OCSP) is
// a deployment decision the caller makes explicitly with WithRevocation.
type NoRevocationCheck struct{}

// Check implements RevocationChecker and always returns nil.
func (NoRevocationCheck) Check(context.Context, *x509.Certificate, *x509.Certificate, time.Time) error {
	return nil
}

// CRLChecker checks revocation against CRLs loaded in advance (for example downloaded from
// http://crl.pki.gov.kz/ by a cron job). A CRL is used only if its signature verifies with the
// issuer certificate of the chain being checked (RSA through crypto/x509, GOST 34.10-2015 512
// through package gost: NCA's GOST CAs sign their CRLs with GOST). The certificate is revoked if any such CRL
// (base or delta) lists its serial number with a revocation time not after at. If none of the
// issuer's base CRLs covers at (thisUpdate ≤ at ≤ nextUpdate), the status is unknown and the
// check fails with ReasonRevocationUnknown.
type CRLChecker struct {
	crls []*x509.RevocationList

	mu       sync.Mutex
	verified map[crlIssuerKey]bool // signature check results, per CRL and issuer
}

type crlIssuerKey struct {
	crl    int
	issuer [32]byte
}

// NewCRLChecker returns a checker over parsed CRLs.
func NewCRLChecker(crls ...*x509.RevocationList) *CRLChecker {
	return &CRLChecker{crls: crls, verified: make(map[crlIssuerKey]bool)}
}

var crlExts = []string{".crl", ".pem", ".der"}

// LoadCRLDir reads every *.crl, *.pem and *.der file in dir as a CRL (PEM "X509 CRL" blocks or
// DER). A file that is not a CRL is an error: a CRL directory that silently loses a list is
// worse than one that fails to load.
func LoadCRLDir(dir string) (*CRLChecker, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load CRL dir: %w", err)
	}
	var crls []*x509.RevocationList
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !slices.Contains(crlExts, strings.ToLower(filepath.Ext(name))) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("load CRL dir: %w", err)
		}
		ders := [][]byte{b}
		if bytes.Contains(b, []byte("-----BEGIN")) {
			ders = nil
			rest := b
			for {
				var blk *pem.Block
				blk, rest = pem.Decode(rest)
				if blk == nil {
					break
				}
				if blk.Type == "X509 CRL" {
					ders = append(ders, blk.Bytes)
				}
			}
			if len(ders) == 0 {
				return nil, fmt.Errorf("load CRL dir: %s: no X509 CRL PEM block", name)
			}
		}
		for _, der := range ders {
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				return nil, fmt.Errorf("load CRL dir: %s: %w", name, err)
			}
			crls = append(crls, crl)
		}
	}
	return NewCRLChecker(crls...), nil
}

var oidDeltaCRLIndicator = asn1.ObjectIdentifier{2, 5, 29, 27}

func isDeltaCRL(crl *x509.RevocationList) bool {
	for _, ext := range crl.Extensions {
		if ext.Id.Equal(oidDeltaCRLIndicator) {
			return true
		}
	}
	return false
}

// Check implements RevocationChecker.
func (c *CRLChecker) Check(ctx context.Context, leaf, issuer *x509.Certificate, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("crl check: %w", err)
	}
	if leaf == nil || issuer == nil {
		return newError(ReasonRevocationUnknown, "crl check: no issuer certificate")
	}
	issuerKey := sha256.Sum256(issuer.Raw)
	covered := false
	for i, crl := range c.crls {
		if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) || !c.signedBy(i, crl, issuer, issuerKey) {
			continue
		}
		for _, rc := range crl.RevokedCertificateEntries {
			if rc.SerialNumber != nil && rc.SerialNumber.Cmp(leaf.SerialNumber) == 0 && !rc.RevocationTime.After(at) {
				return newError(ReasonRevoked, "certificate serial %x revoked at %s (CRL issued %s)",
					leaf.SerialNumber, rc.RevocationTime.UTC().Format(time.RFC3339), crl.ThisUpdate.UTC().Format(time.RFC3339))
			}
		}
		if !isDeltaCRL(crl) && !crl.ThisUpdate.After(at) && (crl.NextUpdate.IsZero() || !at.After(crl.NextUpdate)) {
			covered = true
		}
	}
	if !covered {
		return newError(ReasonRevocationUnknown, "no valid CRL of %q covers %s", issuer.Subject.CommonName, at.UTC().Format(time.RFC3339))
	}
	return nil
}

func (c *CRLChecker) signedBy(i int, crl *x509.RevocationList, issuer *x509.Certificate, issuerKey [32]byte) bool {
	k := crlIssuerKey{crl: i, issuer: issuerKey}
	c.mu.Lock()
	ok, seen := c.verified[k]
	c.mu.Unlock()
	if seen {
		return ok
	}
	ok = checkCRLSignature(crl, issuer) == nil
	c.mu.Lock()
	c.verified[k] = ok
	c.mu.Unlock()
	return ok
}

// checkCRLSignature verifies crl's signature with issuer's key, GOST or what crypto/x509 knows.
func checkCRLSignature(crl *x509.RevocationList, issuer *x509.Certificate) error {
	if isGOST2015Key(issuer) {
		k, err := gost.ParsePublicKey(issuer.RawSubjectPublicKeyInfo)
		if err != nil {
			return err
		}
		return gost.CheckSigned(crl.Raw, k)
	}
	return crl.CheckSignatureFrom(issuer)
}
