package xmlsig_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

func TestVerify_OK(t *testing.T) {
	e := mustEnv(t)
	ctx := context.Background()
	want, err := xmlsig.Canonicalize([]byte(unsignedDoc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		person    *xmlsigtest.Person
		policy    xmlsig.Policy
		wantUsage xmlsig.Usage
	}{
		{"AUTH", e.auth, xmlsig.Policy{Usage: xmlsig.UsageAuth, IIN: xmlsigtest.DefaultIIN}, xmlsig.UsageAuth},
		{"SIGN", e.sign, xmlsig.Policy{Usage: xmlsig.UsageSign, IIN: xmlsigtest.DefaultIIN}, xmlsig.UsageSign},
		{"AnyAUTH", e.auth, xmlsig.Policy{Usage: xmlsig.UsageAny}, xmlsig.UsageAuth},
		{"AnySIGN", e.sign, xmlsig.Policy{Usage: xmlsig.UsageAny}, xmlsig.UsageSign},
		{"NoIINCheck", e.auth, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.UsageAuth},
		{"ExplicitTime", e.auth, xmlsig.Policy{Usage: xmlsig.UsageAuth, At: time.Now().Add(24 * time.Hour)}, xmlsig.UsageAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed := mustSign(t, unsignedDoc, tt.person)
			res, err := e.verifier.Verify(ctx, []byte(signed), tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			if res.IIN != xmlsigtest.DefaultIIN {
				t.Errorf("IIN %q", res.IIN)
			}
			if res.Usage != tt.wantUsage {
				t.Errorf("usage %s, want %s", res.Usage, tt.wantUsage)
			}
			if !bytes.Equal(res.Canonical, want) {
				t.Errorf("canonical\n%s\nwant\n%s", res.Canonical, want)
			}
			if res.SignedElement == nil || res.SignedElement.Tag != "kezekbot" || res.SignedElement.FindElement("action").Text() != "bind" {
				t.Errorf("signed element %v", res.SignedElement)
			}
			if strings.Contains(string(res.Canonical), "Signature") {
				t.Error("canonical form still contains the signature")
			}
			if !strings.HasPrefix(res.Subject, "CN=ТЕСТОВ ТЕСТ, SURNAME=ТЕСТОВ, SERIALNUMBER=IIN"+xmlsigtest.DefaultIIN+", C=KZ") {
				t.Errorf("subject %q", res.Subject)
			}
			if res.Serial != tt.person.Cert.SerialNumber.Text(16) || !strings.Contains(res.Issuer, xmlsigtest.IntermediateCN) {
				t.Errorf("serial %q issuer %q", res.Serial, res.Issuer)
			}
			if len(res.Chain) != 3 || !res.Chain[2].Equal(e.ca.Root) {
				t.Errorf("chain of %d", len(res.Chain))
			}
		})
	}
}

// TestVerify_NCALayerVariants: the byte-level variants real producers emit verify too.
func TestVerify_NCALayerVariants(t *testing.T) {
	e := mustEnv(t)
	signed := mustSign(t, unsignedDoc, e.auth)
	sv := func(s string) string { // edit only inside the base64 texts
		i := strings.Index(s, "<ds:SignatureValue>")
		return s[:i] + strings.NewReplacer("\n", "&#13;\n").Replace(s[i:])
	}
	variants := map[string]string{
		"CRLF":         strings.ReplaceAll(signed, "\n", "\r\n"),
		"CR entities":  sv(signed),
		"BOM":          "\xEF\xBB\xBF" + signed,
		"trailing LF":  signed + "\n",
		"no decl":      signed[strings.Index(signed, "?>")+2:],
		"decl LF":      strings.Replace(signed, "?>", "?>\n", 1),
		"lower utf-8":  strings.Replace(signed, `encoding="UTF-8"`, `encoding="utf-8"`, 1),
		"Signature Id": strings.Replace(signed, "<ds:Signature ", `<ds:Signature Id="1" `, 1),
	}
	for name, doc := range variants {
		t.Run(name, func(t *testing.T) {
			if _, err := e.verifier.Verify(context.Background(), []byte(doc), xmlsig.Policy{Usage: xmlsig.UsageAuth}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerify_Attacks(t *testing.T) {
	e := mustEnv(t)
	signed := mustSign(t, unsignedDoc, e.auth)
	sig := signatureOf(t, signed)
	otherSigned := mustSign(t, strings.Replace(unsignedDoc, "bind", "revoke", 1), e.auth)
	otherSig := signatureOf(t, otherSigned)
	unsignedBody := unsignedDoc[strings.Index(unsignedDoc, "?>")+2:]
	signedBody := signed[strings.Index(signed, "?>")+2:]
	rep := func(old, new string) string {
		if !strings.Contains(signed, old) {
			t.Fatalf("signed doc lacks %q", old)
		}
		return strings.Replace(signed, old, new, 1)
	}
	noSig := strings.Replace(signed, sig, "", 1)
	decl := `<?xml version="1.0" encoding="UTF-8"?>`
	// a second person whose key differs from e.auth's
	other := mustIssue(t, e.ca, xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth})
	otherCert := signatureOf(t, mustSign(t, unsignedDoc, other))
	certOf := func(s string) string {
		i := strings.Index(s, "<ds:X509Certificate>")
		j := strings.Index(s, "</ds:X509Certificate>")
		return s[i:j]
	}
	ref := signed[strings.Index(signed, "<ds:Reference") : strings.Index(signed, "</ds:Reference>")+len("</ds:Reference>")]
	laughs := decl + `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><kezekbot>&lol3;</kezekbot>`

	tests := []struct {
		name string
		doc  string
		want xmlsig.Reason
	}{
		// The signed content changed.
		{"TamperedText", rep("<action>bind</action>", "<action>revoke</action>"), xmlsig.ReasonSignatureInvalid},
		{"TamperedChat", rep("481516234", "481516235"), xmlsig.ReasonSignatureInvalid},
		{"CommentInserted", rep("<action>bind</action>", "<action>bind<!-- x --></action>"), xmlsig.ReasonSignatureInvalid},
		{"ExtraElement", rep("<ds:Signature", "<extra>1</extra><ds:Signature"), xmlsig.ReasonSignatureInvalid},
		{"ExtraAttribute", rep("<action>", `<action a="1">`), xmlsig.ReasonSignatureInvalid},
		{"ExtraWhitespace", rep("<action>", "\n<action>"), xmlsig.ReasonSignatureInvalid},
		{"NamespaceChanged", rep(`xmlns="urn:kezekbot:sign:1"`, `xmlns="urn:kezekbot:sign:2"`), xmlsig.ReasonSignatureInvalid},
		{"DigestChanged", rep("<ds:DigestValue>", "<ds:DigestValue>A"+"AAA"), xmlsig.ReasonMalformed},
		{"SignedInfoChanged", rep(`<ds:Reference URI="">`, `<ds:Reference URI="" Id="r">`), xmlsig.ReasonSignatureInvalid},
		{"SignatureValueOtherDoc", strings.Replace(signed, sig[strings.Index(sig, "<ds:SignatureValue>"):strings.Index(sig, "</ds:SignatureValue>")],
			otherSig[strings.Index(otherSig, "<ds:SignatureValue>"):strings.Index(otherSig, "</ds:SignatureValue>")], 1), xmlsig.ReasonSignatureInvalid},
		{"CertOfOtherPerson", strings.Replace(signed, certOf(signed), certOf(otherCert), 1), xmlsig.ReasonSignatureInvalid},

		// Signature wrapping and counting.
		{"NoSignature", noSig, xmlsig.ReasonSignatureCount},
		{"SignatureMovedIntoChild", strings.Replace(noSig, "</action>", sig+"</action>", 1), xmlsig.ReasonSignaturePosition},
		{"DuplicatedSignature", rep(sig, sig+sig), xmlsig.ReasonSignatureCount},
		{"SecondSignatureOtherContent", rep(sig, sig+otherSig), xmlsig.ReasonSignatureCount},
		{"SignatureNotAtRoot", decl + `<kezekbot xmlns="urn:kezekbot:sign:1"><action>revoke</action><wrap>` + signedBody + `</wrap></kezekbot>`, xmlsig.ReasonSignaturePosition},
		{"WrappedOriginalNextToEvil", decl + `<envelope>` + strings.Replace(unsignedBody, "bind", "revoke", 1) + signedBody + `</envelope>`, xmlsig.ReasonSignaturePosition},
		{"HiddenDefaultNSSignature", rep("<action>bind</action>", `<action>bind<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/></action>`), xmlsig.ReasonSignatureCount},
		{"SignatureAsRoot", decl + strings.Replace(sig, "<ds:Signature ", "<ds:Signature ", 1), xmlsig.ReasonSignaturePosition},
		{"SecondRootElement", signed + "<evil/>", xmlsig.ReasonMalformed},
		{"TextAfterRoot", signed + "evil", xmlsig.ReasonMalformed},
		{"SignatureObject", rep("</ds:KeyInfo>", "</ds:KeyInfo><ds:Object><evil/></ds:Object>"), xmlsig.ReasonMalformed},
		{"SignatureInOtherNamespaceIgnored", rep("<action>bind</action>", `<action>bind</action><x:Signature xmlns:x="urn:other"/>`), xmlsig.ReasonSignatureInvalid},

		// References.
		{"ReferenceURIFragment", rep(`URI=""`, `URI="#id"`), xmlsig.ReasonReference},
		{"ReferenceURIExternal", rep(`URI=""`, `URI="http://evil.example/doc.xml"`), xmlsig.ReasonReference},
		{"ReferenceURIMissing", rep(` URI=""`, ``), xmlsig.ReasonReference},
		{"TwoReferences", rep(ref, ref+ref), xmlsig.ReasonReference},
		{"DuplicateURIAttribute", rep(`URI=""`, `URI="" URI="#x"`), xmlsig.ReasonMalformed},

		// Algorithms.
		{"RSASHA1", rep("xmldsig-more#rsa-sha256", "xmldsig#rsa-sha1"), xmlsig.ReasonAlgorithm},
		{"RSASHA512", rep("xmldsig-more#rsa-sha256", "xmldsig-more#rsa-sha512"), xmlsig.ReasonAlgorithm},
		{"ExcC14NMethod", rep(`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>`,
			`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`), xmlsig.ReasonAlgorithm},
		{"ExcC14NTransform", rep("http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments", "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"), xmlsig.ReasonAlgorithm},
		{"C14N11Transform", rep("http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments", "http://www.w3.org/2006/12/xml-c14n11"), xmlsig.ReasonAlgorithm},
		{"NoEnvelopedTransform", rep(`<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>`, ""), xmlsig.ReasonAlgorithm},
		{"XPathTransform", rep("</ds:Transforms>", `<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>not(ancestor-or-self::x)</ds:XPath></ds:Transform></ds:Transforms>`), xmlsig.ReasonAlgorithm},
		{"SHA1Digest", rep("http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2000/09/xmldsig#sha1"), xmlsig.ReasonAlgorithm},
		{"HMACOutputLength", rep(`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>`,
			`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"><ds:HMACOutputLength>8</ds:HMACOutputLength></ds:SignatureMethod>`), xmlsig.ReasonAlgorithm},
		// GOST-2015-512 is verified, but its method needs its digest and a GOST key.
		{"GOST2015MethodSHA256Digest", rep("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512"), xmlsig.ReasonAlgorithm},
		{"GOST2015DigestWithRSA", rep("http://www.w3.org/2001/04/xmlenc#sha256", "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-512"), xmlsig.ReasonAlgorithm},
		// GOST-2004 and GOST-2015-256 are refused as such.
		{"GOST2004", rep("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311"), xmlsig.ReasonGOST},
		{"GOST2004Digest", rep("http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2001/04/xmldsig-more#gost34311"), xmlsig.ReasonGOST},
		{"GOST256", rep("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-256"), xmlsig.ReasonGOST},
		{"GOST256Digest", rep("http://www.w3.org/2001/04/xmlenc#sha256", "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-256"), xmlsig.ReasonGOST},

		// DTDs, entities, encodings, size.
		{"Doctype", strings.Replace(signed, "?>", `?><!DOCTYPE kezekbot>`, 1), xmlsig.ReasonDTD},
		{"DoctypeLowercase", strings.Replace(signed, "?>", `?><!doctype kezekbot>`, 1), xmlsig.ReasonDTD},
		{"XXE", decl + `<!DOCTYPE kezekbot [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><kezekbot>&xxe;</kezekbot>`, xmlsig.ReasonDTD},
		{"XXEParameterEntity", decl + "\n <!DOCTYPE r [<!ENTITY % p SYSTEM \"http://evil.example/x.dtd\"> %p;]><r/>", xmlsig.ReasonDTD},
		{"BillionLaughs", laughs, xmlsig.ReasonDTD},
		{"EntityInsideContent", rep("<action>bind</action>", "<action><!ENTITY x 'y'></action>"), xmlsig.ReasonDTD},
		{"UndeclaredEntity", rep("<action>bind</action>", "<action>&xxe;</action>"), xmlsig.ReasonMalformed},
		{"UTF16", "\xFF\xFE<\x00r\x00/\x00>\x00", xmlsig.ReasonMalformed},
		{"Windows1251", strings.Replace(signed, `encoding="UTF-8"`, `encoding="windows-1251"`, 1), xmlsig.ReasonMalformed},
		{"NotXML", "hello", xmlsig.ReasonMalformed},
		{"Empty", "", xmlsig.ReasonMalformed},
		{"Unclosed", signed[:len(signed)-5], xmlsig.ReasonMalformed},
		{"TooDeep", decl + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100), xmlsig.ReasonMalformed},
		{"Huge", rep("<action>bind</action>", "<action>bind"+strings.Repeat("x", xmlsig.DefaultMaxSize)+"</action>"), xmlsig.ReasonTooLarge},

		// KeyInfo.
		{"NoKeyInfo", rep(signed[strings.Index(signed, "<ds:KeyInfo>"):strings.Index(signed, "</ds:KeyInfo>")+len("</ds:KeyInfo>")], ""), xmlsig.ReasonNoCertificate},
		{"TwoCertificates", rep("</ds:X509Data>", certOf(otherCert)+"</ds:X509Certificate></ds:X509Data>"), xmlsig.ReasonNoCertificate},
		{"GarbageCertificate", strings.Replace(signed, certOf(signed), "<ds:X509Certificate>AAAA", 1), xmlsig.ReasonBadCertificate},
		{"NotBase64Certificate", strings.Replace(signed, certOf(signed), "<ds:X509Certificate>!!!", 1), xmlsig.ReasonBadCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.verifier.Verify(context.Background(), []byte(tt.doc), xmlsig.Policy{Usage: xmlsig.UsageAuth, IIN: xmlsigtest.DefaultIIN})
			if err == nil {
				t.Fatalf("accepted (%s)", res.Canonical)
			}
			if got := xmlsig.ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q: %v", got, tt.want, err)
			}
			if strings.Contains(err.Error(), xmlsigtest.DefaultIIN) {
				t.Errorf("error text leaks the IIN: %v", err)
			}
		})
	}
}

func TestVerify_Certificates(t *testing.T) {
	e := mustEnv(t)
	now := time.Now()
	untrusted, err := xmlsigtest.NewCAWithOptions(xmlsigtest.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		ca     *xmlsigtest.CA
		opts   xmlsigtest.PersonOptions
		policy xmlsig.Policy
		want   xmlsig.Reason
	}{
		{"Expired", e.ca, xmlsigtest.PersonOptions{NotBefore: now.AddDate(-2, 0, 0), NotAfter: now.AddDate(-1, 0, 0)}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonExpired},
		{"NotYetValid", e.ca, xmlsigtest.PersonOptions{NotBefore: now.Add(time.Hour), NotAfter: now.AddDate(1, 0, 0)}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonNotYetValid},
		{"ValidThenButNotAt", e.ca, xmlsigtest.PersonOptions{}, xmlsig.Policy{Usage: xmlsig.UsageAuth, At: now.AddDate(2, 0, 0)}, xmlsig.ReasonExpired},
		{"AuthKeyForSign", e.ca, xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth}, xmlsig.Policy{Usage: xmlsig.UsageSign}, xmlsig.ReasonKeyUsage},
		{"SignKeyForAuth", e.ca, xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonKeyUsage},
		{"WrongEKU", e.ca, xmlsigtest.PersonOptions{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, xmlsig.Policy{Usage: xmlsig.UsageAny}, xmlsig.ReasonKeyUsage},
		{"OtherIIN", e.ca, xmlsigtest.PersonOptions{IIN: "880102400776"}, xmlsig.Policy{Usage: xmlsig.UsageAuth, IIN: xmlsigtest.DefaultIIN}, xmlsig.ReasonIINMismatch},
		{"Organization", e.ca, xmlsigtest.PersonOptions{Organization: true}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonNotIndividual},
		{"NoUserOID", e.ca, xmlsigtest.PersonOptions{NoUserOID: true}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonNotIndividual},
		{"UntrustedRoot", untrusted, xmlsigtest.PersonOptions{}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, xmlsig.ReasonChain},
		{"OrganizationAllowed", e.ca, xmlsigtest.PersonOptions{Organization: true}, xmlsig.Policy{Usage: xmlsig.UsageAuth, AllowNonIndividual: true}, ""},
		{"OtherIINUnchecked", e.ca, xmlsigtest.PersonOptions{IIN: "880102400776"}, xmlsig.Policy{Usage: xmlsig.UsageAuth}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustIssue(t, tt.ca, tt.opts)
			signed := mustSign(t, unsignedDoc, p)
			res, err := e.verifier.Verify(context.Background(), []byte(signed), tt.policy)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.IIN != p.IIN {
					t.Fatalf("IIN %q, want %q", res.IIN, p.IIN)
				}
				return
			}
			if got := xmlsig.ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q: %v", got, tt.want, err)
			}
			var xe *xmlsig.Error
			if !errors.As(err, &xe) || xe.Signer == nil || xe.Signer.Serial != p.Cert.SerialNumber.Text(16) {
				t.Fatalf("rejection does not describe the signer certificate: %#v", xe)
			}
		})
	}
}

