package xmlsig_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// unsignedDoc is shaped like the documents kezekbot issues (about 0.4 KiB unsigned).
const unsignedDoc = `<?xml version="1.0" encoding="UTF-8"?><kezekbot xmlns="urn:kezekbot:sign:1"><action>bind</action><nonce>kq3Zp8Yw1rT0sLx2VbN9cA</nonce><chat>481516234</chat><issued>2026-11-23T18:00:00Z</issued><text>Я, родитель, подтверждаю привязку аккаунта Telegram к заявлениям в очереди детского сада.</text></kezekbot>`

// env is a test CA with people and a verifier that trusts it.
type env struct {
	ca       *xmlsigtest.CA
	verifier *xmlsig.Verifier
	auth     *xmlsigtest.Person
	sign     *xmlsigtest.Person
}

func mustEnv(tb testing.TB, opts ...xmlsig.Option) *env {
	tb.Helper()
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		tb.Fatal(err)
	}
	v, err := ca.Verifier(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return &env{
		ca:       ca,
		verifier: v,
		auth:     mustIssue(tb, ca, xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth}),
		sign:     mustIssue(tb, ca, xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign}),
	}
}

func mustIssue(tb testing.TB, ca *xmlsigtest.CA, o xmlsigtest.PersonOptions) *xmlsigtest.Person {
	tb.Helper()
	p, err := ca.Issue(o)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func mustSign(tb testing.TB, doc string, p *xmlsigtest.Person) string {
	tb.Helper()
	out, err := xmlsigtest.Sign([]byte(doc), p)
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}

// signatureOf returns the ds:Signature element text of a document signed by xmlsigtest.Sign.
func signatureOf(tb testing.TB, signed string) string {
	tb.Helper()
	i := strings.Index(signed, "<ds:Signature")
	j := strings.Index(signed, "</ds:Signature>")
	if i < 0 || j < i {
		tb.Fatalf("no signature in %q", signed)
	}
	return signed[i : j+len("</ds:Signature>")]
}

// sampleRow is one line of the NCALayer corpus's expected.tsv.
type sampleRow struct {
	line     int
	file     string
	usage    xmlsig.Usage
	iin      string // "" = don't check
	at       time.Time
	valid    bool
	trustDir string // absolute
	raw      []string
}

func readSamples(tb testing.TB) (string, []sampleRow) {
	tb.Helper()
	return readSampleDir(tb, testenv.NCALayerSamples(tb))
}

// readSampleDir reads dir/expected.tsv (the NCALayer and the GOST corpora share the format).
func readSampleDir(tb testing.TB, dir string) (string, []sampleRow) {
	tb.Helper()
	f, err := os.Open(filepath.Join(dir, "expected.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var rows []sampleRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 6 {
			tb.Fatalf("expected.tsv:%d: want 6 columns, got %d", n, len(c))
		}
		u, err := xmlsig.ParseUsage(c[1])
		if err != nil {
			tb.Fatalf("expected.tsv:%d: %v", n, err)
		}
		at, err := time.Parse(time.RFC3339, c[3])
		if err != nil {
			tb.Fatalf("expected.tsv:%d: %v", n, err)
		}
		iin := c[2]
		if iin == "-" {
			iin = ""
		}
		if c[4] != "0" && c[4] != "1" {
			tb.Fatalf("expected.tsv:%d: expect must be 0 or 1, got %q", n, c[4])
		}
		rows = append(rows, sampleRow{
			line: n, file: filepath.Join(dir, "cases", c[0]), usage: u, iin: iin, at: at,
			valid: c[4] == "0", trustDir: filepath.Join(dir, c[5]), raw: c,
		})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(rows) == 0 {
		tb.Fatal("expected.tsv has no rows")
	}
	return dir, rows
}
