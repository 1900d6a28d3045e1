// Package xmlsig verifies the XML signatures (XMLDSig) that parents make with their ЭЦП
// (NCA RK keys) through NCALayer, and turns them into facts kezekbot can act on: whose
// certificate signed (IIN), for what (AUTH or SIGN key) and exactly which document.
//
// # What is accepted
//
// Only the shape NCALayer (Kalkan) produces for RSA keys: one enveloped ds:Signature that is
// a direct child of the document's root, SignedInfo canonicalised with C14N 1.0 (with or
// without comments), rsa-sha256, exactly one Reference with URI="" whose transforms are
// enveloped-signature followed by C14N 1.0 (with or without comments), a sha256 digest, and
// exactly one signer certificate in KeyInfo/X509Data/X509Certificate. Everything else is
// rejected with a stable [Reason] before any cryptography runs.
//
// # Order of checks
//
// Verify checks, in this order, and stops at the first failure: input size; DTD/entity
// declarations (raw bytes, before parsing); XML well-formedness (one parse with etree);
// number and position of ds:Signature elements; the algorithm allow-list and the structure
// of the Signature; the signer certificate; the chain to a trusted NCA root with the
// extended key usage of the requested [Usage]; the individual-person EKU
// (1.2.398.3.3.4.1.1); the IIN; revocation (if a [RevocationChecker] is configured); and
// only then the signature itself with github.com/russellhaering/goxmldsig, given a
// certificate store that holds the already-verified signer certificate alone. Only the
// element goxmldsig returns is exposed ([Result.SignedElement], [Result.Canonical]).
//
// # GOST
//
// NCA RK also issues GOST 34.310-2004 and GOST 34.10-2015 keys, and plans to move every
// person to one GOST-2015 key. Neither Go's standard library nor goxmldsig can verify GOST
// signatures, so this package answers [ReasonGOST] for them, with a message saying so. A
// GOST-capable verifier (Kalkan through cgo, or an NCANode sidecar) can be added later
// behind the same method set:
//
//	Verify(ctx context.Context, doc []byte, p Policy) (*Result, error)
//
// Callers should declare that one-method interface where they use it, and a dispatcher can
// try this RSA [Verifier] first and hand documents that fail with [ReasonGOST] to the GOST
// one. Policy, Result and Error are deliberately free of RSA-specific fields so that they can
// be shared.
//
// Nothing in this package logs. Error texts never contain the signed XML or an IIN.
package xmlsig
