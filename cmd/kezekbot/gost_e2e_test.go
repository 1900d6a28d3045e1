package main

import (
	"context"
	"strings"
	"testing"
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
