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

	// Kalkan's GOST URIs (ncanode-kz/NCANode KalkanUtil.java; the samples in
	// ../shared/testdata/gost-samples). Only the 2015/512 pair is verified.
	algGOST2015_512Sig    = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512"
	algGOST2015_512Digest = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-512"
	algGOST2015_256Sig    = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-256"
	algGOST2015_256Digest = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-256"
	algGOST2004Sig        = "http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311"
	algGOST2004Digest     = "http://www.w3.org/2001/04/xmldsig-more#gost34311"
)

// Algorithm names the signature algorithm of a verified document.
type Algorithm string

const (
	AlgorithmRSA          Algorithm = "rsa"          // rsa-sha256
	AlgorithmGOST2015_512 Algorithm = "gost2015-512" // GOST 34.10-2015 512 with Streebog-512
)

// Messages for the GOST variants that are refused on purpose.
const (
	msgGOST2004 = "GOST 34.310-2004 signatures are not accepted: NCA RK's GOST-2004 certification chain expired in 2025; sign with a GOST 34.10-2015 (512-bit) or RSA key"
	msgGOST256  = "GOST 34.10-2015 256-bit signatures are not accepted (no public sample exists to test a verifier against); sign with a GOST 34.10-2015 512-bit or RSA key"
	msgGOSTAny  = "this GOST algorithm is not accepted; only GOST 34.10-2015 512-bit (and RSA) signatures are"
)

// gostVariantError explains a refused GOST algorithm URI, or returns nil for one this
// package verifies (or one that is not GOST at all).
func gostVariantError(what, uri string) *Error {
	switch uri {
	case algGOST2015_512Sig, algGOST2015_512Digest:
		return nil
	case algGOST2004Sig, algGOST2004Digest:
		return newError(ReasonGOST, "%s %s: %s", what, uri, msgGOST2004)
	case algGOST2015_256Sig, algGOST2015_256Digest:
		return newError(ReasonGOST, "%s %s: %s", what, uri, msgGOST256)
	}
	if isGOSTAlgorithm(uri) {
		return newError(ReasonGOST, "%s %s: %s", what, uri, msgGOSTAny)
	}
	return nil
}

// shape is what checkSignatureShape found: the parts the signature check needs.
type shape struct {
	alg           Algorithm
	cert          string // base64 text of the signer certificate
	signedInfo    *etree.Element
	siC14N        string // CanonicalizationMethod of SignedInfo
	refC14N       string // the C14N transform of the Reference
	digest        []byte // DigestValue, decoded
	signatureText string // SignatureValue text
}

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

