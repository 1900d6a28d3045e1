// Package gost verifies GOST R 34.10-2012 / СТ РК ГОСТ Р 34.10-2015 512-bit signatures as NCA
// RK's Kalkan library makes them: the curve id-tc26-gost-3410-12-512-paramSetA, the hash
// Streebog-512 (package streebog), and Kalkan's byte order:
//
//   - a signature is 128 bytes, r ‖ s, each half little-endian (RFC 4491/9215 tools expect
//     s ‖ r big-endian: the same 128 bytes reversed);
//   - the hash code (64 bytes, as Streebog outputs it) is read as a little-endian number;
//   - a public key is 128 bytes, X ‖ Y, each little-endian, inside an OCTET STRING in the
//     SubjectPublicKeyInfo's BIT STRING.
//
// Only verification is here. Key generation and signing, for tests and the sandbox, are in
// package gosttest. Nothing here is constant time, which verification of public data does not
// need.
package gost

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/kezekbot/kezekbot/signer-link/gost/streebog"
)

const (
	// SignatureSize is the size of a GOST-2015-512 signature, r ‖ s.
	SignatureSize = 128
	// PublicKeySize is the size of a raw public key, X ‖ Y.
	PublicKeySize = 128
	// HashSize is the size of a Streebog-512 hash code.
	HashSize = streebog.Size512
)

// PublicKey is a point on the curve, not the point at infinity.
type PublicKey struct {
	X, Y *big.Int
}

// ParseRawPublicKey reads Kalkan's 128-byte X ‖ Y (each little-endian) and checks that the
// point is on the curve (the group has cofactor 1, so that is the whole check).
func ParseRawPublicKey(b []byte) (*PublicKey, error) {
	if len(b) != PublicKeySize {
		return nil, fmt.Errorf("gost: public key is %d bytes, want %d", len(b), PublicKeySize)
	}
	x, y := leInt(b[:64]), leInt(b[64:])
	if !isOnCurve(x, y) {
		return nil, errors.New("gost: public key is not a point of id-tc26-gost-3410-12-512-paramSetA")
	}
	return &PublicKey{X: x, Y: y}, nil
}

// Bytes returns the 128-byte X ‖ Y, each little-endian.
func (k *PublicKey) Bytes() []byte {
	out := make([]byte, PublicKeySize)
	k.X.FillBytes(out[:64])
	k.Y.FillBytes(out[64:])
	slices.Reverse(out[:64])
	slices.Reverse(out[64:])
	return out
}

// Equal reports whether k and o are the same key.
func (k *PublicKey) Equal(o *PublicKey) bool {
	return k != nil && o != nil && k.X.Cmp(o.X) == 0 && k.Y.Cmp(o.Y) == 0
}

func leInt(b []byte) *big.Int {
	be := slices.Clone(b)
	slices.Reverse(be)
	return new(big.Int).SetBytes(be)
}

// Verify checks sig (Kalkan layout) over msg: Streebog-512 of msg, then VerifyHash.
func Verify(pub *PublicKey, msg, sig []byte) bool {
	h := streebog.Sum512(msg)
	return VerifyHash(pub, h[:], sig)
}

// VerifyHash checks sig (128 bytes, r ‖ s little-endian) over a 64-byte Streebog-512 hash
// code h with the GOST R 34.10 verification equation.
func VerifyHash(pub *PublicKey, h, sig []byte) bool {
	if pub == nil || len(h) != HashSize || len(sig) != SignatureSize {
		return false
	}
	r, s := leInt(sig[:64]), leInt(sig[64:])
	if r.Sign() <= 0 || r.Cmp(curveQ) >= 0 || s.Sign() <= 0 || s.Cmp(curveQ) >= 0 {
		return false
	}
	if !isOnCurve(pub.X, pub.Y) {
		return false
	}
	e := HashToInt(h)
	// v = e⁻¹, z1 = s·v, z2 = −r·v (mod q), C = z1·G + z2·Q, valid iff x_C ≡ r (mod q).
	v := new(big.Int).ModInverse(e, curveQ)
	z1 := new(big.Int).Mul(s, v)
	z1.Mod(z1, curveQ)
	z2 := new(big.Int).Mul(new(big.Int).Sub(curveQ, r), v)
	z2.Mod(z2, curveQ)
	q := affine(pub.X, pub.Y)
	c := mulAdd(z1, z2, newTable(&q))
	x, _, ok := c.toAffine()
	if !ok {
		return false
	}
	x.Mod(x, curveQ)
	return x.Cmp(r) == 0
}

// HashToInt is e = int_le(h) mod q, with 0 replaced by 1 (GOST R 34.10 step 2).
func HashToInt(h []byte) *big.Int {
	e := leInt(h)
	e.Mod(e, curveQ)
	if e.Sign() == 0 {
		e.SetInt64(1)
	}
	return e
}

