package xmlsig

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// sigAlgorithm is what differs between the signature algorithms: the digest of canonical
// bytes with its method URI, and the check of SignatureValue (base64, as in the document)
// against the digest of the canonical SignedInfo.
type sigAlgorithm struct {
	digestMethod string
	digest       func([]byte) []byte
	verify       func(siDigest []byte, signatureB64 string) *Error
}

// verifySigned checks a signature on the tree Verify parsed and checked (checkSignatureShape),
// the way goxmldsig's ValidationContext.Validate does and with its canonicalizers, but without
// its second parse (Validate re-serializes ds:Signature and decodes it again through
// encoding/xml, about half of a verification's CPU), for RSA and GOST alike: SignedInfo
// canonicalized in place (so it keeps the inherited xmlns:ds) → digest → the signature with the
// leaf's key; the reference taken from the signed SignedInfo bytes, not the tree around it; the
// document without its ds:Signature canonicalized by the transform → digest = DigestValue; the
// signed element re-parsed from the digested bytes and its C14N 1.0 (with comments) form.
func verifySigned(root, sigEl *etree.Element, sh *shape, alg sigAlgorithm) (*etree.Element, []byte, *Error) {
	si, err := canonicalizer(sh.siC14N).Canonicalize(sh.signedInfo)
	if err != nil {
		return nil, nil, newError(ReasonMalformed, "canonicalize SignedInfo: %v", err)
	}
	if xerr := alg.verify(alg.digest(si), sh.signatureText); xerr != nil {
		return nil, nil, xerr
	}
	if xerr := signedReferenceMatches(si, alg.digestMethod, sh.digest); xerr != nil {
		return nil, nil, xerr
	}
	idx := sigEl.Index()
	if idx < 0 || idx >= len(root.Child) {
		return nil, nil, newError(ReasonMalformed, "ds:Signature not found under the root")
	}
	// The enveloped-signature transform: the document without its signature. Detaching the
	// signature for the canonicalization and putting it back spares a copy of the whole tree;
	// nothing else holds the tree meanwhile.
	root.RemoveChildAt(idx)
	ref, err := canonicalizer(sh.refC14N).Canonicalize(root)
	root.InsertChildAt(idx, sigEl)
	if err != nil {
		return nil, nil, newError(ReasonMalformed, "canonicalize the signed document: %v", err)
	}
	if !bytes.Equal(alg.digest(ref), sh.digest) {
		return nil, nil, newError(ReasonSignatureInvalid, "signature: digest mismatch: the document was changed after signing")
	}
	signed, xerr := parseDocument(ref)
	if xerr != nil {
		return nil, nil, xerr
	}
	canonical, err := dsig.MakeC14N10WithCommentsCanonicalizer().Canonicalize(signed)
	if err != nil {
		return nil, nil, newError(ReasonSignatureInvalid, "canonicalize signed element: %v", err)
	}
	return signed, canonical, nil
}

// rsaSHA256 is rsa-sha256 (PKCS #1 v1.5) with the leaf's RSA key.
func rsaSHA256(leaf *x509.Certificate) (sigAlgorithm, *Error) {
	key, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return sigAlgorithm{}, newError(ReasonAlgorithm, "signer key is not RSA")
	}
	return sigAlgorithm{
		digestMethod: algSHA256,
		digest:       func(b []byte) []byte { d := sha256.Sum256(b); return d[:] },
		verify: func(h []byte, b64 string) *Error {
			sig, err := decodeBase64(b64)
			if err != nil {
				return newError(ReasonMalformed, "ds:SignatureValue is not base64")
			}
			if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, h, sig); err != nil {
				return newError(ReasonSignatureInvalid, "signature: %v", err)
			}
			return nil
		},
	}, nil
}

// signedReferenceMatches re-parses the canonical SignedInfo that was verified and checks that
// its one Reference carries digest method method and the digest the structure check read: the
// digest compared with the document must be the one the signature covers, not one read from
// the tree around it.
func signedReferenceMatches(canonicalSI []byte, method string, digest []byte) *Error {
	d := etree.NewDocument()
	if err := d.ReadFromBytes(canonicalSI); err != nil || d.Root() == nil {
		return newError(ReasonSignatureInvalid, "signature: signed SignedInfo does not parse")
	}
	var refs []*etree.Element
	for _, el := range d.Root().ChildElements() {
		if isDS(el, dsig.ReferenceTag) {
			refs = append(refs, el)
		}
	}
	if len(refs) != 1 {
		return newError(ReasonSignatureInvalid, "signature: signed SignedInfo has %d references", len(refs))
	}
	var got string
	var value []byte
	for _, el := range refs[0].ChildElements() {
		switch {
		case isDS(el, dsig.DigestMethodTag):
			got = el.SelectAttrValue(dsig.AlgorithmAttr, "")
		case isDS(el, dsig.DigestValueTag):
			value, _ = decodeBase64(el.Text())
		}
	}
	if got != method || !bytes.Equal(value, digest) {
		return newError(ReasonSignatureInvalid, "signature: the signed reference differs from the one checked")
	}
	return nil
}