// checkSignatureShape checks the Signature against the one shape NCALayer (Kalkan) produces
// and the algorithm allow-list: rsa-sha256 + sha256, or GOST 34.10-2015 512 + Streebog-512.
func checkSignatureShape(sig *etree.Element) (*shape, *Error) {
	if xerr := onlyAttrs(sig, "Id"); xerr != nil {
		return nil, xerr
	}
	kids, xerr := dsChildren(sig)
	if xerr != nil {
		return nil, xerr
	}
	var signedInfo, sigValue, keyInfo *etree.Element
	want := []string{dsig.SignedInfoTag, dsig.SignatureValueTag, dsig.KeyInfoTag}
	for i, k := range kids {
		if i >= len(want) || k.Tag != want[i] {
			return nil, newError(ReasonMalformed, "ds:Signature must contain SignedInfo, SignatureValue, KeyInfo in this order")
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
		return nil, newError(ReasonMalformed, "ds:Signature must contain SignedInfo and SignatureValue")
	}

	// SignedInfo: CanonicalizationMethod, SignatureMethod, one Reference.
	if xerr := onlyAttrs(signedInfo); xerr != nil {
		return nil, xerr
	}
	si, xerr := dsChildren(signedInfo)
	if xerr != nil {
		return nil, xerr
	}
	if len(si) < 2 || si[0].Tag != dsig.CanonicalizationMethodTag || si[1].Tag != dsig.SignatureMethodTag {
		return nil, newError(ReasonMalformed, "ds:SignedInfo must start with CanonicalizationMethod and SignatureMethod")
	}
	// The signature method decides first whether this is a GOST document at all.
	sm, xerr := algorithmOf(si[1])
	if xerr != nil {
		return nil, xerr
	}
	if xerr := gostVariantError("signature method", sm); xerr != nil {
		return nil, xerr
	}
	out := &shape{signedInfo: signedInfo}
	switch sm {
	case algRSASHA256:
		out.alg = AlgorithmRSA
	case algGOST2015_512Sig:
		out.alg = AlgorithmGOST2015_512
	default:
		return nil, newError(ReasonAlgorithm, "signature method %s is not allowed, only rsa-sha256 and GOST 34.10-2015 512", sm)
	}
	cm, xerr := algorithmOf(si[0])
	if xerr != nil {
		return nil, xerr
	}
	if cm != algC14N10 && cm != algC14N10WithComments {
		return nil, newError(ReasonAlgorithm, "canonicalization method %s is not allowed, only C14N 1.0", cm)
	}
	out.siC14N = cm
	refs := si[2:]
	for _, r := range refs {
		if r.Tag != dsig.ReferenceTag {
			return nil, newError(ReasonMalformed, "unexpected ds:%s in ds:SignedInfo", r.Tag)
		}
	}
	if len(refs) != 1 {
		return nil, newError(ReasonReference, "need exactly one ds:Reference, found %d", len(refs))
	}
	ref := refs[0]
	if xerr := onlyAttrs(ref, dsig.URIAttr, "Id"); xerr != nil {
		return nil, xerr
	}
	if uri, ok := attr(ref, dsig.URIAttr); !ok || uri != "" {
		return nil, newError(ReasonReference, `ds:Reference must have URI="" (the whole document)`)
	}
	rk, xerr := expectChildren(ref, dsig.TransformsTag, dsig.DigestMethodTag, dsig.DigestValueTag)
	if xerr != nil {
		return nil, xerr
	}
	if xerr := onlyAttrs(rk[0]); xerr != nil {
		return nil, xerr
	}
	ts, xerr := dsChildren(rk[0])
	if xerr != nil {
		return nil, xerr
	}
	var talgs []string
	for _, t := range ts {
		if t.Tag != dsig.TransformTag {
			return nil, newError(ReasonMalformed, "unexpected ds:%s in ds:Transforms", t.Tag)
		}
		a, xerr := algorithmOf(t)
		if xerr != nil {
			return nil, xerr
		}
		if isGOSTAlgorithm(a) {
			return nil, newError(ReasonAlgorithm, "transform %s is not allowed", a)
		}
		talgs = append(talgs, a)
	}
	if len(talgs) != 2 || talgs[0] != algEnveloped || (talgs[1] != algC14N10 && talgs[1] != algC14N10WithComments) {
		return nil, newError(ReasonAlgorithm, "transforms must be enveloped-signature then C14N 1.0, got [%s]", strings.Join(talgs, " "))
	}
	out.refC14N = talgs[1]
	dm, xerr := algorithmOf(rk[1])
	if xerr != nil {
		return nil, xerr
	}
	if xerr := gostVariantError("digest method", dm); xerr != nil {
		return nil, xerr
	}
	// The digest must belong to the signature method: sha256 with RSA, Streebog-512 with GOST.
	wantDigest, digestSize, digestName := algSHA256, 32, "sha256"
	if out.alg == AlgorithmGOST2015_512 {
		wantDigest, digestSize, digestName = algGOST2015_512Digest, 64, "Streebog-512 (gostr34112015-512)"
	}
	if dm != wantDigest {
		return nil, newError(ReasonAlgorithm, "digest method %s is not allowed with %s, only %s", dm, sm, digestName)
	}
	dv, xerr := textOf(rk[2])
	if xerr != nil {
		return nil, xerr
	}
	d, err := decodeBase64(dv)
	if err != nil || len(d) != digestSize {
		return nil, newError(ReasonMalformed, "ds:DigestValue is not a base64 %s digest", digestName)
	}
	out.digest = d
	sv, xerr := textOf(sigValue)
	if xerr != nil {
		return nil, xerr
	}
	if d, err := decodeBase64(sv); err != nil || len(d) == 0 {
		return nil, newError(ReasonMalformed, "ds:SignatureValue is not base64")
	}
	out.signatureText = sv

	// KeyInfo/X509Data/X509Certificate, exactly one of each.
	if keyInfo == nil {
		return nil, newError(ReasonNoCertificate, "ds:Signature has no ds:KeyInfo")
	}
	if xerr := onlyAttrs(keyInfo, "Id"); xerr != nil {
		return nil, xerr
	}
	kd, xerr := dsChildren(keyInfo)
	if xerr != nil {
		return nil, xerr
	}
	if len(kd) != 1 || kd[0].Tag != dsig.X509DataTag {
		return nil, newError(ReasonNoCertificate, "ds:KeyInfo must contain exactly one ds:X509Data")
	}
	xc, xerr := dsChildren(kd[0])
	if xerr != nil {
		return nil, xerr
	}
	if len(xc) != 1 || xc[0].Tag != dsig.X509CertificateTag {
		return nil, newError(ReasonNoCertificate, "ds:X509Data must contain exactly one ds:X509Certificate")
	}
	cert, xerr := textOf(xc[0])
	if xerr != nil {
		return nil, xerr
	}
	if strings.Trim(cert, " \t\r\n") == "" {
		return nil, newError(ReasonNoCertificate, "ds:X509Certificate is empty")
	}
	out.cert = cert
	return out, nil
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
