// Package xmlsig verifies the XML signatures (XMLDSig) that parents make with their ЭЦП
// (NCA RK keys) through NCALayer, and turns them into facts kezekbot can act on: whose
// certificate signed (IIN), for what (AUTH or SIGN key) and exactly which document.
//
// # What is accepted
//
// Only the shape NCALayer (Kalkan) produces: one enveloped ds:Signature that is a direct
// child of the document's root, SignedInfo canonicalised with C14N 1.0 (with or without
// comments), exactly one Reference with URI="" whose transforms are enveloped-signature
// followed by C14N 1.0 (with or without comments), exactly one signer certificate in
// KeyInfo/X509Data/X509Certificate, and one of two algorithm pairs:
//
//   - rsa-sha256 with a sha256 digest and an RSA key (2048 bits or more);
//   - GOST 34.10-2015 512 (urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:
//     gostr34102015-gostr34112015-512) with a Streebog-512 digest (…:gostr34112015-512) and a
//     GOST 34.10-2015 512 key (SPKI 1.2.398.3.10.1.1.2.2), checked with package gost.
//
// GOST 34.310-2004 (its NCA chain expired in 2025) and GOST 34.10-2015 256-bit (no public
// sample to test against) are refused with [ReasonGOST] and a message saying which. Everything
// else is rejected with a stable [Reason] before any cryptography runs.
//
// # Order of checks
//
// Verify checks, in this order, and stops at the first failure: input size; DTD/entity
// declarations (raw bytes, before parsing); XML well-formedness (one parse with etree);
// number and position of ds:Signature elements; the algorithm allow-list and the structure
// of the Signature; the signer certificate and that its key fits the signature method; the
// chain to a trusted NCA root with the extended key usage of the requested [Usage] (RSA:
// crypto/x509; GOST: this package's own chain check with the same rules, see gost.go); the
// individual-person EKU (1.2.398.3.3.4.1.1); the IIN; revocation (if a [RevocationChecker] is
// configured); and only then the signature itself: RSA with github.com/russellhaering/goxmldsig,
// given a certificate store that holds the already-verified signer certificate alone; GOST with
// goxmldsig's canonicalizers, Streebog-512 and the GOST equation. Only the element re-parsed
// from the digested bytes is exposed ([Result.SignedElement], [Result.Canonical]);
// [Result.Algorithm] says which algorithm signed.
//
// Nothing in this package logs. Error texts never contain the signed XML or an IIN.
package xmlsig
