package streebog_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"hash"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/signer-link/gost/streebog"
)

// rfcHex decodes a number as RFC 6986 prints it (most significant byte first) into the byte
// string this package uses (least significant byte first).
func rfcHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(b)
	return b
}

// TestRFC6986 checks the examples of RFC 6986 §10: M1 (63 bytes) and M2 (72 bytes, a line
// of «Слово о полку Игореве» in CP1251), both sizes, in one call and byte by byte.
func TestRFC6986(t *testing.T) {
	m1 := rfcHex(t, `323130393837363534333231303938373635343332313039383736353433323130393837363534333231303938373635343332313039383736353433323130`)
	m2 := rfcHex(t, `fbe2e5f0eee3c820fbeafaebef20fffbf0e1e0f0f520e0ed20e8ece0ebe5f0f2f120fff0eeec20f120faf2fee5e2202ce8f6f3ede220e8e6eee1e8f0f2d1202ce8f0f2e5e220e5d1`)
	if string(m1) != "012345678901234567890123456789012345678901234567890123456789012" {
		t.Fatalf("M1 decoded to %q", m1)
	}
	tests := []struct {
		name string
		msg  []byte
		new  func() hash.Hash
		want string // as printed in the RFC
	}{
		{"M1/512", m1, streebog.New512, `486f64c1917879417fef082b3381a4e211c324f074654c38823a7b76f830ad00fa1fbae42b1285c0352f227524bc9ab16254288dd6863dccd5b9f54a1ad0541b`},
		{"M1/256", m1, streebog.New256, `00557be5e584fd52a449b16b0251d05d27f94ab76cbaa6da890b59d8ef1e159d`},
		{"M2/512", m2, streebog.New512, `28fbc9bada033b1460642bdcddb90c3fb3e56c497ccd0f62b8a2ad4935e85f037613966de4ee00531ae60f3b5a47f8dae06915d5f2f194996fcabf2622e6881e`},
		{"M2/256", m2, streebog.New256, `508f7e553c06501d749a66fc28c6cac0b005746d97537fa85d9e40904efed29d`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := rfcHex(t, tc.want)
			h := tc.new()
			h.Write(tc.msg)
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("Sum = %x, want %x", got, want)
			}
			// Sum does not change the state; Reset starts over; byte-wise writes agree.
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("second Sum = %x", got)
			}
			h.Reset()
			for i := range tc.msg {
				h.Write(tc.msg[i : i+1])
			}
			if got := h.Sum([]byte("prefix")); !bytes.Equal(got[6:], want) || string(got[:6]) != "prefix" {
				t.Fatalf("byte-wise Sum = %x", got)
			}
			var one []byte
			if h.Size() == streebog.Size512 {
				s := streebog.Sum512(tc.msg)
				one = s[:]
			} else {
				s := streebog.Sum256(tc.msg)
				one = s[:]
			}
			if !bytes.Equal(one, want) {
				t.Fatalf("SumNNN = %x", one)
			}
			if h.BlockSize() != 64 {
				t.Fatalf("BlockSize %d", h.BlockSize())
			}
		})
	}
}

// oracle hashes every message with OpenSSL's GOST engine in two openssl runs (one per size),
// writing the messages as files: one process per message would take minutes.
func oracle(t testing.TB, msgs [][]byte) (h512, h256 [][]byte) {
	t.Helper()
	bin := testenv.OpenSSLGOST(t)
	dir := t.TempDir()
	files := make([]string, len(msgs))
	for i, m := range msgs {
		files[i] = filepath.Join(dir, fmt.Sprintf("m%05d", i))
		if err := os.WriteFile(files[i], m, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := func(md string) [][]byte {
		cmd := exec.Command(bin, append([]string{"dgst", "-engine", "gost", "-" + md, "-r"}, files...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl %s: %v: %s", md, err, stderr.String())
		}
		var sums [][]byte
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			// "<hex> *<file>"; the engine's "Engine "gost" set." goes to stderr.
			f := strings.Fields(sc.Text())
			if len(f) != 2 || f[1] != "*"+files[len(sums)] {
				t.Fatalf("openssl %s: unexpected line %q", md, sc.Text())
			}
			b, err := hex.DecodeString(f[0])
			if err != nil {
				t.Fatalf("openssl %s: %v", md, err)
			}
			sums = append(sums, b)
		}
		if len(sums) != len(msgs) {
			t.Fatalf("openssl %s: %d sums for %d messages", md, len(sums), len(msgs))
		}
		return sums
	}
	return run("md_gost12_512"), run("md_gost12_256")
}

func check(t *testing.T, msgs [][]byte) {
	t.Helper()
	h512, h256 := oracle(t, msgs)
	for i, m := range msgs {
		a, b := streebog.Sum512(m), streebog.Sum256(m)
		if !bytes.Equal(a[:], h512[i]) {
			t.Errorf("len %d: Streebog-512 %x, OpenSSL %x", len(m), a, h512[i])
		}
		if !bytes.Equal(b[:], h256[i]) {
			t.Errorf("len %d: Streebog-256 %x, OpenSSL %x", len(m), b, h256[i])
		}
	}
}

// TestOracle compares with OpenSSL's GOST engine on every length 0…200, the block
// boundaries up to 4 blocks, and random lengths up to 1000, with random and with 0xFF bytes
// (0xFF makes every addition mod 2^512 in Σ carry).
func TestOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var msgs [][]byte
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	for n := 0; n <= 200; n++ {
		msgs = append(msgs, random(n))
	}
	for _, n := range []int{255, 256, 257, 319, 320, 321} {
		msgs = append(msgs, random(n))
	}
	for range 150 {
		msgs = append(msgs, random(r.IntN(1001)))
	}
	for _, n := range []int{63, 64, 65, 127, 128, 129, 1000} {
		msgs = append(msgs, bytes.Repeat([]byte{0xff}, n))
	}
	check(t, msgs)
}

// FuzzStreebog: any input hashes as OpenSSL's GOST engine hashes it, in one Write or split.
func FuzzStreebog(f *testing.F) {
	testenv.OpenSSLGOST(f)
	f.Add([]byte(""), uint16(0))
	f.Add([]byte("012345678901234567890123456789012345678901234567890123456789012"), uint16(5))
	f.Add(bytes.Repeat([]byte{0xff}, 64), uint16(63))
	f.Add(bytes.Repeat([]byte{0}, 129), uint16(64))
	f.Fuzz(func(t *testing.T, msg []byte, split uint16) {
		check(t, [][]byte{msg})
		k := int(split) % (len(msg) + 1)
		h := streebog.New512()
		h.Write(msg[:k])
		h.Write(msg[k:])
		if want := streebog.Sum512(msg); !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("split at %d differs", k)
		}
	})
}

func BenchmarkSum512(b *testing.B) {
	for _, n := range []int{64, 2048} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			msg := make([]byte, n)
			b.SetBytes(int64(n))
			for b.Loop() {
				streebog.Sum512(msg)
			}
		})
	}
}
