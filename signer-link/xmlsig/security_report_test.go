package xmlsig_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// TestSecurityReportXML verifies 1,500 malformed or tampered signed documents — random byte
// flips anywhere, and the attacks a reviewer tries by hand (content edits, signature wrapping,
// a second signature, a signature moved, PIs and comments outside the root, DTDs, weaker or
// foreign algorithms, someone else's certificate, a certificate of an untrusted CA, a valid
// signature over another document) — and counts those accepted with content other than the
// signed original (must be 0). A byte flip that leaves the signed content intact (inside
// base64 whitespace, say) may verify: those are counted apart as harmless. `make security`
// prints the line.
func TestSecurityReportXML(t *testing.T) {
	e := mustEnv(t)
	original := mustSign(t, unsignedDoc, e.auth)
	res, err := e.verifier.Verify(context.Background(), []byte(original), xmlsig.Policy{Usage: xmlsig.UsageAuth})
	if err != nil {
		t.Fatal(err)
	}
	want := res.Canonical
	sig := signatureOf(t, original)
	rogueCA, err := xmlsigtest.NewCAWithOptions(xmlsigtest.CAOptions{}) // same names, other keys: not trusted
	if err != nil {
		t.Fatal(err)
	}
	rogue := mustIssue(t, rogueCA, xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth})
	other := mustSign(t, strings.Replace(unsignedDoc, "481516234", "999999999", 1), e.auth)
	otherSig := signatureOf(t, other)
	expired := mustIssue(t, e.ca, xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	orgCert := mustIssue(t, e.ca, xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth, Organization: true})

	body := original[strings.Index(original, "?>")+2:]
	root := body[:strings.Index(body, ">")+1]
	handmade := map[string]string{
		"content edited":            strings.Replace(original, "481516234", "481516235", 1),
		"action edited":             strings.Replace(original, "<action>bind", "<action>revoke", 1),
		"text edited":               strings.Replace(original, "подтверждаю", "не подтверждаю", 1),
		"element added":             strings.Replace(original, "<action>", "<iin>900506400124</iin><action>", 1),
		"attribute added":           strings.Replace(original, "<action>", `<action x="1">`, 1),
		"signature of another doc":  strings.Replace(original, sig, otherSig, 1),
		"two signatures":            strings.Replace(original, sig, sig+sig, 1),
		"signature removed":         strings.Replace(original, sig, "", 1),
		"wrapping: signed in child": `<?xml version="1.0" encoding="UTF-8"?><kezekbot xmlns="urn:kezekbot:sign:1"><action>revoke</action><wrap>` + body + `</wrap></kezekbot>`,
		"wrapping: signed as child": `<?xml version="1.0" encoding="UTF-8"?><evil>` + body + `</evil>`,
		"wrapping: sig in other":    strings.Replace(strings.Replace(original, sig, "", 1), "</kezekbot>", "<x>"+sig+"</x></kezekbot>", 1),
		"PI after root":             original + "<?evil x?>",
		"PI before root":            strings.Replace(original, "?>", "?><?evil x?>", 1),
		"comment after root":        original + "<!--x-->",
		"DTD":                       strings.Replace(original, "?>", `?><!DOCTYPE kezekbot [<!ENTITY x "y">]>`, 1),
		"external entity":           strings.Replace(original, "?>", `?><!DOCTYPE kezekbot [<!ENTITY x SYSTEM "file:///etc/passwd">]>`, 1),
		"rsa-sha1":                  strings.Replace(original, "rsa-sha256", "rsa-sha1", 1),
		"digest sha1":               strings.Replace(original, "xmlenc#sha256", "xmldsig#sha1", 1),
		"GOST URI":                  strings.Replace(original, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512", 1),
		"reference to id":           strings.Replace(original, `URI=""`, `URI="#x"`, 1),
		"exclusive c14n":            strings.Replace(original, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315", "http://www.w3.org/2001/10/xml-exc-c14n#", 1),
		"no transforms":             strings.Replace(original, "enveloped-signature", "enveloped-signaturex", 1),
		"root renamed":              strings.Replace(strings.Replace(original, "<kezekbot ", "<kezekbotx ", 1), "</kezekbot>", "</kezekbotx>", 1),
		"namespace changed":         strings.Replace(original, "urn:kezekbot:sign:1", "urn:kezekbot:sign:2", 1),
		"root duplicated":           original + root + "</kezekbot>",
		"UTF-16 BOM":                "\xFF\xFE" + original,
		"truncated":                 original[:len(original)/2],
		"empty":                     "",
		"rogue CA":                  mustSign(t, unsignedDoc, rogue),
		"expired certificate":       mustSign(t, unsignedDoc, expired),
		"organization certificate":  mustSign(t, unsignedDoc, orgCert),
		"signing key for auth":      mustSign(t, unsignedDoc, e.sign),
		"certificate swapped":       swapCert(t, original, mustSign(t, unsignedDoc, rogue)),
	}

	r := rand.New(rand.NewPCG(17, 4))
	var tried, refused, harmless, bad int
	check := func(name, doc string) {
		tried++
		res, err := e.verifier.Verify(context.Background(), []byte(doc), xmlsig.Policy{Usage: xmlsig.UsageAuth})
		switch {
		case err != nil:
			refused++
		case bytes.Equal(res.Canonical, want):
			harmless++
		default:
			bad++
			t.Errorf("%s: accepted with other content:\n%s", name, doc)
		}
	}
	for name, doc := range handmade {
		check(name, doc)
		if name != "empty" && name != "truncated" {
			if _, err := e.verifier.Verify(context.Background(), []byte(doc), xmlsig.Policy{Usage: xmlsig.UsageAuth}); err == nil && doc != original {
				t.Errorf("hand-made attack %q verified", name)
			}
		}
	}
	for range 1500 {
		b := []byte(original)
		for range 1 + r.IntN(3) {
			i := r.IntN(len(b))
			switch r.IntN(4) {
			case 0:
				b[i] ^= byte(1 << r.IntN(8))
			case 1:
				b[i] = "<>&\"' =/\n"[r.IntN(9)]
			case 2:
				b = append(b[:i], b[min(len(b), i+1+r.IntN(16)):]...)
			case 3:
				b = append(b[:i], append([]byte(`<x/>`), b[i:]...)...)
			}
		}
		check("mutation", string(b))
	}
	t.Logf("security: signed XML: %d malformed or tampered documents tried (%d hand-made attacks, %d random mutations), %d refused, %d harmless variants accepted (signed content unchanged), %d accepted that should not have been",
		tried, len(handmade), tried-len(handmade), refused, harmless, bad)
	if tried < 1000 || bad != 0 {
		t.Fail()
	}
}

// swapCert puts the certificate of from into doc's KeyInfo.
func swapCert(t *testing.T, doc, from string) string {
	t.Helper()
	cert := func(s string) string {
		i := strings.Index(s, "<ds:X509Certificate>")
		j := strings.Index(s, "</ds:X509Certificate>")
		if i < 0 || j < i {
			t.Fatalf("no certificate in %q", s)
		}
		return s[i:j]
	}
	return strings.Replace(doc, cert(doc), cert(from), 1)
}