// BaseMul returns k·G for k in [1, q). It exists for key generation and signing in package
// gosttest (tests and the sandbox); it is not constant time.
func BaseMul(k *big.Int) (x, y *big.Int, err error) {
	if k.Sign() <= 0 || k.Cmp(curveQ) >= 0 {
		return nil, nil, errors.New("gost: scalar out of range")
	}
	p := mulAdd(k, nil, nil)
	x, y, ok := p.toAffine()
	if !ok {
		return nil, nil, errors.New("gost: k·G is the point at infinity")
	}
	return x, y, nil
}

// Object identifiers of NCA RK's GOST arc 1.2.398.3.10 (Kalkan; ncanode-kz/NCANode
// KalkanUtil.java, and the certificates themselves).
var (
	OIDKeyGOST2015_512       = asn1.ObjectIdentifier{1, 2, 398, 3, 10, 1, 1, 2, 2}    // SPKI algorithm
	OIDCurveGOST2015_512     = asn1.ObjectIdentifier{1, 2, 398, 3, 10, 1, 1, 2, 2, 1} // its curve: tc26 512 paramSetA
	OIDDigestGOST2015_512    = asn1.ObjectIdentifier{1, 2, 398, 3, 10, 1, 3, 3}       // Streebog-512
	OIDSignatureGOST2015_512 = asn1.ObjectIdentifier{1, 2, 398, 3, 10, 1, 1, 2, 3, 2} // certificate/CRL signatureAlgorithm
	OIDKeyGOST2015_256       = asn1.ObjectIdentifier{1, 2, 398, 3, 10, 1, 1, 2, 1}    // not supported
	OIDSignatureGOST2015_256 = asn1.ObjectIdentifier{1, 2, 398, 3, 10, 1, 1, 2, 3, 1} // not supported
	OIDKeyGOST2004           = asn1.ObjectIdentifier{1, 2, 398, 3, 10, 1, 1, 1, 1}    // GOST 34.310-2004, not supported
	OIDSignatureGOST2004     = asn1.ObjectIdentifier{1, 2, 398, 3, 10, 1, 1, 1, 2}    // not supported
	oidArcKZGOST             = asn1.ObjectIdentifier{1, 2, 398, 3, 10}                // any KZ GOST
	oidArcRUGOST             = asn1.ObjectIdentifier{1, 2, 643}                       // Russian GOST arc
)

// Variant says which GOST family a key or signature algorithm belongs to.
type Variant int

const (
	NotGOST     Variant = iota
	GOST2015512         // GOST 34.10-2015, 512 bits: supported
	GOST2015256         // GOST 34.10-2015, 256 bits: no public sample to test against, refused
	GOST2004            // GOST 34.310-2004: its NCA chain expired in 2025, refused
	OtherGOST           // another GOST OID (e.g. the Russian arc)
)

func (v Variant) String() string {
	switch v {
	case GOST2015512:
		return "GOST 34.10-2015 (512)"
	case GOST2015256:
		return "GOST 34.10-2015 (256)"
	case GOST2004:
		return "GOST 34.310-2004"
	case OtherGOST:
		return "GOST (unknown variant)"
	}
	return "not GOST"
}

// VariantOf classifies a key or signature algorithm OID.
func VariantOf(oid asn1.ObjectIdentifier) Variant {
	switch {
	case oid.Equal(OIDKeyGOST2015_512), oid.Equal(OIDSignatureGOST2015_512):
		return GOST2015512
	case oid.Equal(OIDKeyGOST2015_256), oid.Equal(OIDSignatureGOST2015_256):
		return GOST2015256
	case oid.Equal(OIDKeyGOST2004), oid.Equal(OIDSignatureGOST2004):
		return GOST2004
	case hasPrefix(oid, oidArcKZGOST), hasPrefix(oid, oidArcRUGOST):
		return OtherGOST
	}
	return NotGOST
}

