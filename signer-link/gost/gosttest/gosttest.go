// Package gosttest makes GOST 34.10-2015 512-bit keys, signatures, certificates and CRLs the
// way NCA RK's Kalkan does, for tests and the sandbox. TEST KEYS, NOT REAL: nothing here is
// constant time or meant to protect a secret, and package gost, which production code uses,
// can only verify.
package gosttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"sync"

	"github.com/kezekbot/kezekbot/signer-link/gost"
	"github.com/kezekbot/kezekbot/signer-link/gost/streebog"
)

// PrivateKey is a GOST 34.10-2015 512-bit key pair. TEST KEYS, NOT REAL.
type PrivateKey struct {
	D      *big.Int
	Public *gost.PublicKey
}

// GenerateKey returns a new key with d uniform in [1, q).
func GenerateKey(r io.Reader) (*PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	d, err := randScalar(r)
	if err != nil {
		return nil, fmt.Errorf("gosttest: generate key: %w", err)
	}
	x, y, err := gost.BaseMul(d)
	if err != nil {
		return nil, fmt.Errorf("gosttest: generate key: %w", err)
	}
	return &PrivateKey{D: d, Public: &gost.PublicKey{X: x, Y: y}}, nil
}

func randScalar(r io.Reader) (*big.Int, error) {
	q := gost.Q()
	qm1 := new(big.Int).Sub(q, big.NewInt(1))
	k, err := rand.Int(r, qm1)
	if err != nil {
		return nil, err
	}
	return k.Add(k, big.NewInt(1)), nil
}

// Sign signs Streebog-512(msg) and returns the signature in Kalkan's layout (r ‖ s, each
// little-endian).
func (k *PrivateKey) Sign(r io.Reader, msg []byte) ([]byte, error) {
	h := streebog.Sum512(msg)
	return k.SignHash(r, h[:])
}

// SignHash signs a 64-byte Streebog-512 hash code (GOST R 34.10-2012 §6.1): e = int_le(h)
// mod q (0 → 1), C = k·G, r = x_C mod q, s = (r·d + k·e) mod q.
func (k *PrivateKey) SignHash(rnd io.Reader, h []byte) ([]byte, error) {
	if len(h) != gost.HashSize {
		return nil, errors.New("gosttest: hash must be 64 bytes")
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	q := gost.Q()
	e := gost.HashToInt(h)
	for {
		kk, err := randScalar(rnd)
		if err != nil {
			return nil, fmt.Errorf("gosttest: sign: %w", err)
		}
		x, _, err := gost.BaseMul(kk)
		if err != nil {
			return nil, err
		}
		r := new(big.Int).Mod(x, q)
		if r.Sign() == 0 {
			continue
		}
		s := new(big.Int).Mul(r, k.D)
		s.Add(s, new(big.Int).Mul(kk, e))
		s.Mod(s, q)
		if s.Sign() == 0 {
			continue
		}
		sig := make([]byte, gost.SignatureSize)
		r.FillBytes(sig[:64])
		s.FillBytes(sig[64:])
		slices.Reverse(sig[:64])
		slices.Reverse(sig[64:])
		return sig, nil
	}
}

// crypto/x509 cannot create GOST certificates, so it is asked to create an ECDSA one with a
// throwaway key, and the two fields that depend on the algorithms (signature algorithm and
// SubjectPublicKeyInfo) are replaced before the TBS is signed with GOST. Everything else —
// names, validity, extensions — stays as crypto/x509 wrote it.
var (
	stubOnce sync.Once
	stubKey  *ecdsa.PrivateKey
	stubErr  error
)

func stub() (*ecdsa.PrivateKey, error) {
	stubOnce.Do(func() { stubKey, stubErr = ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })
	return stubKey, stubErr
}

// CreateCertificate issues a certificate for pub, signed by signer with GOST 34.10-2015 512,
// from a crypto/x509 template. parent is the issuer's certificate (itself a GOST one), or
// template for a self-signed root. The SubjectKeyId defaults to the first 20 bytes of
// Streebog-256 of the key. TEST KEYS, NOT REAL.
func CreateCertificate(template, parent *x509.Certificate, pub *gost.PublicKey, signer *PrivateKey) (*x509.Certificate, error) {
	sk, err := stub()
	if err != nil {
		return nil, err
	}
	tmpl := *template
	if len(tmpl.SubjectKeyId) == 0 {
		h := streebog.Sum256(pub.Bytes())
		tmpl.SubjectKeyId = h[:20]
	}
	if parent == template {
		parent = &tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, parent, &sk.PublicKey, sk)
	if err != nil {
		return nil, fmt.Errorf("gosttest: create certificate: %w", err)
	}
	spki, err := gost.MarshalPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("gosttest: create certificate: %w", err)
	}
	// TBSCertificate: [0] version, serial, signature, issuer, validity, subject, spki, [3] extensions.
	out, err := resign(der, map[int][]byte{2: sigAlgorithm, 6: spki}, signer)
	if err != nil {
		return nil, fmt.Errorf("gosttest: create certificate: %w", err)
	}
	c, err := x509.ParseCertificate(out)
	if err != nil {
		return nil, fmt.Errorf("gosttest: create certificate: %w", err)
	}
	return c, nil
}

// CreateRevocationList issues a CRL signed with GOST by signer, whose certificate is issuer
// (it needs a SubjectKeyId and the cRLSign key usage, as crypto/x509 requires). TEST KEYS.
func CreateRevocationList(template *x509.RevocationList, issuer *x509.Certificate, signer *PrivateKey) ([]byte, error) {
	sk, err := stub()
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateRevocationList(rand.Reader, template, issuer, sk)
	if err != nil {
		return nil, fmt.Errorf("gosttest: create CRL: %w", err)
	}
	// TBSCertList: version, signature, issuer, thisUpdate, nextUpdate, revoked, [0] extensions.
	out, err := resign(der, map[int][]byte{1: sigAlgorithm}, signer)
	if err != nil {
		return nil, fmt.Errorf("gosttest: create CRL: %w", err)
	}
	return out, nil
}

// sigAlgorithm is AlgorithmIdentifier{1.2.398.3.10.1.1.2.3.2, NULL}.
var sigAlgorithm = func() []byte {
	b, err := asn1.Marshal(struct {
		Algorithm asn1.ObjectIdentifier
		Params    asn1.RawValue
	}{gost.OIDSignatureGOST2015_512, asn1.RawValue{FullBytes: []byte{0x05, 0x00}}})
	if err != nil {
		panic(err) // constant input
	}
	return b
}()

// resign replaces the TBS elements at the given indexes and signs the TBS with GOST.
func resign(der []byte, replace map[int][]byte, signer *PrivateKey) ([]byte, error) {
	var outer struct {
		TBS       asn1.RawValue
		Algorithm asn1.RawValue
		Signature asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		return nil, err
	}
	var body []byte
	rest := outer.TBS.Bytes
	for i := 0; len(rest) > 0; i++ {
		var el asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &el); err != nil {
			return nil, err
		}
		if r, ok := replace[i]; ok {
			body = append(body, r...)
		} else {
			body = append(body, el.FullBytes...)
		}
	}
	tbs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(rand.Reader, tbs)
	if err != nil {
		return nil, err
	}
	return gost.MarshalSigned(tbs, sig)
}
