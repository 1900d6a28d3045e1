package main

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kezekbot/kezekbot/signer-link/fakencalayer"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// TestSandboxSignerGOST: the sandbox's fake NCALayer signs as the demo parent the document
// names — with GOST-2015-512 keys for sandboxGOSTParent, RSA for the others — and the
// sandbox's trust store verifies both.
func TestSandboxSignerGOST(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := newSandboxSigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.nca.Close() })
	v, err := xmlsig.NewVerifier(s.trust)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.Dial(ctx, s.nca.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, _, err := c.Read(ctx); err != nil { // the greeting
		t.Fatal(err)
	}
	for i, p := range postgres.DemoParents {
		doc := `<?xml version="1.0" encoding="UTF-8"?><kezekbot><action>bind</action><chat>` + strconv.Itoa(sandboxFirstParent+i) + `</chat></kezekbot>`
		req, _ := json.Marshal(map[string]any{"module": fakencalayer.ModuleBasics, "method": "sign", "args": map[string]any{
			"format": "xml", "data": doc, "signingParams": map[string]any{},
			"signerParams": map[string]any{"extKeyUsageOids": []string{fakencalayer.EKUAuth}}, "locale": "ru"}})
		if err := c.Write(ctx, websocket.MessageText, req); err != nil {
			t.Fatal(err)
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var reply struct {
			Body struct {
				Result []string `json:"result"`
			} `json:"body"`
		}
		if err := json.Unmarshal(b, &reply); err != nil || len(reply.Body.Result) != 1 {
			t.Fatalf("parent %d: reply %s", i, b)
		}
		res, err := v.Verify(ctx, []byte(reply.Body.Result[0]), xmlsig.Policy{Usage: xmlsig.UsageAuth, IIN: p.IIN})
		if err != nil {
			t.Fatalf("parent %d: %v", i, err)
		}
		want := xmlsig.AlgorithmRSA
		if i == sandboxGOSTParent {
			want = xmlsig.AlgorithmGOST2015_512
		}
		if res.Algorithm != want {
			t.Fatalf("parent %d signed with %s, want %s", i, res.Algorithm, want)
		}
	}
}
