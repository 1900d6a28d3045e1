package signerlink

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

func testKey(id byte, fill byte) Key {
	return Key{ID: id, Secret: bytes.Repeat([]byte{fill}, 32)}
}

func sampleClaims() claims {
	return claims{
		ChatID:  -1001234567890,
		Action:  kezekbot.ActionRevoke,
		Lang:    flows.Kazakh,
		AppID:   42,
		RefID:   7,
		Nonce:   [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Expires: time.Unix(1_800_000_000, 0),
	}
}

func TestTokenRoundTrip(t *testing.T) {
	ks := Keys{Current: testKey(3, 'a')}
	for _, c := range []claims{
		sampleClaims(),
		{ChatID: 5, Action: kezekbot.ActionBind, Lang: flows.Russian, Nonce: newNonce(), Expires: time.Unix(1, 0)},
	} {
		tok, err := ks.encodeToken(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != base64.RawURLEncoding.EncodedLen(tokenLen) {
			t.Errorf("token length %d", len(tok))
		}
		got, err := ks.parseToken(tok)
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		c.KeyID = 3
		if got != c {
			t.Errorf("parse(encode(c)) = %+v, want %+v", got, c)
		}
	}
}

func TestTokenRejects(t *testing.T) {
	old := testKey(1, 'o')
	cur := testKey(2, 'c')
	issued, err := Keys{Current: old}.encodeToken(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(issued)
	reencode := func(f func(b []byte) []byte) string {
		b := f(append([]byte(nil), raw...))
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name  string
		keys  Keys
		token string
		ok    bool
	}{
		{"OK", Keys{Current: old}, issued, true},
		{"OldKeyStillAccepted", Keys{Current: cur, Accept: []Key{old}}, issued, true},
		{"UnknownKeyID", Keys{Current: cur}, issued, false},
		{"SameIDOtherSecret", Keys{Current: testKey(1, 'x')}, issued, false},
		{"Empty", Keys{Current: old}, "", false},
		{"Truncated", Keys{Current: old}, issued[:len(issued)-1], false},
		{"Extended", Keys{Current: old}, issued + "A", false},
		{"StdBase64", Keys{Current: old}, base64.StdEncoding.EncodeToString(raw), false},
		{"ChatChanged", Keys{Current: old}, reencode(func(b []byte) []byte { b[9] ^= 1; return b }), false},
		{"ActionChanged", Keys{Current: old}, reencode(func(b []byte) []byte { b[10] = 1; return b }), false},
		{"ReferralChanged", Keys{Current: old}, reencode(func(b []byte) []byte { b[27]++; return b }), false},
		{"ExpiryExtended", Keys{Current: old}, reencode(func(b []byte) []byte { b[46]++; return b }), false},
		{"MACFlipped", Keys{Current: old}, reencode(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), false},
		{"KeyIDSwapped", Keys{Current: old, Accept: []Key{cur}}, reencode(func(b []byte) []byte { b[1] = 2; return b }), false},
		{"Version", Keys{Current: old}, reencode(func(b []byte) []byte { b[0] = 2; return b }), false},
		{"NonCanonicalBase64", Keys{Current: old}, nonCanonical(issued), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.keys.parseToken(tt.token)
			if tt.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tt.ok && !errors.Is(err, errForged) {
				t.Fatalf("err = %v, want errForged", err)
			}
		})
	}
}

// nonCanonical changes the unused low bits of the last base64 character: the same bytes in a
// second spelling, which would give one link two URLs.
func nonCanonical(tok string) string {
	last := tok[len(tok)-1]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, last)
	return tok[:len(tok)-1] + string(alphabet[i^1])
}

func FuzzParseToken(f *testing.F) {
	ks := Keys{Current: testKey(2, 'c'), Accept: []Key{testKey(1, 'o')}}
	good, _ := ks.encodeToken(sampleClaims())
	f.Add(good)
	f.Add("")
	f.Add("static")
	f.Add(strings.Repeat("A", len(good)))
	f.Add(good[:50])
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ks.parseToken(s)
		if err != nil {
			if !errors.Is(err, errForged) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		// Whatever parses must be exactly what some encode produced: re-encoding with the
		// same key gives the same string (one spelling per link).
		again, err := Keys{Current: Key{ID: c.KeyID, Secret: mustLookup(t, ks, c.KeyID)}}.encodeToken(c)
		if err != nil || again != s {
			t.Fatalf("accepted %q, re-encodes to %q (%v)", s, again, err)
		}
	})
}

func mustLookup(t *testing.T, ks Keys, id byte) []byte {
	k, ok := ks.lookup(id)
	if !ok {
		t.Fatalf("no key %d", id)
	}
	return k
}