// TestVerify_CA: problems with the issuing CA itself.
func TestVerify_CA(t *testing.T) {
	now := time.Now()
	expiredCA, err := xmlsigtest.NewCAWithOptions(xmlsigtest.CAOptions{
		NotBefore:             now.AddDate(-5, 0, 0),
		IntermediateNotBefore: now.AddDate(-5, 0, 0),
		IntermediateNotAfter:  now.AddDate(0, 0, -1),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Same names as the shared CA, other keys: a forged "NCA".
	shared, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	v, err := xmlsig.NewVerifier(xmlsig.NewTrustStore(expiredCA.Root, expiredCA.Intermediate, shared.Root, shared.Intermediate))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := xmlsigtest.NewCAWithOptions(xmlsigtest.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ca   *xmlsigtest.CA
		opts xmlsigtest.PersonOptions
		want xmlsig.Reason
	}{
		{"ExpiredIntermediate", expiredCA, xmlsigtest.PersonOptions{NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(1, 0, 0)}, xmlsig.ReasonExpired},
		{"ForgedCAWithSameNames", forged, xmlsigtest.PersonOptions{}, xmlsig.ReasonChain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed := mustSign(t, unsignedDoc, mustIssue(t, tt.ca, tt.opts))
			_, err := v.Verify(context.Background(), []byte(signed), xmlsig.Policy{Usage: xmlsig.UsageAuth})
			if got := xmlsig.ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q: %v", got, tt.want, err)
			}
		})
	}
}

