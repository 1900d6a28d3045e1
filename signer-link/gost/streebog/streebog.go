// Package streebog implements the GOST R 34.11-2012 hash function "Streebog" (RFC 6986) with
// 512-bit and 256-bit output, as hash.Hash values.
//
// Byte order: the RFC writes messages and hash codes as numbers, most significant byte first.
// This package, like OpenSSL's gost engine and Kalkan, works on byte strings: the first byte
// of the input is the least significant byte of the RFC's number, and Sum returns the hash
// code least significant byte first. So the RFC's hash of M1, written there as
// 486f64c1…1ad0541b, is Sum512(M1) = 1b54d01a…c1646f48 here (the same bytes reversed).
package streebog

import (
	"encoding/binary"
	"hash"
)

const (
	// BlockSize is the block size of Streebog in bytes.
	BlockSize = 64
	// Size512 and Size256 are the sizes of the two hash codes in bytes.
	Size512 = 64
	Size256 = 32
)

type digest struct {
	size  int // Size512 or Size256
	h     [8]uint64
	n     [8]uint64 // bits processed, a 512-bit number (little-endian words)
	sigma [8]uint64 // sum of the blocks mod 2^512
	buf   [BlockSize]byte
	nbuf  int
}

// New512 returns a Streebog-512 hash.
func New512() hash.Hash { d := &digest{size: Size512}; d.Reset(); return d }

// New256 returns a Streebog-256 hash.
func New256() hash.Hash { d := &digest{size: Size256}; d.Reset(); return d }

// Sum512 returns the Streebog-512 hash code of b.
func Sum512(b []byte) [Size512]byte {
	d := digest{size: Size512}
	d.Reset()
	d.Write(b)
	var out [Size512]byte
	d.checkSum(out[:0])
	return out
}

// Sum256 returns the Streebog-256 hash code of b.
func Sum256(b []byte) [Size256]byte {
	d := digest{size: Size256}
	d.Reset()
	d.Write(b)
	var out [Size256]byte
	d.checkSum(out[:0])
	return out
}

func (d *digest) Size() int      { return d.size }
func (d *digest) BlockSize() int { return BlockSize }

func (d *digest) Reset() {
	// IV: 0^512 for the 512-bit hash, (00000001)^64 for the 256-bit one (RFC 6986 §5).
	var iv uint64
	if d.size == Size256 {
		iv = 0x0101010101010101
	}
	for i := range d.h {
		d.h[i] = iv
	}
	d.n = [8]uint64{}
	d.sigma = [8]uint64{}
	d.nbuf = 0
}

func (d *digest) Write(p []byte) (int, error) {
	n := len(p)
	if d.nbuf > 0 {
		k := copy(d.buf[d.nbuf:], p)
		d.nbuf += k
		p = p[k:]
		if d.nbuf < BlockSize {
			return n, nil
		}
		d.block(&d.buf)
		d.nbuf = 0
	}
	for len(p) >= BlockSize {
		d.block((*[BlockSize]byte)(p[:BlockSize]))
		p = p[BlockSize:]
	}
	d.nbuf = copy(d.buf[:], p)
	return n, nil
}

// Sum appends the hash code of what was written to b; d is not changed.
func (d *digest) Sum(b []byte) []byte {
	c := *d
	return c.checkSum(b)
}

func (d *digest) checkSum(b []byte) []byte {
	// Stage 3 (RFC 6986 §8.3): pad the rest (possibly empty) with a 1 bit then zeros.
	var m [8]uint64
	var last [BlockSize]byte
	copy(last[:], d.buf[:d.nbuf])
	last[d.nbuf] = 0x01
	load(&m, &last)
	g(&d.h, &d.n, &m)
	add512(&d.n, uint64(d.nbuf)*8)
	addWords(&d.sigma, &m)
	var zero [8]uint64
	g(&d.h, &zero, &d.n)
	g(&d.h, &zero, &d.sigma)
	var out [BlockSize]byte
	for i, w := range d.h {
		binary.LittleEndian.PutUint64(out[8*i:], w)
	}
	if d.size == Size256 {
		return append(b, out[32:]...) // the most significant half
	}
	return append(b, out[:]...)
}

// block is stage 2 for one full block.
func (d *digest) block(p *[BlockSize]byte) {
	var m [8]uint64
	load(&m, p)
	g(&d.h, &d.n, &m)
	add512(&d.n, 512)
	addWords(&d.sigma, &m)
}

func load(m *[8]uint64, p *[BlockSize]byte) {
	for i := range m {
		m[i] = binary.LittleEndian.Uint64(p[8*i:])
	}
}

// add512 adds a small number to a 512-bit number, mod 2^512.
func add512(a *[8]uint64, v uint64) {
	for i := range a {
		s := a[i] + v
		carry := s < v
		a[i] = s
		if !carry {
			return
		}
		v = 1
	}
}

// addWords is a += b mod 2^512.
func addWords(a, b *[8]uint64) {
	var carry uint64
	for i := range a {
		s := a[i] + b[i]
		c1 := s < a[i]
		s2 := s + carry
		c2 := s2 < s
		a[i] = s2
		carry = 0
		if c1 || c2 {
			carry = 1
		}
	}
}

// g is the compression function g_N(h, m) = E(LPS(h ⊕ N), m) ⊕ h ⊕ m (RFC 6986 §7).
func g(h, n, m *[8]uint64) {
	var k, s [8]uint64
	for i := range k {
		k[i] = h[i] ^ n[i]
	}
	lps(&k)
	for i := range s {
		s[i] = m[i]
	}
	// E(K, m) = X[K13] LPSX[K12] … LPSX[K1](m), with K_{i+1} = LPS(K_i ⊕ C_i).
	for r := 0; r < 12; r++ {
		for i := range s {
			s[i] ^= k[i]
		}
		lps(&s)
		for i := range k {
			k[i] ^= c[r][i]
		}
		lps(&k)
	}
	for i := range h {
		h[i] ^= s[i] ^ k[i] ^ m[i]
	}
}

// lps is L(P(S(x))) through the precomputed tables: byte i of word j after P is byte j of
// word i before it (τ transposes the 8×8 byte matrix).
func lps(x *[8]uint64) {
	var out [8]uint64
	for j := range out {
		sh := uint(8 * j)
		out[j] = t[0][byte(x[0]>>sh)] ^ t[1][byte(x[1]>>sh)] ^ t[2][byte(x[2]>>sh)] ^ t[3][byte(x[3]>>sh)] ^
			t[4][byte(x[4]>>sh)] ^ t[5][byte(x[5]>>sh)] ^ t[6][byte(x[6]>>sh)] ^ t[7][byte(x[7]>>sh)]
	}
	*x = out
}
