package xmlsig

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Algorithm identifiers this package accepts.
const (
	algC14N10             = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	algC14N10WithComments = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
	algEnveloped          = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	algRSASHA256          = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	algSHA256             = "http://www.w3.org/2001/04/xmlenc#sha256"
)

// isGOSTAlgorithm recognises the GOST algorithm URIs Kalkan writes: the old
// "…xmldsig-more#gost34310-gost34311" and "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:
// gostr34102015-…" / "…gostr34112015-…" families.
func isGOSTAlgorithm(uri string) bool {
	u := strings.ToLower(uri)
	return strings.Contains(u, "gost") || strings.Contains(u, "pkigovkz")
}

var (
	bomUTF8 = []byte{0xEF, 0xBB, 0xBF}
	// Byte order marks (and the first bytes of a BOM-less declaration) of UTF-16 and UTF-32:
	// the raw DTD check below only works on ASCII-compatible bytes, so these are refused.
	nonUTF8Prefixes = [][]byte{
		{0xFE, 0xFF}, {0xFF, 0xFE}, {0x00, 0x00, 0xFE, 0xFF},
		{0x00, '<'}, {'<', 0x00},
	}
	dtdKeywords = []string{"DOCTYPE", "ENTITY", "ELEMENT", "ATTLIST", "NOTATION"}
)

// checkPrologue strips a UTF-8 byte order mark and leading whitespace, refuses other
// encodings, and refuses any DTD declaration anywhere in the raw bytes (case-insensitively),
// so that entity expansion (billion laughs) and external entities (XXE) never reach a parser.
func checkPrologue(doc []byte) ([]byte, *Error) {
	b := bytes.TrimPrefix(doc, bomUTF8)
	for _, p := range nonUTF8Prefixes {
		if bytes.HasPrefix(b, p) {
			return nil, newError(ReasonMalformed, "only UTF-8 documents are accepted")
		}
	}
	b = bytes.TrimLeft(b, " \t\r\n")
	for rest := b; ; {
		i := bytes.Index(rest, []byte("<!"))
		if i < 0 {
			break
		}
		rest = rest[i+2:]
		for _, kw := range dtdKeywords {
			if len(rest) >= len(kw) && bytes.EqualFold(rest[:len(kw)], []byte(kw)) {
				return nil, newError(ReasonDTD, "document contains a <!%s declaration", kw)
			}
		}
	}
	return b, nil
}

func rejectCharset(charset string, _ io.Reader) (io.Reader, error) {
	return nil, fmt.Errorf("encoding %q is not accepted, only UTF-8", charset)
}

// parseDocument parses b once with etree and checks the document level: one root element,
// nothing but the XML declaration before it and whitespace around it (no comment, no other
// processing instruction, no directive), and no duplicate attributes anywhere.
func parseDocument(b []byte) (*etree.Element, *Error) {
	d := etree.NewDocument()
	d.ReadSettings = etree.ReadSettings{
		CharsetReader:          rejectCharset,
		PreserveDuplicateAttrs: true,
		MaxDepth:               maxDepth,
	}
	if err := d.ReadFromBytes(b); err != nil {
		return nil, newError(ReasonMalformed, "parse XML: %v", err)
	}
	var root *etree.Element
	for i, t := range d.Child {
		switch t := t.(type) {
		case *etree.ProcInst:
			// Only the XML declaration, and only first: a processing instruction or comment
			// outside the root is no part of the document we issued, and independent verifiers
			// (xmlsec1) refuse a signed file carrying one, so stored evidence would not verify.
			if t.Target != "xml" || i != 0 {
				return nil, newError(ReasonMalformed, "processing instruction <?%s?> outside the root element", t.Target)
			}
		case *etree.Comment:
			return nil, newError(ReasonMalformed, "comment outside the root element")
		case *etree.Element:
			if root != nil {
				return nil, newError(ReasonMalformed, "document has more than one root element")
			}
			root = t
		case *etree.CharData:
			if !isXMLSpace(t.Data) {
				return nil, newError(ReasonMalformed, "text outside the root element")
			}
		case *etree.Directive:
			return nil, newError(ReasonDTD, "document contains a directive")
		}
	}
	if root == nil {
		return nil, newError(ReasonMalformed, "document has no root element")
	}
	// Walk the tree without recursion.
	stack := []*etree.Element{root}
	for len(stack) > 0 {
		el := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if hasDuplicateAttr(el) {
			return nil, newError(ReasonMalformed, "element <%s> has a duplicate attribute", el.FullTag())
		}
		for _, t := range el.Child {
			switch t := t.(type) {
			case *etree.Element:
				stack = append(stack, t)
			case *etree.Directive:
				return nil, newError(ReasonDTD, "document contains a directive")
			}
		}
	}
	return root, nil
}