func TestParseKeys(t *testing.T) {
	k32 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k32b := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{2}, 40))
	tests := []struct {
		in   string
		ok   bool
		cur  byte
		acc  int
		name string
	}{
		{"2:" + k32 + ",1:" + k32b, true, 2, 1, "TwoKeys"},
		{"7:" + k32, true, 7, 0, "One"},
		{"", false, 0, 0, "Empty"},
		{"1:" + base64.StdEncoding.EncodeToString([]byte("short")), false, 0, 0, "Short"},
		{"1:" + k32 + ",1:" + k32b, false, 0, 0, "DuplicateID"},
		{"300:" + k32, false, 0, 0, "IDTooBig"},
		{k32, false, 0, 0, "NoID"},
		{"1:!!!", false, 0, 0, "NotBase64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := ParseKeys(tt.in)
			if !tt.ok {
				if err == nil {
					t.Fatal("accepted")
				}
				if strings.Contains(err.Error(), k32) {
					t.Fatal("error quotes the key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ks.Current.ID != tt.cur || len(ks.Accept) != tt.acc {
				t.Fatalf("got %+v", ks)
			}
		})
	}
}

func TestDocumentEscapesAndCanonical(t *testing.T) {
	hostile := `</reason><action>bind</action><!-- x --> & "q" 'a' <![CDATA[y]]>`
	in := docInput{
		Action: kezekbot.ActionRevoke, ChatID: 99, Lang: flows.Russian,
		IIN:   kezekbot.MustParseIIN("900506401231"),
		AppID: 5, AppNumber: `УО.2021.000005.1"><x a="`, RefID: 6,
		Kindergarten: "Ясли-сад «Болашақ» <№1>", Reason: hostile,
		Nonce: "n0nce", IssuedAt: time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC),
		Expires: time.Date(2026, 3, 14, 10, 15, 0, 0, time.UTC), Text: "текст " + hostile,
	}
	d, err := buildDocument(in)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(d.XML); err != nil {
		t.Fatalf("issued XML does not parse: %v\n%s", err, d.XML)
	}
	root := doc.Root()
	if root.Space != "kezekbot" || root.Tag != "request" || root.SelectAttrValue("xmlns:kezekbot", "") != docNamespace {
		t.Fatalf("root = %s:%s", root.Space, root.Tag)
	}
	want := map[string]string{
		"action": "revoke", "chat": "99", "application": "5", "referral": "6",
		"kindergarten": in.Kindergarten, "reason": hostile, "iin": "900506401231", "nonce": "n0nce",
		"issuedAt": "2026-03-14T10:00:00Z", "expiresAt": "2026-03-14T10:15:00Z", "text": in.Text,
	}
	if n := len(root.ChildElements()); n != len(want) {
		t.Errorf("%d children, want %d:\n%s", n, len(want), d.XML)
	}
	for tag, v := range want {
		e := root.SelectElement(tag)
		if e == nil || e.Text() != v {
			t.Errorf("<%s> = %v, want %q", tag, e, v)
		}
	}
	if got := root.SelectElement("application").SelectAttrValue("number", ""); got != in.AppNumber {
		t.Errorf("number = %q", got)
	}
	if got := root.SelectElement("text").SelectAttrValue("lang", ""); got != "ru" {
		t.Errorf("text lang = %q", got)
	}
	if bytes.Contains(d.XML, []byte("<!--")) || bytes.Contains(d.XML, []byte("<![CDATA[")) {
		t.Errorf("markup leaked into the document:\n%s", d.XML)
	}
	canon, err := xmlsig.Canonicalize(d.XML)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(canon, d.Canonical) {
		t.Errorf("canonical form differs from xmlsig.Canonicalize")
	}
}

func TestDocumentBind(t *testing.T) {
	d, err := buildDocument(docInput{Action: kezekbot.ActionBind, ChatID: 1, Lang: flows.Kazakh, Nonce: "n",
		IssuedAt: time.Unix(0, 0), Expires: time.Unix(900, 0), Text: t_(flows.Kazakh, "doc.text.bind")})
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"<iin>", "<referral>", "<application"} {
		if bytes.Contains(d.XML, []byte(absent)) {
			t.Errorf("bind document has %s", absent)
		}
	}
	if _, err := buildDocument(docInput{Action: "drop"}); err == nil {
		t.Error("unknown action accepted")
	}
}

// t_ is t under another name: inside tests t is the *testing.T.
var t_ = t

