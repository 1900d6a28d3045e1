package xmlsig

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kezekbot/kezekbot/signer-link/gost"
)

// TrustStore is the trust material: NCA RK root certificates (self-signed) and the
// intermediate CAs that issue people's certificates, RSA and GOST 34.10-2015 512 side by side.
type TrustStore struct {
	Roots         []*x509.Certificate
	Intermediates []*x509.Certificate
	// Skipped lists certificates LoadTrustDir could not use: unparseable files and
	// certificates with keys this package does not verify (GOST 34.310-2004, GOST-2015 256).
	// They are reported, not fatal.
	Skipped []SkippedCert
}

// SkippedCert is a certificate LoadTrustDir did not load, and why.
type SkippedCert struct {
	File string // base name of the file
	Err  error
}

// NewTrustStore builds a store from parsed certificates: self-signed ones become roots,
// the others intermediates.
func NewTrustStore(certs ...*x509.Certificate) *TrustStore {
	t := &TrustStore{}
	for _, c := range certs {
		t.add(c)
	}
	return t
}

func (t *TrustStore) add(c *x509.Certificate) {
	if isSelfSigned(c) {
		t.Roots = append(t.Roots, c)
	} else {
		t.Intermediates = append(t.Intermediates, c)
	}
}

func isSelfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		return false
	}
	if isGOST2015Key(c) {
		k, err := gost.ParsePublicKey(c.RawSubjectPublicKeyInfo)
		return err == nil && gost.CheckSigned(c.Raw, k) == nil
	}
	return c.CheckSignatureFrom(c) == nil
}

func isGOST2015Key(c *x509.Certificate) bool {
	return gost.KeyVariant(c.RawSubjectPublicKeyInfo) == gost.GOST2015512
}

// trustExts are the file name extensions LoadTrustDir reads.
var trustExts = []string{".pem", ".crt", ".cer", ".der"}

// LoadTrustDir reads every *.pem, *.crt, *.cer and *.der file in dir (not recursively). A file
// may hold PEM (any number of CERTIFICATE blocks) or DER. RSA, ECDSA and GOST 34.10-2015 512
// certificates are loaded side by side; certificates that cannot be parsed, or have another
// key (GOST 34.310-2004, GOST-2015 256), are listed in Skipped. It is an error if dir cannot
// be read or holds no usable root (a directory with only GOST ones is fine).
func LoadTrustDir(dir string) (*TrustStore, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load trust dir: %w", err)
	}
	t := &TrustStore{}
	for _, e := range entries {
		name := e.Name()
		if !slices.Contains(trustExts, strings.ToLower(filepath.Ext(name))) {
			continue
		}
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path) // follows symlinks
		if err != nil {
			return nil, fmt.Errorf("load trust dir: %w", err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("load trust dir: %w", err)
		}
		ders, err := certDERs(b)
		if err != nil {
			t.Skipped = append(t.Skipped, SkippedCert{File: name, Err: err})
			continue
		}
		for _, der := range ders {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Skipped = append(t.Skipped, SkippedCert{File: name, Err: err})
				continue
			}
			if c.PublicKeyAlgorithm != x509.RSA && c.PublicKeyAlgorithm != x509.ECDSA && !usableGOST(c) {
				err := fmt.Errorf("unsupported public key algorithm %s", describeKeyAlgorithm(c))
				t.Skipped = append(t.Skipped, SkippedCert{File: name, Err: err})
				continue
			}
			t.add(c)
		}
	}
	if len(t.Roots) == 0 {
		return nil, fmt.Errorf("load trust dir %s: no self-signed root certificate found (%d intermediates, %d skipped)",
			dir, len(t.Intermediates), len(t.Skipped))
	}
	return t, nil
}

// certDERs returns the DER certificates in b: every CERTIFICATE block if b is PEM, else b.
func certDERs(b []byte) ([][]byte, error) {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		return [][]byte{b}, nil
	}
	var out [][]byte
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" || blk.Type == "X509 CERTIFICATE" {
			out = append(out, blk.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	return out, nil
}

// usableGOST reports whether c has a GOST 34.10-2015 512 key that parses (on the curve).
func usableGOST(c *x509.Certificate) bool {
	if !isGOST2015Key(c) {
		return false
	}
	_, err := gost.ParsePublicKey(c.RawSubjectPublicKeyInfo)
	return err == nil
}

func describeKeyAlgorithm(c *x509.Certificate) string {
	if c.PublicKeyAlgorithm != x509.UnknownPublicKeyAlgorithm {
		return c.PublicKeyAlgorithm.String()
	}
	if v := gost.KeyVariant(c.RawSubjectPublicKeyInfo); v != gost.NotGOST {
		return v.String()
	}
	return "unknown"
}
