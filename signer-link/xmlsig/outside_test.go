package xmlsig_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

// TestVerify_NothingOutsideTheRoot: a processing instruction or comment outside the root is
// no part of the document we issued and is refused (issue 17, finding 4). Before, a PI after
// the root passed and was stored as evidence that xmlsec1 then failed to verify.
func TestVerify_NothingOutsideTheRoot(t *testing.T) {
	e := mustEnv(t)
	signed := mustSign(t, unsignedDoc, e.auth)
	decl, body, ok := strings.Cut(signed, "?>")
	if !ok {
		t.Fatal("signed document has no XML declaration")
	}
	decl += "?>"
	for name, doc := range map[string]string{
		"PI after root":            signed + `<?evil payload?>`,
		"PI after root and LF":     signed + "\n<?xml-stylesheet href=\"x\"?>\n",
		"PI between decl and root": decl + `<?evil x?>` + body,
		"PI before root, no decl":  `<?evil x?>` + body,
		"second declaration-like":  decl + `<?xml version="1.0"?>` + body,
		"comment after root":       signed + "<!-- after -->",
		"comment before root":      decl + "<!-- before -->" + body,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.verifier.Verify(context.Background(), []byte(doc), xmlsig.Policy{Usage: xmlsig.UsageAuth})
			if xmlsig.ReasonOf(err) != xmlsig.ReasonMalformed {
				t.Fatalf("Verify = %v, want %s", err, xmlsig.ReasonMalformed)
			}
		})
	}
	// The declaration itself, and whitespace around the root, stay fine.
	for _, doc := range []string{signed, body, signed + "\n\n"} {
		if _, err := e.verifier.Verify(context.Background(), []byte(doc), xmlsig.Policy{Usage: xmlsig.UsageAuth}); err != nil {
			t.Errorf("plain document refused: %v", err)
		}
	}
}

// TestXmlsec1AgreesOnWhatWeAccept: xmlsec1, an independent verifier, accepts the signed
// document we accept and refuses the PI-after-root variant we now refuse too. In CI xmlsec1
// must be there (.ci/run installs it); elsewhere the test skips without it.
func TestXmlsec1AgreesOnWhatWeAccept(t *testing.T) {
	bin := testenv.Tool(t, "xmlsec1", "xmlsec1")
	e := mustEnv(t)
	signed := mustSign(t, unsignedDoc, e.auth)
	if err := xmlsec1Verify(t, bin, e.ca.RootPEM(), e.ca.IntermediatePEM(), []byte(signed)); err != nil {
		t.Fatalf("xmlsec1 refuses a document we accept: %v", err)
	}
	if err := xmlsec1Verify(t, bin, e.ca.RootPEM(), e.ca.IntermediatePEM(), []byte(signed+"<?evil payload?>")); err == nil {
		t.Fatal("xmlsec1 accepts a PI after the root: the finding's premise changed")
	}
}

// xmlsec1Verify runs `xmlsec1 --verify` on doc exactly as given, trusting root and
// intermediate. It returns nil when xmlsec1 says OK.
func xmlsec1Verify(t *testing.T, bin string, root, intermediate, doc []byte) error {
	t.Helper()
	dir := t.TempDir()
	for name, b := range map[string][]byte{"root.pem": root, "nca.pem": intermediate, "doc.xml": doc} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.CommandContext(t.Context(), bin, "--verify",
		"--trusted-pem", filepath.Join(dir, "root.pem"),
		"--untrusted-pem", filepath.Join(dir, "nca.pem"),
		filepath.Join(dir, "doc.xml")).CombinedOutput()
	if err != nil {
		return &xmlsec1Error{err: err, out: string(out)}
	}
	return nil
}

type xmlsec1Error struct {
	err error
	out string
}

func (e *xmlsec1Error) Error() string { return e.err.Error() + ": " + e.out }