func TestVerify_PolicyAndContext(t *testing.T) {
	e := mustEnv(t)
	signed := []byte(mustSign(t, unsignedDoc, e.auth))
	for name, p := range map[string]xmlsig.Policy{
		"NoUsage":  {},
		"BadUsage": {Usage: 8},
		"ShortIIN": {Usage: xmlsig.UsageAuth, IIN: "12345"},
		"IINText":  {Usage: xmlsig.UsageAuth, IIN: "IIN123456789"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.verifier.Verify(context.Background(), signed, p)
			if err == nil || xmlsig.ReasonOf(err) != "" {
				t.Fatalf("want an internal (policy) error, got %v", err)
			}
		})
	}
	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := e.verifier.Verify(ctx, signed, xmlsig.Policy{Usage: xmlsig.UsageAuth})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("MaxSizeOption", func(t *testing.T) {
		v, err := e.ca.Verifier(xmlsig.WithMaxSize(1024))
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), signed, xmlsig.Policy{Usage: xmlsig.UsageAuth})
		if xmlsig.ReasonOf(err) != xmlsig.ReasonTooLarge {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ClockOption", func(t *testing.T) {
		v, err := e.ca.Verifier(xmlsig.WithClock(func() time.Time { return time.Now().AddDate(5, 0, 0) }))
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), signed, xmlsig.Policy{Usage: xmlsig.UsageAuth})
		if xmlsig.ReasonOf(err) != xmlsig.ReasonExpired {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("NoTrust", func(t *testing.T) {
		if _, err := xmlsig.NewVerifier(&xmlsig.TrustStore{}); err == nil {
			t.Fatal("verifier without roots")
		}
		if _, err := xmlsig.NewVerifier(nil); err == nil {
			t.Fatal("verifier without trust store")
		}
	})
}

