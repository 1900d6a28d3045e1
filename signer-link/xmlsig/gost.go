package xmlsig

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	dsig "github.com/russellhaering/goxmldsig"

	"github.com/kezekbot/kezekbot/signer-link/gost"
	"github.com/kezekbot/kezekbot/signer-link/gost/streebog"
)

// crypto/x509 parses NCA's GOST certificates but cannot check their signatures, so GOST
// chains are built here, with the rules crypto/x509 applies to the RSA ones: every signature
// in the chain, validity of every certificate at the verification time, CA basic constraints,
// certSign key usage and path length of the CAs, no unhandled critical extension, and the
// extended key usage of the action on the leaf (and on any CA that restricts it).
//
// What does not change from one document to the next is cached: the parsed CA keys, each
// intermediate's verified path to a root (computed once), and for each leaf certificate (by
// SHA-256 of its DER) its parsed key and the issuers whose signature on it verified. The
// time-dependent checks run on every call.

// maxGOSTPaths bounds the leaf cache; when full it starts over (a cache miss costs one GOST
// verification, ~1 ms).
const maxGOSTPaths = 10000

type gostCA struct {
	cert *x509.Certificate
	key  *gost.PublicKey
	root bool
	up   []*gostCA // verified path above this CA, root last; nil for a root or an orphan
	ok   bool      // a root, or an intermediate with a verified path to a root
}

type gostLeaf struct {
	key   *gost.PublicKey
	paths [][]*gostCA // each: the leaf's issuer first, the root last; signatures verified
}

type gostTrust struct {
	cas []*gostCA

	mu    sync.Mutex
	leafs map[[32]byte]*gostLeaf
}

// newGOSTTrust takes GOST 34.10-2015 512 roots (self-signature already checked when they were
// classified) and intermediates, and verifies each intermediate's path to a root once.
func newGOSTTrust(roots, intermediates []*x509.Certificate) (*gostTrust, error) {
	t := &gostTrust{leafs: make(map[[32]byte]*gostLeaf)}
	for i, list := range [][]*x509.Certificate{roots, intermediates} {
		for _, c := range list {
			k, err := gost.ParsePublicKey(c.RawSubjectPublicKeyInfo)
			if err != nil {
				return nil, fmt.Errorf("GOST CA %q: %w", c.Subject.CommonName, err)
			}
			t.cas = append(t.cas, &gostCA{cert: c, key: k, root: i == 0, ok: i == 0})
		}
	}
	// Intermediates under intermediates: repeat until nothing changes (a handful of CAs).
	for changed := true; changed; {
		changed = false
		for _, ca := range t.cas {
			if ca.ok {
				continue
			}
			for _, p := range t.issuersOf(ca.cert) {
				if p.ok && p != ca {
					ca.up = append([]*gostCA{p}, p.up...)
					ca.ok, changed = true, true
					break
				}
			}
		}
	}
	return t, nil
}

// issuersOf returns the CAs whose name is c's issuer and whose key verifies c's signature.
func (t *gostTrust) issuersOf(c *x509.Certificate) []*gostCA {
	var out []*gostCA
	for _, ca := range t.cas {
		if bytes.Equal(ca.cert.RawSubject, c.RawIssuer) && gost.CheckSigned(c.Raw, ca.key) == nil {
			out = append(out, ca)
		}
	}
	return out
}

// leaf returns the cached facts about a leaf certificate, computing them on a miss.
func (t *gostTrust) leaf(c *x509.Certificate) (*gostLeaf, *Error) {
	h := sha256.Sum256(c.Raw)
	t.mu.Lock()
	l, ok := t.leafs[h]
	t.mu.Unlock()
	if ok {
		return l, nil
	}
	k, err := gost.ParsePublicKey(c.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, newError(ReasonBadCertificate, "signer certificate: %v", err)
	}
	l = &gostLeaf{key: k}
	for _, ca := range t.issuersOf(c) {
		if ca.ok {
			l.paths = append(l.paths, append([]*gostCA{ca}, ca.up...))
		}
	}
	t.mu.Lock()
	if len(t.leafs) >= maxGOSTPaths {
		clear(t.leafs)
	}
	t.leafs[h] = l
	t.mu.Unlock()
	return l, nil
}