func hasPrefix(oid, arc asn1.ObjectIdentifier) bool {
	return len(oid) >= len(arc) && oid[:len(arc)].Equal(arc)
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type subjectPublicKeyInfo struct {
	Algorithm algorithmIdentifier
	PublicKey asn1.BitString
}

// KeyVariant returns the GOST variant of a SubjectPublicKeyInfo (NotGOST if it is not GOST or
// cannot be read).
func KeyVariant(spki []byte) Variant {
	var k subjectPublicKeyInfo
	if rest, err := asn1.Unmarshal(spki, &k); err != nil || len(rest) != 0 {
		return NotGOST
	}
	return VariantOf(k.Algorithm.Algorithm)
}

// ParsePublicKey reads a SubjectPublicKeyInfo with a GOST 34.10-2015 512-bit key: algorithm
// 1.2.398.3.10.1.1.2.2 with parameters {curve 1.2.398.3.10.1.1.2.2.1 [, digest]} and the
// 128-byte key in an OCTET STRING.
func ParsePublicKey(spki []byte) (*PublicKey, error) {
	var k subjectPublicKeyInfo
	if rest, err := asn1.Unmarshal(spki, &k); err != nil || len(rest) != 0 {
		return nil, errors.New("gost: malformed SubjectPublicKeyInfo")
	}
	if v := VariantOf(k.Algorithm.Algorithm); v != GOST2015512 {
		return nil, fmt.Errorf("gost: key algorithm %s (%s) is not GOST 34.10-2015 512", k.Algorithm.Algorithm, v)
	}
	var params []asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(k.Algorithm.Parameters.FullBytes, &params); err != nil || len(rest) != 0 || len(params) == 0 {
		return nil, errors.New("gost: malformed key parameters")
	}
	if !params[0].Equal(OIDCurveGOST2015_512) {
		return nil, fmt.Errorf("gost: curve %s is not 1.2.398.3.10.1.1.2.2.1 (tc26 512 paramSetA)", params[0])
	}
	if len(params) > 1 && !params[1].Equal(OIDDigestGOST2015_512) {
		return nil, fmt.Errorf("gost: key digest %s is not Streebog-512", params[1])
	}
	if k.PublicKey.BitLength%8 != 0 {
		return nil, errors.New("gost: public key BIT STRING has unused bits")
	}
	var raw []byte
	if rest, err := asn1.Unmarshal(k.PublicKey.Bytes, &raw); err != nil || len(rest) != 0 {
		return nil, errors.New("gost: public key is not an OCTET STRING")
	}
	return ParseRawPublicKey(raw)
}

// MarshalPublicKey returns the SubjectPublicKeyInfo Kalkan writes for k.
func MarshalPublicKey(k *PublicKey) ([]byte, error) {
	params, err := asn1.Marshal([]asn1.ObjectIdentifier{OIDCurveGOST2015_512, OIDDigestGOST2015_512})
	if err != nil {
		return nil, err
	}
	raw, err := asn1.Marshal(k.Bytes())
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(subjectPublicKeyInfo{
		Algorithm: algorithmIdentifier{Algorithm: OIDKeyGOST2015_512, Parameters: asn1.RawValue{FullBytes: params}},
		PublicKey: asn1.BitString{Bytes: raw, BitLength: 8 * len(raw)},
	})
}

// signed is the outer shape of a certificate or a CRL: SEQUENCE { tbs, algorithm, BIT STRING }.
type signed struct {
	TBS       asn1.RawValue
	Algorithm algorithmIdentifier
	Signature asn1.BitString
}

// SignedAlgorithm returns the outer signatureAlgorithm of a DER certificate or CRL.
func SignedAlgorithm(der []byte) (asn1.ObjectIdentifier, error) {
	var s signed
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) != 0 {
		return nil, errors.New("gost: malformed signed structure")
	}
	return s.Algorithm.Algorithm, nil
}

// CheckSigned verifies the signature of a DER certificate or CRL made with the GOST
// 34.10-2015 512 key pub: the algorithm must be 1.2.398.3.10.1.1.2.3.2 and the signature the
// 128-byte BIT STRING content over Streebog-512 of the TBS bytes.
func CheckSigned(der []byte, pub *PublicKey) error {
	var s signed
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) != 0 {
		return errors.New("gost: malformed signed structure")
	}
	if v := VariantOf(s.Algorithm.Algorithm); v != GOST2015512 {
		return fmt.Errorf("gost: signature algorithm %s (%s) is not GOST 34.10-2015 512", s.Algorithm.Algorithm, v)
	}
	if s.Signature.BitLength != 8*SignatureSize {
		return fmt.Errorf("gost: signature is %d bits, want %d", s.Signature.BitLength, 8*SignatureSize)
	}
	if !Verify(pub, s.TBS.FullBytes, s.Signature.Bytes) {
		return errors.New("gost: signature does not verify")
	}
	return nil
}

// MarshalSigned wraps a TBS and a Kalkan-layout signature into a certificate or CRL with
// the GOST 34.10-2015 512 signature algorithm (NULL parameters, as NCA writes them). For
// package gosttest.
func MarshalSigned(tbs, sig []byte) ([]byte, error) {
	null := asn1.RawValue{FullBytes: []byte{0x05, 0x00}}
	return asn1.Marshal(signed{
		TBS:       asn1.RawValue{FullBytes: tbs},
		Algorithm: algorithmIdentifier{Algorithm: OIDSignatureGOST2015_512, Parameters: null},
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
}
