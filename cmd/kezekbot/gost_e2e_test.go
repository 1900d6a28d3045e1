package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// scenarioGOST: a parent whose ЭЦП keys are GOST 34.10-2015 512 binds the chat and revokes a
// referral through the binary, exactly as with RSA keys; the audit row keeps the GOST-signed
// document as evidence. A GOST AUTH key is refused for the revocation.
func scenarioGOST(t *testing.T, e *e2eEnv) {
	c := e.chat(5951, "ru", 0)
	c.gost = true
	openRevoke(t, c) // binds with the GOST AUTH key on the way
	s := c.pressKey("btn.confirm")
	c.wantText(s, e.tr("ru", "sign_link.title", nil), appRevocable)
	b := e.browser()
	b.open(c.linkOf("btn.sign"))
	doc := b.document()
	if r := b.post(e.sign(doc, e.gostKeys[0].auth)); r.OK || r.Reason != "key_usage" {
		t.Fatalf("revoke signed with the GOST AUTH key: %d %q, want key_usage", r.Status, r.Reason)
	}
	seq := len(e.tg.Calls())
	if r := b.post(e.sign(doc, e.gostKeys[0].sign)); !r.OK {
		t.Fatalf("revoke POST: %d %s (%s)", r.Status, r.Reason, r.Message)
	}
	s = c.result(seq, "")
	c.wantText(s, e.tr("ru", "revoked.title", nil), appRevocable, e.tr("ru", "status.queued", nil))

	var n int
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM audit_log
		WHERE chat_id = $1 AND position('gostr34102015-gostr34112015-512' in convert_from(evidence_xml, 'UTF8')) > 0`, c.id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d audit rows with GOST evidence, want 2 (bind and revoke)", n)
	}
	if strings.Contains(s.Text, "ГОСТ") {
		t.Fatalf("the result mentions GOST: %q", s.Text)
	}
}

// TestVerifyXMLGOSTTestCA: verify-xml with a trust directory holding the GOST test CA only
// (as a city that trusts only NCA's GOST 2022 CAs would have) accepts a GOST-signed document,
// prints the algorithm, and refuses an RSA one as untrusted.
func TestVerifyXMLGOSTTestCA(t *testing.T) {
	ca, err := xmlsigtest.NewGOSTCA()
	if err != nil {
		t.Fatal(err)
	}
	trust := t.TempDir()
	if err := ca.WriteTrustDir(trust); err != nil {
		t.Fatal(err)
	}
	p, err := ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign})
	if err != nil {
		t.Fatal(err)
	}
	rsaCA, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	rp, err := rsaCA.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign})
	if err != nil {
		t.Fatal(err)
	}
	write := func(p *xmlsigtest.Person) string {
		signed, err := xmlsigtest.Sign([]byte(`<kezekbot><action>revoke</action></kezekbot>`), p)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "signed.xml")
		if err := os.WriteFile(f, signed, 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	code, out, stderr := runVerifyXMLForTest(t, "--trust", trust, "--usage", "sign", "--iin", xmlsigtest.DefaultIIN, write(p))
	if code != 0 || out["algorithm"] != "gost2015-512" || out["usage"] != "sign" || stderr != "" {
		t.Fatalf("exit %d, %v, stderr %q", code, out, stderr)
	}
	code, out, _ = runVerifyXMLForTest(t, "--trust", trust, write(rp))
	if code != 1 || out["reason"] != "chain" {
		t.Fatalf("RSA under GOST-only trust: exit %d, %v", code, out)
	}
}
