package xmlsigtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/kezekbot/kezekbot/signer-link/gost/streebog"
)

// Sign signs doc the way NCALayer's signXml does with the person's key — RSA or GOST
// 34.10-2015 512, whichever the person has — and returns the signed document: an enveloped
// ds:Signature appended as the last child of the root; SignedInfo canonicalised with C14N 1.0;
// rsa-sha256 with a sha256 digest, or Kalkan's GOST-2015-512 method with a Streebog-512 digest
// and the signature in Kalkan's byte order; one Reference URI="" with the enveloped-signature
// and C14N 1.0 #WithComments transforms; the certificate in KeyInfo/X509Data/X509Certificate;
// base64 in 76-character lines; a standalone="no" XML declaration. TEST KEYS, NOT REAL.
func Sign(doc []byte, p *Person) ([]byte, error) {
	if p == nil || p.Cert == nil || (p.Key == nil && p.GOSTKey == nil) {
		return nil, errors.New("test sign: no person")
	}
	method, digestMethod := dsig.RSASHA256SignatureMethod, "http://www.w3.org/2001/04/xmlenc#sha256"
	digestOf := func(b []byte) []byte { d := sha256.Sum256(b); return d[:] }
	signSI := func(b []byte) ([]byte, error) {
		h := sha256.Sum256(b)
		return rsa.SignPKCS1v15(rand.Reader, p.Key, crypto.SHA256, h[:])
	}
	if p.GOSTKey != nil {
		method = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512"
		digestMethod = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-512"
		digestOf = func(b []byte) []byte { d := streebog.Sum512(b); return d[:] }
		signSI = func(b []byte) ([]byte, error) { return p.GOSTKey.Sign(rand.Reader, b) }
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		return nil, fmt.Errorf("test sign: parse: %w", err)
	}
	root := d.Root()
	if root == nil {
		return nil, errors.New("test sign: no root element")
	}

	canon, err := dsig.MakeC14N10WithCommentsCanonicalizer().Canonicalize(root)
	if err != nil {
		return nil, fmt.Errorf("test sign: canonicalize: %w", err)
	}
	digest := digestOf(canon)

	sig := root.CreateElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", dsig.Namespace)
	nl := func(el *etree.Element) { el.CreateText("\n") }
	nl(sig)
	si := sig.CreateElement("ds:SignedInfo")
	nl(sig)
	nl(si)
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", string(dsig.CanonicalXML10RecAlgorithmId))
	nl(si)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", method)
	nl(si)
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", "")
	nl(si)
	nl(ref)
	ts := ref.CreateElement("ds:Transforms")
	nl(ref)
	nl(ts)
	ts.CreateElement("ds:Transform").CreateAttr("Algorithm", string(dsig.EnvelopedSignatureAltorithmId))
	nl(ts)
	ts.CreateElement("ds:Transform").CreateAttr("Algorithm", string(dsig.CanonicalXML10WithCommentsAlgorithmId))
	nl(ts)
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", digestMethod)
	nl(ref)
	ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(digest))
	nl(ref)

	// The signature covers SignedInfo in its context (inclusive C14N pulls in the in-scope
	// namespace declarations), so it is computed after SignedInfo is in the tree.
	canonSI, err := dsig.MakeC14N10RecCanonicalizer().Canonicalize(si)
	if err != nil {
		return nil, fmt.Errorf("test sign: canonicalize SignedInfo: %w", err)
	}
	sv, err := signSI(canonSI)
	if err != nil {
		return nil, fmt.Errorf("test sign: %w", err)
	}
	sig.CreateElement("ds:SignatureValue").SetText(lines76(sv))
	nl(sig)
	ki := sig.CreateElement("ds:KeyInfo")
	nl(sig)
	nl(ki)
	xd := ki.CreateElement("ds:X509Data")
	nl(ki)
	nl(xd)
	xd.CreateElement("ds:X509Certificate").SetText(lines76(p.Cert.Raw))
	nl(xd)

	// NCALayer writes its own declaration, directly followed by the root.
	var kept []etree.Token
	for _, t := range d.Child {
		switch t := t.(type) {
		case *etree.ProcInst:
			if t.Target == "xml" {
				continue
			}
		case *etree.CharData:
			continue // whitespace outside the root
		}
		kept = append(kept, t)
	}
	d.Child = nil
	d.CreateProcInst("xml", `version="1.0" encoding="UTF-8" standalone="no"`)
	for _, t := range kept {
		d.AddChild(t)
	}
	out, err := d.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("test sign: write: %w", err)
	}
	return out, nil
}

// lines76 is base64 in 76-character lines, each followed by a newline, with a newline first:
// the layout of NCALayer's SignatureValue and X509Certificate.
func lines76(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	sb.WriteByte('\n')
	for len(s) > 76 {
		sb.WriteString(s[:76])
		sb.WriteByte('\n')
		s = s[76:]
	}
	sb.WriteString(s)
	sb.WriteByte('\n')
	return sb.String()
}
