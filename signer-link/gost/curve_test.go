//lint:file-ignore SA1019 the tests cross-check the GOST curves with crypto/elliptic's generic CurveParams arithmetic, the one standard-library arithmetic for curves crypto/ecdsa does not offer; public data only

package gost_test

import (
	"crypto/elliptic"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/kezekbot/kezekbot/signer-link/gost"
)

// The curve through crypto/elliptic's generic (deprecated, slow) a = −3 arithmetic: an
// independent implementation to compare this package's own with.
func refCurve() *elliptic.CurveParams {
	h := func(s string) *big.Int { v, _ := new(big.Int).SetString(s, 16); return v }
	return &elliptic.CurveParams{
		Name:    "id-tc26-gost-3410-12-512-paramSetA",
		P:       h("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC7"),
		N:       gost.Q(),
		B:       h("E8C2505DEDFC86DDC1BD0B2B6667F1DA34B82574761CB0E879BD081CFD0B6265EE3CB090F30D27614CB4574010DA90DD862EF9D4EBEE4761503190785A71C760"),
		Gx:      big.NewInt(3),
		Gy:      h("7503CFE87A836AE3A61B8816E25450E6CE5E1C93ACF1ABC1778064FDCBEFA921DF1626BE4FD036E93D75E6A50E3A41E98028FE5FC235F5B889A589CB5215F2A4"),
		BitSize: 512,
	}
}

// TestBaseMulAgainstStdlib compares k·G with crypto/elliptic for small, large and random k.
func TestBaseMulAgainstStdlib(t *testing.T) {
	ref := refCurve()
	q := gost.Q()
	r := rand.New(rand.NewPCG(3, 4))
	ks := []*big.Int{big.NewInt(1), big.NewInt(2), big.NewInt(15), big.NewInt(16), big.NewInt(17), new(big.Int).Sub(q, big.NewInt(1)), new(big.Int).Sub(q, big.NewInt(2))}
	for range 12 {
		b := make([]byte, 64)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		k := new(big.Int).SetBytes(b)
		k.Mod(k, q)
		if k.Sign() == 0 {
			k.SetInt64(5)
		}
		ks = append(ks, k)
	}
	for _, k := range ks {
		x, y, err := gost.BaseMul(k)
		if err != nil {
			t.Fatal(err)
		}
		wx, wy := ref.ScalarBaseMult(k.Bytes())
		if x.Cmp(wx) != 0 || y.Cmp(wy) != 0 {
			t.Fatalf("k=%x: got (%x, %x), crypto/elliptic (%x, %x)", k, x, y, wx, wy)
		}
		if !ref.IsOnCurve(x, y) {
			t.Fatal("not on curve")
		}
	}
	if _, _, err := gost.BaseMul(q); err == nil {
		t.Fatal("BaseMul(q) accepted")
	}
}

// FuzzParsePublicKey: a SubjectPublicKeyInfo from a certificate is outside input.
func FuzzParsePublicKey(f *testing.F) {
	k, _ := gost.ParseRawPublicKey(func() []byte {
		x, y, _ := gost.BaseMul(big.NewInt(7))
		return (&gost.PublicKey{X: x, Y: y}).Bytes()
	}())
	der, _ := gost.MarshalPublicKey(k)
	f.Add(der)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := gost.ParsePublicKey(b)
		if err == nil && !refCurve().IsOnCurve(pk.X, pk.Y) {
			t.Fatal("accepted a point off the curve")
		}
		_ = gost.KeyVariant(b)
		_ = gost.CheckSigned(b, k)
	})
}