// verifyChain is the GOST counterpart of Verifier.verifyChain: it returns the chain (leaf
// first, root last) and the leaf's key.
func (t *gostTrust) verifyChain(leaf *x509.Certificate, at time.Time, usages []x509.ExtKeyUsage) ([]*x509.Certificate, *gost.PublicKey, *Error) {
	if e := validityError(leaf, at, "signer certificate"); e != nil {
		return nil, nil, e
	}
	l, xerr := t.leaf(leaf)
	if xerr != nil {
		return nil, nil, xerr
	}
	if len(l.paths) == 0 {
		return nil, nil, newError(ReasonChain, "chain: the certificate is not signed by a trusted GOST CA (issuer %q)", issuerCN(leaf))
	}
	var first *Error
	for _, p := range l.paths {
		xerr := checkGOSTPath(leaf, p, at, usages)
		if xerr == nil {
			chain := []*x509.Certificate{leaf}
			for _, ca := range p {
				chain = append(chain, ca.cert)
			}
			return chain, l.key, nil
		}
		if first == nil {
			first = xerr
		}
	}
	return nil, nil, first
}

func issuerCN(c *x509.Certificate) string { return c.Issuer.CommonName }

func checkGOSTPath(leaf *x509.Certificate, path []*gostCA, at time.Time, usages []x509.ExtKeyUsage) *Error {
	if len(leaf.UnhandledCriticalExtensions) > 0 {
		return newError(ReasonChain, "chain: signer certificate has an unhandled critical extension %s", leaf.UnhandledCriticalExtensions[0])
	}
	if !ekuAllows(leaf, usages) {
		return newError(ReasonKeyUsage, "chain: certificate extended key usage (%s) does not allow %s", ekuList(leaf), usageNames(usages))
	}
	for i, ca := range path {
		c := ca.cert
		name := "CA certificate " + quoteCN(c)
		if e := validityError(c, at, name); e != nil {
			return e
		}
		if !c.BasicConstraintsValid || !c.IsCA {
			return newError(ReasonChain, "chain: %s is not a CA (basic constraints)", name)
		}
		if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
			return newError(ReasonChain, "chain: %s may not sign certificates (key usage)", name)
		}
		if c.MaxPathLen >= 0 && i > c.MaxPathLen {
			return newError(ReasonChain, "chain: %s allows %d intermediate CAs below it, the chain has %d", name, c.MaxPathLen, i)
		}
		if len(c.UnhandledCriticalExtensions) > 0 {
			return newError(ReasonChain, "chain: %s has an unhandled critical extension %s", name, c.UnhandledCriticalExtensions[0])
		}
		if !ekuAllows(c, usages) {
			return newError(ReasonKeyUsage, "chain: %s restricts extended key usage (%s), which does not allow %s", name, ekuList(c), usageNames(usages))
		}
	}
	return nil
}

// ekuAllows applies crypto/x509's rule: a certificate without EKU allows any usage; one with
// EKU must list anyExtendedKeyUsage or one of usages.
func ekuAllows(c *x509.Certificate, usages []x509.ExtKeyUsage) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range usages {
		if hasExtKeyUsage(c, u) {
			return true
		}
	}
	return false
}

func canonicalizer(alg string) dsig.Canonicalizer {
	if alg == algC14N10WithComments {
		return dsig.MakeC14N10WithCommentsCanonicalizer()
	}
	return dsig.MakeC14N10RecCanonicalizer()
}

// gost2015 is GOST 34.10-2015 512 over Streebog-512 with the leaf's key, in Kalkan's byte
// order (gost.VerifyHash).
func gost2015(key *gost.PublicKey) sigAlgorithm {
	return sigAlgorithm{
		digestMethod: algGOST2015_512Digest,
		digest:       func(b []byte) []byte { d := streebog.Sum512(b); return d[:] },
		verify: func(h []byte, b64 string) *Error {
			sig, err := decodeBase64(b64)
			if err != nil || len(sig) != gost.SignatureSize {
				return newError(ReasonSignatureInvalid, "signature: a GOST 34.10-2015 512 SignatureValue is %d bytes, got %d", gost.SignatureSize, len(sig))
			}
			if !gost.VerifyHash(key, h, sig) {
				return newError(ReasonSignatureInvalid, "signature: the GOST signature over SignedInfo does not verify")
			}
			return nil
		},
	}
}
