package signerlink_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/internal/testenv"
)

// TestEvidenceVerifiesWithXmlsec1: the signed XML kept with the audit row verifies with
// xmlsec1, an independent verifier, byte for byte as stored (issue 17, finding 4), for a bind
// (AUTH key) and a revocation (SIGN key); and a signature with a PI after the root, which
// xmlsec1 refuses, is not accepted (so never stored). xmlsec1 is required in CI.
func TestEvidenceVerifiesWithXmlsec1(t *testing.T) {
	t.Parallel()
	bin := testenv.Tool(t, "xmlsec1", "xmlsec1")
	e := newEnv(t)
	p := e.parent(time.Hour)

	b := e.browser()
	b.open(e.issueBind(p).URL)
	doc := b.document()
	wantStatus(t, b.post(append(e.sign(doc, p.Auth), "<?evil x?>"...)), http.StatusBadRequest, "malformed")
	wantStatus(t, b.post(e.sign(doc, p.Auth)), http.StatusOK, "ok")
	e.res.next(t)

	rb := e.browser()
	rb.open(e.issueRevoke(p, flows.Kazakh).URL)
	wantStatus(t, rb.post(e.sign(rb.document(), p.Sign)), http.StatusOK, "ok")
	e.res.next(t)

	rows, err := e.db.Pool().Query(context.Background(), `SELECT action, evidence_xml FROM audit_log WHERE chat_id = $1 AND evidence_xml IS NOT NULL ORDER BY id`, p.ChatID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	dir := t.TempDir()
	root, inter := filepath.Join(dir, "root.pem"), filepath.Join(dir, "nca.pem")
	_ = os.WriteFile(root, e.ca.RootPEM(), 0o600)
	_ = os.WriteFile(inter, e.ca.IntermediatePEM(), 0o600)
	n := 0
	for rows.Next() {
		var action string
		var xml []byte
		if err := rows.Scan(&action, &xml); err != nil {
			t.Fatal(err)
		}
		n++
		f := filepath.Join(dir, action+".xml")
		if err := os.WriteFile(f, xml, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(t.Context(), bin, "--verify", "--trusted-pem", root, "--untrusted-pem", inter, f).CombinedOutput()
		if err != nil {
			t.Errorf("xmlsec1 --verify on the stored %s evidence: %v\n%s", action, err, out)
		}
	}
	if n != 2 {
		t.Fatalf("%d evidence rows, want 2 (bind, revoke)", n)
	}
}
