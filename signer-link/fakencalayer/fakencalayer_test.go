package fakencalayer_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kezekbot/kezekbot/signer-link/fakencalayer"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

const doc = `<?xml version="1.0" encoding="UTF-8"?><kezekbot:request xmlns:kezekbot="urn:kezekbot:v1"><action>bind</action></kezekbot:request>`

func setup(t *testing.T, mode fakencalayer.Mode) (*fakencalayer.Server, *xmlsig.Verifier) {
	t.Helper()
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth})
	if err != nil {
		t.Fatal(err)
	}
	sign, err := ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ca.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	s, err := fakencalayer.Start(t.Context(), fakencalayer.Options{Auth: auth, Sign: sign, Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, v
}

// conn is a page's side of the socket.
type conn struct {
	t *testing.T
	c *websocket.Conn
}

func dial(t *testing.T, s *fakencalayer.Server) *conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.URL(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	cn := &conn{t, c}
	hello := cn.read()
	if r, ok := hello["result"].(map[string]any); !ok || r["version"] != fakencalayer.Version {
		t.Fatalf("hello = %v", hello)
	}
	return cn
}

func (c *conn) read() map[string]any {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
	defer cancel()
	_, b, err := c.c.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("reply is not JSON: %s", b)
	}
	return m
}

func (c *conn) call(v any) map[string]any {
	c.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return c.read()
}

func basics(eku string) map[string]any {
	return map[string]any{"module": fakencalayer.ModuleBasics, "method": "sign", "args": map[string]any{
		"format": "xml", "data": doc, "signingParams": map[string]any{},
		"signerParams": map[string]any{"extKeyUsageOids": []string{eku}}, "locale": "kk"}}
}

func legacy(keyType string) map[string]any {
	return map[string]any{"module": fakencalayer.ModuleCommonUtils, "method": "signXml",
		"args": []string{"PKCS12", keyType, doc, "", ""}}
}

func basicsResult(t *testing.T, m map[string]any) string {
	t.Helper()
	body, _ := m["body"].(map[string]any)
	res, _ := body["result"].([]any)
	if m["status"] != true || len(res) != 1 {
		t.Fatalf("basics reply = %v", m)
	}
	return res[0].(string)
}

func verify(t *testing.T, v *xmlsig.Verifier, signed string, u xmlsig.Usage) {
	t.Helper()
	res, err := v.Verify(t.Context(), []byte(signed), xmlsig.Policy{Usage: u})
	if err != nil {
		t.Fatalf("verify %v: %v", u, err)
	}
	want, _ := xmlsig.Canonicalize([]byte(doc))
	if string(res.Canonical) != string(want) {
		t.Fatalf("signed something else: %s", res.Canonical)
	}
}