func isXMLSpace(s string) bool {
	return strings.Trim(s, " \t\r\n") == ""
}

func hasDuplicateAttr(el *etree.Element) bool {
	if len(el.Attr) < 2 {
		return false
	}
	if len(el.Attr) <= 8 {
		for i := range el.Attr {
			for j := i + 1; j < len(el.Attr); j++ {
				if el.Attr[i].Space == el.Attr[j].Space && el.Attr[i].Key == el.Attr[j].Key {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[[2]string]bool, len(el.Attr))
	for _, a := range el.Attr {
		k := [2]string{a.Space, a.Key}
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

// isDS reports whether el is the XMLDSig element with the given local name.
func isDS(el *etree.Element, local string) bool {
	return el.Tag == local && el.NamespaceURI() == dsig.Namespace
}

// findSignature returns the one ds:Signature in the document, which must be a direct child of
// root. Signature elements are counted by namespace, at any depth.
func findSignature(root *etree.Element) (*etree.Element, *Error) {
	var sigs []*etree.Element
	stack := []*etree.Element{root}
	for len(stack) > 0 {
		el := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if isDS(el, dsig.SignatureTag) {
			sigs = append(sigs, el)
		}
		for _, c := range el.Child {
			if ce, ok := c.(*etree.Element); ok {
				stack = append(stack, ce)
			}
		}
	}
	switch {
	case len(sigs) == 0:
		return nil, newError(ReasonSignatureCount, "document has no ds:Signature")
	case len(sigs) > 1:
		return nil, newError(ReasonSignatureCount, "need exactly one ds:Signature, found %d", len(sigs))
	case sigs[0] == root:
		return nil, newError(ReasonSignaturePosition, "ds:Signature is the root element (detached signature)")
	case sigs[0].Parent() != root:
		return nil, newError(ReasonSignaturePosition, "ds:Signature must be a direct child of the root element")
	}
	return sigs[0], nil
}

// dsChildren returns el's child elements, requiring that they are all XMLDSig elements and
// that nothing else but whitespace sits between them.
func dsChildren(el *etree.Element) ([]*etree.Element, *Error) {
	var out []*etree.Element
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			if t.NamespaceURI() != dsig.Namespace {
				return nil, newError(ReasonMalformed, "unexpected element <%s> in ds:%s", t.FullTag(), el.Tag)
			}
			out = append(out, t)
		case *etree.CharData:
			if !isXMLSpace(t.Data) {
				return nil, newError(ReasonMalformed, "unexpected text in ds:%s", el.Tag)
			}
		default:
			return nil, newError(ReasonMalformed, "unexpected comment or processing instruction in ds:%s", el.Tag)
		}
	}
	return out, nil
}

// expectChildren checks that el's children are exactly the XMLDSig elements names, in order.
func expectChildren(el *etree.Element, names ...string) ([]*etree.Element, *Error) {
	kids, xerr := dsChildren(el)
	if xerr != nil {
		return nil, xerr
	}
	if len(kids) != len(names) {
		return nil, newError(ReasonMalformed, "ds:%s must contain %s", el.Tag, strings.Join(names, ", "))
	}
	for i, k := range kids {
		if k.Tag != names[i] {
			return nil, newError(ReasonMalformed, "ds:%s must contain %s, found ds:%s", el.Tag, strings.Join(names, ", "), k.Tag)
		}
	}
	return kids, nil
}

// attr returns the value of the un-prefixed attribute key.
func attr(el *etree.Element, key string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// onlyAttrs checks that el has no attributes other than namespace declarations and allowed.
func onlyAttrs(el *etree.Element, allowed ...string) *Error {
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		ok := false
		if a.Space == "" {
			for _, k := range allowed {
				if a.Key == k {
					ok = true
					break
				}
			}
		}
		if !ok {
			return newError(ReasonMalformed, "unexpected attribute %s on ds:%s", a.FullKey(), el.Tag)
		}
	}
	return nil
}

// algorithmOf returns the Algorithm attribute of a childless method element.
func algorithmOf(el *etree.Element) (string, *Error) {
	if xerr := onlyAttrs(el, dsig.AlgorithmAttr); xerr != nil {
		return "", xerr
	}
	if _, xerr := expectChildren(el); xerr != nil {
		return "", newError(ReasonAlgorithm, "ds:%s must not have parameters", el.Tag)
	}
	alg, ok := attr(el, dsig.AlgorithmAttr)
	if !ok {
		return "", newError(ReasonMalformed, "ds:%s has no Algorithm", el.Tag)
	}
	return alg, nil
}

func gostError(what, alg string) *Error {
	return newError(ReasonGOST, "%s %s is GOST, which this service cannot verify yet", what, alg)
}

// checkSignatureShape checks the Signature against the one shape NCALayer produces for RSA
// keys and the algorithm allow-list, and returns the base64 text of the signer certificate.
func checkSignatureShape(sig *etree.Element) (string, *Error) {
	if xerr := onlyAttrs(sig, "Id"); xerr != nil {
		return "", xerr
	}
	kids, xerr := dsChildren(sig)
	if xerr != nil {
		return "", xerr
	}
	var signedInfo, sigValue, keyInfo *etree.Element
	want := []string{dsig.SignedInfoTag, dsig.SignatureValueTag, dsig.KeyInfoTag}
	for i, k := range kids {
		if i >= len(want) || k.Tag != want[i] {
			return "", newError(ReasonMalformed, "ds:Signature must contain SignedInfo, SignatureValue, KeyInfo in this order")
		}
		switch i {
		case 0:
			signedInfo = k
		case 1:
			sigValue = k
		case 2:
			keyInfo = k
		}
	}
	if sigValue == nil {
		return "", newError(ReasonMalformed, "ds:Signature must contain SignedInfo and SignatureValue")
	}

	// SignedInfo: CanonicalizationMethod, SignatureMethod, one Reference.
	if xerr := onlyAttrs(signedInfo); xerr != nil {
		return "", xerr
	}
	si, xerr := dsChildren(signedInfo)
	if xerr != nil {
		return "", xerr
	}
	if len(si) < 2 || si[0].Tag != dsig.CanonicalizationMethodTag || si[1].Tag != dsig.SignatureMethodTag {
		return "", newError(ReasonMalformed, "ds:SignedInfo must start with CanonicalizationMethod and SignatureMethod")
	}
	// The signature method decides first whether this is a GOST document at all.
	sm, xerr := algorithmOf(si[1])
	if xerr != nil {
		return "", xerr
	}
	if isGOSTAlgorithm(sm) {
		return "", gostError("signature method", sm)
	}
	if sm != algRSASHA256 {
		return "", newError(ReasonAlgorithm, "signature method %s is not allowed, only rsa-sha256", sm)
	}
	cm, xerr := algorithmOf(si[0])
	if xerr != nil {
		return "", xerr
	}
	if cm != algC14N10 && cm != algC14N10WithComments {
		return "", newError(ReasonAlgorithm, "canonicalization method %s is not allowed, only C14N 1.0", cm)
	}
	refs := si[2:]
	for _, r := range refs {
		if r.Tag != dsig.ReferenceTag {
			return "", newError(ReasonMalformed, "unexpected ds:%s in ds:SignedInfo", r.Tag)
		}
	}
	if len(refs) != 1 {
		return "", newError(ReasonReference, "need exactly one ds:Reference, found %d", len(refs))
	}
	ref := refs[0]
	if xerr := onlyAttrs(ref, dsig.URIAttr, "Id"); xerr != nil {
		return "", xerr
	}
	if uri, ok := attr(ref, dsig.URIAttr); !ok || uri != "" {
		return "", newError(ReasonReference, `ds:Reference must have URI="" (the whole document)`)
	}
	rk, xerr := expectChildren(ref, dsig.TransformsTag, dsig.DigestMethodTag, dsig.DigestValueTag)
	if xerr != nil {
		return "", xerr
	}
	if xerr := onlyAttrs(rk[0]); xerr != nil {
		return "", xerr
	}
	ts, xerr := dsChildren(rk[0])
	if xerr != nil {
		return "", xerr
	}
	var talgs []string
	for _, t := range ts {
		if t.Tag != dsig.TransformTag {
			return "", newError(ReasonMalformed, "unexpected ds:%s in ds:Transforms", t.Tag)
		}
		a, xerr := algorithmOf(t)
		if xerr != nil {
			return "", xerr
		}
		if isGOSTAlgorithm(a) {
			return "", gostError("transform", a)
		}
		talgs = append(talgs, a)
	}
	if len(talgs) != 2 || talgs[0] != algEnveloped || (talgs[1] != algC14N10 && talgs[1] != algC14N10WithComments) {
		return "", newError(ReasonAlgorithm, "transforms must be enveloped-signature then C14N 1.0, got [%s]", strings.Join(talgs, " "))
	}
	dm, xerr := algorithmOf(rk[1])
	if xerr != nil {
		return "", xerr
	}
	if isGOSTAlgorithm(dm) {
		return "", gostError("digest method", dm)
	}
	if dm != algSHA256 {
		return "", newError(ReasonAlgorithm, "digest method %s is not allowed, only sha256", dm)
	}
	dv, xerr := textOf(rk[2])
	if xerr != nil {
		return "", xerr
	}
	if d, err := decodeBase64(dv); err != nil || len(d) != 32 {
		return "", newError(ReasonMalformed, "ds:DigestValue is not a base64 SHA-256 digest")
	}
	sv, xerr := textOf(sigValue)
	if xerr != nil {
		return "", xerr
	}
	if d, err := decodeBase64(sv); err != nil || len(d) == 0 {
		return "", newError(ReasonMalformed, "ds:SignatureValue is not base64")
	}

	// KeyInfo/X509Data/X509Certificate, exactly one of each.
	if keyInfo == nil {
		return "", newError(ReasonNoCertificate, "ds:Signature has no ds:KeyInfo")
	}
	if xerr := onlyAttrs(keyInfo, "Id"); xerr != nil {
		return "", xerr
	}
	kd, xerr := dsChildren(keyInfo)
	if xerr != nil {
		return "", xerr
	}
	if len(kd) != 1 || kd[0].Tag != dsig.X509DataTag {
		return "", newError(ReasonNoCertificate, "ds:KeyInfo must contain exactly one ds:X509Data")
	}
	xc, xerr := dsChildren(kd[0])
	if xerr != nil {
		return "", xerr
	}
	if len(xc) != 1 || xc[0].Tag != dsig.X509CertificateTag {
		return "", newError(ReasonNoCertificate, "ds:X509Data must contain exactly one ds:X509Certificate")
	}
	cert, xerr := textOf(xc[0])
	if xerr != nil {
		return "", xerr
	}
	if strings.Trim(cert, " \t\r\n") == "" {
		return "", newError(ReasonNoCertificate, "ds:X509Certificate is empty")
	}
	return cert, nil
}

// textOf returns the text of an element that must hold text only.
func textOf(el *etree.Element) (string, *Error) {
	if xerr := onlyAttrs(el); xerr != nil {
		return "", xerr
	}
	var sb strings.Builder
	for _, t := range el.Child {
		cd, ok := t.(*etree.CharData)
		if !ok {
			return "", newError(ReasonMalformed, "ds:%s must contain text only", el.Tag)
		}
		sb.WriteString(cd.Data)
	}
	return sb.String(), nil
}

// decodeBase64 decodes standard base64 with any XML whitespace (including the CRs that
// &#13; produces) removed.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	if s == "" {
		return nil, errors.New("empty")
	}
	return base64.StdEncoding.DecodeString(s)
}

func bytesEqual(a, b []byte) bool { return bytes.Equal(a, b) }