func TestTextsComplete(t *testing.T) {
	for key, m := range texts {
		for _, l := range []flows.Lang{flows.Kazakh, flows.Russian} {
			if strings.TrimSpace(m[l]) == "" {
				t.Errorf("text %q has no %s version", key, l)
			}
		}
		if len(m) != 2 {
			t.Errorf("text %q has %d languages", key, len(m))
		}
		// Both languages must use the same placeholders.
		if ph(m[flows.Kazakh]) != ph(m[flows.Russian]) {
			t.Errorf("text %q: placeholders differ: kk %q, ru %q", key, ph(m[flows.Kazakh]), ph(m[flows.Russian]))
		}
	}
	for reason, o := range outcomes {
		switch reason {
		case "ok":
			continue
		case "key_usage":
			for _, k := range []string{"err.key_usage.bind", "err.key_usage.revoke"} {
				if _, ok := texts[k]; !ok {
					t.Errorf("missing %s", k)
				}
			}
			continue
		}
		if _, ok := texts[o.Key]; !ok {
			t.Errorf("outcome %q: no text %q", reason, o.Key)
		}
	}
}

func ph(s string) string {
	var out []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		out = append(out, s[i:i+j+1])
		s = s[i+j+1:]
	}
	return strings.Join(sortStrings(out), ",")
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func TestOutcomesCoverXMLSigReasons(t *testing.T) {
	for _, r := range []xmlsig.Reason{
		xmlsig.ReasonTooLarge, xmlsig.ReasonMalformed, xmlsig.ReasonDTD, xmlsig.ReasonSignatureCount,
		xmlsig.ReasonSignaturePosition, xmlsig.ReasonReference, xmlsig.ReasonAlgorithm, xmlsig.ReasonGOST,
		xmlsig.ReasonNoCertificate, xmlsig.ReasonBadCertificate, xmlsig.ReasonChain, xmlsig.ReasonExpired,
		xmlsig.ReasonNotYetValid, xmlsig.ReasonKeyUsage, xmlsig.ReasonNotIndividual, xmlsig.ReasonIINMismatch,
		xmlsig.ReasonRevoked, xmlsig.ReasonRevocationUnknown, xmlsig.ReasonSignatureInvalid,
	} {
		name := reasonOfVerify(&xmlsig.Error{Reason: r})
		if _, ok := outcomes[name]; !ok || name == "internal" {
			t.Errorf("xmlsig reason %s → %q, not in the table", r, name)
		}
		if name == "signature_invalid" && r != xmlsig.ReasonSignatureInvalid {
			t.Errorf("xmlsig reason %s falls back to signature_invalid", r)
		}
	}
	if got := reasonOfVerify(errors.New("context canceled")); got != "internal" {
		t.Errorf("plain error → %q", got)
	}
	for status, o := range outcomes {
		if o.Status < 200 || o.Status > 599 {
			t.Errorf("%s: status %d", status, o.Status)
		}
	}
}

func TestLangFromAcceptLanguage(t *testing.T) {
	for in, want := range map[string]flows.Lang{
		"":                       flows.Russian,
		"kk":                     flows.Kazakh,
		"kk-KZ,ru;q=0.8":         flows.Kazakh,
		"ru-RU,ru;q=0.9,kk;q=.8": flows.Russian,
		"en-US,en;q=0.9":         flows.Russian,
		"en, kk;q=0.5":           flows.Kazakh,
	} {
		if got := langFromAcceptLanguage(in); got != want {
			t.Errorf("%q → %s, want %s", in, got, want)
		}
	}
}

func TestTextPlaceholders(t *testing.T) {
	got := t_(flows.Russian, "err.window_closed", "date", "15 марта 2026", "time", "10:30")
	if !strings.Contains(got, "15 марта 2026 в 10:30") {
		t.Errorf("got %q", got)
	}
	if got := t_(flows.Russian, "no.such.key"); got != "no.such.key" {
		t.Errorf("missing key → %q", got)
	}
}

func BenchmarkParseToken(b *testing.B) {
	ks := Keys{Current: testKey(2, 'c'), Accept: []Key{testKey(1, 'o')}}
	tok, _ := ks.encodeToken(sampleClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ks.parseToken(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildDocument(b *testing.B) {
	in := docInput{
		Action: kezekbot.ActionRevoke, ChatID: 99, Lang: flows.Russian, IIN: kezekbot.MustParseIIN("900506401231"),
		AppID: 5, AppNumber: "УО.2021.000005.1", RefID: 6, Kindergarten: "Ясли-сад «Болашақ»", Reason: "переезд",
		Nonce: "n0nce", IssuedAt: time.Unix(1_800_000_000, 0), Expires: time.Unix(1_800_000_900, 0), Text: "текст",
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildDocument(in); err != nil {
			b.Fatal(err)
		}
	}
}