func TestReasonMessages(t *testing.T) {
	for _, r := range []xmlsig.Reason{
		xmlsig.ReasonTooLarge, xmlsig.ReasonMalformed, xmlsig.ReasonDTD, xmlsig.ReasonSignatureCount,
		xmlsig.ReasonSignaturePosition, xmlsig.ReasonReference, xmlsig.ReasonAlgorithm, xmlsig.ReasonGOST,
		xmlsig.ReasonNoCertificate, xmlsig.ReasonBadCertificate, xmlsig.ReasonChain, xmlsig.ReasonExpired,
		xmlsig.ReasonNotYetValid, xmlsig.ReasonKeyUsage, xmlsig.ReasonNotIndividual, xmlsig.ReasonIINMismatch,
		xmlsig.ReasonRevoked, xmlsig.ReasonRevocationUnknown, xmlsig.ReasonSignatureInvalid,
	} {
		if m := r.Message(); m == "" || m == xmlsig.Reason("x").Message() {
			t.Errorf("%s has no message", r)
		}
	}
	if !strings.Contains(xmlsig.ReasonGOST.Message(), "GOST") {
		t.Error("the GOST message must say GOST")
	}
}

func TestLogValueMasksIIN(t *testing.T) {
	e := mustEnv(t)
	res, err := e.verifier.Verify(context.Background(), []byte(mustSign(t, unsignedDoc, e.auth)), xmlsig.Policy{Usage: xmlsig.UsageAuth})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("verified", "result", res, "signer", res.Signer)
	if strings.Contains(buf.String(), xmlsigtest.DefaultIIN) || strings.Contains(buf.String(), "ТЕСТОВ") {
		t.Fatalf("log leaks personal data: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "**********31") {
		t.Fatalf("log lacks the masked IIN: %s", buf.String())
	}
}
