package gost

import (
	"math/big"
	"math/bits"
)

// Arithmetic in GF(p) for p = 2^512 − 569 (the prime of id-tc26-gost-3410-12-512-paramSetA)
// on eight 64-bit limbs, least significant first, always fully reduced (0 ≤ x < p). The
// special form of p makes reduction two multiply-by-569 folds. Not constant time: this
// package only verifies signatures over public data.

type fe [8]uint64

const pFold = 569 // 2^512 ≡ 569 (mod p)

// addFold adds v·(2^512 mod p) back into r, for the carry out of a 512-bit operation.
func (r *fe) foldCarry(carry uint64) {
	for carry != 0 {
		hi, lo := bits.Mul64(carry, pFold)
		var c uint64
		r[0], c = bits.Add64(r[0], lo, 0)
		r[1], c = bits.Add64(r[1], hi, c)
		for i := 2; i < 8 && c != 0; i++ {
			r[i], c = bits.Add64(r[i], 0, c)
		}
		carry = c
	}
}

// reduceOnce maps r in [0, 2^512) to [0, p): r ≥ p exactly when r + 569 overflows.
func (r *fe) reduceOnce() {
	var t fe
	var c uint64
	t[0], c = bits.Add64(r[0], pFold, 0)
	for i := 1; i < 8; i++ {
		t[i], c = bits.Add64(r[i], 0, c)
	}
	if c != 0 {
		*r = t
	}
}

func feAdd(r, a, b *fe) {
	var c uint64
	for i := range r {
		r[i], c = bits.Add64(a[i], b[i], c)
	}
	r.foldCarry(c)
	r.reduceOnce()
}

func feSub(r, a, b *fe) {
	var borrow uint64
	for i := range r {
		r[i], borrow = bits.Sub64(a[i], b[i], borrow)
	}
	if borrow != 0 {
		// r = a − b + 2^512; a − b + p = r − 569, which cannot borrow (r ≥ 2^512 − p + 1).
		var bb uint64
		r[0], bb = bits.Sub64(r[0], pFold, 0)
		for i := 1; i < 8; i++ {
			r[i], bb = bits.Sub64(r[i], 0, bb)
		}
	}
}

func feMul(r, a, b *fe) {
	var t [16]uint64
	for i := 0; i < 8; i++ {
		var carry uint64
		ai := a[i]
		for j := 0; j < 8; j++ {
			hi, lo := bits.Mul64(ai, b[j])
			var c uint64
			lo, c = bits.Add64(lo, t[i+j], 0)
			hi += c
			lo, c = bits.Add64(lo, carry, 0)
			hi += c
			t[i+j] = lo
			carry = hi
		}
		t[i+8] = carry
	}
	// t = lo + 2^512·hi ≡ lo + 569·hi.
	var carry uint64
	for i := 0; i < 8; i++ {
		hi, lo := bits.Mul64(t[8+i], pFold)
		var c uint64
		lo, c = bits.Add64(lo, t[i], 0)
		hi += c
		lo, c = bits.Add64(lo, carry, 0)
		hi += c
		r[i] = lo
		carry = hi
	}
	r.foldCarry(carry)
	r.reduceOnce()
}

func feSqr(r, a *fe) { feMul(r, a, a) }

func (r *fe) isZero() bool {
	var acc uint64
	for _, w := range r {
		acc |= w
	}
	return acc == 0
}

// feFromBig sets r to x, which must be in [0, p).
func feFromBig(x *big.Int) fe {
	var b [64]byte
	x.FillBytes(b[:])
	var r fe
	for i := range r {
		for k := 0; k < 8; k++ {
			r[i] |= uint64(b[63-8*i-k]) << (8 * k)
		}
	}
	return r
}

func (r *fe) big() *big.Int {
	var b [64]byte
	for i, w := range r {
		for k := 0; k < 8; k++ {
			b[63-8*i-k] = byte(w >> (8 * k))
		}
	}
	return new(big.Int).SetBytes(b[:])
}