func TestSign(t *testing.T) {
	s, v := setup(t, fakencalayer.Sign)
	c := dial(t, s)
	verify(t, v, basicsResult(t, c.call(basics(fakencalayer.EKUAuth))), xmlsig.UsageAuth)
	verify(t, v, basicsResult(t, c.call(basics(fakencalayer.EKUSign))), xmlsig.UsageSign)

	m := c.call(legacy("SIGNATURE"))
	if m["code"] != "200" {
		t.Fatalf("legacy reply = %v", m)
	}
	verify(t, v, m["responseObject"].(string), xmlsig.UsageSign)
	m = c.call(legacy("AUTHENTICATION"))
	verify(t, v, m["responseObject"].(string), xmlsig.UsageAuth)

	for i, want := range []fakencalayer.Request{
		{Module: fakencalayer.ModuleBasics, Method: "sign", Usage: xmlsig.UsageAuth, Locale: "kk", Data: doc},
		{Module: fakencalayer.ModuleBasics, Method: "sign", Usage: xmlsig.UsageSign, Locale: "kk", Data: doc},
		{Module: fakencalayer.ModuleCommonUtils, Method: "signXml", Usage: xmlsig.UsageSign, Data: doc},
		{Module: fakencalayer.ModuleCommonUtils, Method: "signXml", Usage: xmlsig.UsageAuth, Data: doc},
	} {
		select {
		case got := <-s.Requests():
			if got != want {
				t.Errorf("request %d = %+v, want %+v", i, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("request %d not recorded", i)
		}
	}
}

func TestModes(t *testing.T) {
	tests := []struct {
		name  string
		mode  fakencalayer.Mode
		check func(t *testing.T, c *conn, v *xmlsig.Verifier)
	}{
		{"Cancel", fakencalayer.Cancel, func(t *testing.T, c *conn, _ *xmlsig.Verifier) {
			m := c.call(basics(fakencalayer.EKUSign))
			if body, _ := m["body"].(map[string]any); m["status"] != true || len(body) != 0 {
				t.Errorf("basics cancel = %v", m)
			}
			if m := c.call(legacy("SIGNATURE")); m["code"] != "500" || m["message"] != "action.canceled" {
				t.Errorf("legacy cancel = %v", m)
			}
		}},
		{"WrongKey", fakencalayer.WrongKey, func(t *testing.T, c *conn, v *xmlsig.Verifier) {
			// Asked for the SIGN key, the "parent" picked the AUTH one.
			verify(t, v, basicsResult(t, c.call(basics(fakencalayer.EKUSign))), xmlsig.UsageAuth)
			_, err := v.Verify(t.Context(), []byte(basicsResult(t, c.call(basics(fakencalayer.EKUSign)))), xmlsig.Policy{Usage: xmlsig.UsageSign})
			if xmlsig.ReasonOf(err) != xmlsig.ReasonKeyUsage {
				t.Errorf("wrong key verified as SIGN: %v", err)
			}
		}},
		{"LegacyOnly", fakencalayer.LegacyOnly, func(t *testing.T, c *conn, v *xmlsig.Verifier) {
			m := c.call(basics(fakencalayer.EKUAuth))
			if _, has := m["status"]; has || m["code"] != "500" {
				t.Errorf("basics on a legacy NCALayer = %v", m)
			}
			verify(t, v, c.call(legacy("AUTHENTICATION"))["responseObject"].(string), xmlsig.UsageAuth)
		}},
		{"BadRequests", fakencalayer.Sign, func(t *testing.T, c *conn, _ *xmlsig.Verifier) {
			if m := c.call(map[string]any{"module": fakencalayer.ModuleCommonUtils, "method": "signXml", "args": []string{"x"}}); m["code"] != "500" {
				t.Errorf("short args = %v", m)
			}
			if m := c.call(map[string]any{"module": "nope", "method": "x"}); m["code"] != "500" {
				t.Errorf("unknown module = %v", m)
			}
			if m := c.call(map[string]any{"module": fakencalayer.ModuleBasics, "method": "sign", "args": map[string]any{"format": "cms", "data": "x"}}); m["status"] != false {
				t.Errorf("cms = %v", m)
			}
			if m := c.call(map[string]any{"module": fakencalayer.ModuleBasics, "method": "sign", "args": map[string]any{"format": "xml", "data": "not xml"}}); m["status"] != false {
				t.Errorf("bad xml = %v", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, v := setup(t, tt.mode)
			tt.check(t, dial(t, s), v)
		})
	}
}

// TestCloseEndsSessions: Close returns while a page is still connected, and the page sees the
// socket close.
func TestCloseEndsSessions(t *testing.T) {
	s, _ := setup(t, fakencalayer.Silent)
	c := dial(t, s)
	b, _ := json.Marshal(basics(fakencalayer.EKUAuth))
	if err := c.c.Write(t.Context(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs with an open session")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, _, err := c.c.Read(ctx); err == nil {
		t.Fatal("socket still open after Close")
	}
}

func TestContextCancelStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s, err := fakencalayer.Start(ctx, fakencalayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("still serving 10s after the context was cancelled")
	}
	dctx, dcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer dcancel()
	if c, _, err := websocket.Dial(dctx, s.URL(), nil); err == nil {
		_ = c.CloseNow()
		t.Fatal("accepted a connection after stopping")
	}
}

// TestKeysFor: the sandbox's fake signs each document as the parent it was issued to.
func TestKeysFor(t *testing.T) {
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign, IIN: "900506400015"})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ca.Verifier()
	var asked string
	s, err := fakencalayer.Start(t.Context(), fakencalayer.Options{KeysFor: func(d string) (auth, sign *xmlsigtest.Person) {
		asked = d
		return nil, other
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c := dial(t, s)
	res, err := v.Verify(t.Context(), []byte(basicsResult(t, c.call(basics(fakencalayer.EKUSign)))), xmlsig.Policy{Usage: xmlsig.UsageSign})
	if err != nil || res.IIN != "900506400015" || asked != doc {
		t.Fatalf("signed as %v (%v), asked for %q", res, err, asked)
	}
	// No AUTH key for this parent: answered as a cancel.
	if m := c.call(basics(fakencalayer.EKUAuth)); m["status"] != true || len(m["body"].(map[string]any)) != 0 {
		t.Errorf("missing key → %v", m)
	}
}
