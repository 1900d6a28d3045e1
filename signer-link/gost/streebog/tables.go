package streebog

import (
	"encoding/binary"
	"encoding/hex"
)

var (
	// c holds C_1…C_12 as little-endian words, the layout of the state.
	c [12][8]uint64
	// t[i][b] is L applied to the word whose byte i is π(b) and whose other bytes are 0, so
	// that LPS is eight table lookups and XORs per output word.
	t [8][256]uint64
)

func init() {
	for r, s := range cHex {
		be, err := hex.DecodeString(s)
		if err != nil || len(be) != 64 {
			panic("streebog: bad constant C") // a typo in consts.go; caught by every test
		}
		var le [64]byte
		for i := range le {
			le[i] = be[63-i]
		}
		for i := range c[r] {
			c[r][i] = binary.LittleEndian.Uint64(le[8*i:])
		}
	}
	for i := range t {
		for b := range 256 {
			t[i][b] = linear(uint64(pi[b]) << (8 * i))
		}
	}
}

// linear is l from RFC 6986 §5: bit k of w (k = 0 least significant) selects A_{63-k}.
func linear(w uint64) uint64 {
	var r uint64
	for k := range 64 {
		if w>>k&1 == 1 {
			r ^= matrixA[63-k]
		}
	}
	return r
}
