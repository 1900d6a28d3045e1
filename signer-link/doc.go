// Package signerlink hands a parent from Telegram to a web page where NCALayer signs, with the
// parent's ЭЦП key, an XML document the server prepared, and carries out what was signed:
// binding the chat to the certificate's IIN (AUTH key) or revoking a referral (SIGN key).
// Telegram cannot reach the key, so this page is the one place a signature enters kezekbot,
// and the place an attacker would try to revoke someone else's referral.
//
// # Links
//
// A link is PUBLIC_URL/s/<token>. The token is base64url of a fixed 52-byte payload (version,
// key id, chat id, action, language, application and referral ids, a random 128-bit nonce,
// expiry) and its HMAC-SHA256, checked in constant time. Keys rotate by id: Keys.Current signs,
// Keys.Accept still verifies. The token only points at a record kept in Redis under the
// nonce, with the same lifetime (15 minutes by default): the full request and the exact XML
// issued. Issuing a link for a chat and action replaces the previous one (scope
// "chat:<id>:<action>"), and a link is consumed atomically when its signature is accepted.
// Tokens, nonces, IINs and documents are never logged; logs carry a short hash of the nonce.
//
// # What is checked when a signature arrives
//
//  1. The token: MAC, key id, expiry; then the Redis record, which must agree with it.
//  2. The request: Origin and Sec-Fetch-Site when present, the double-submit CSRF value
//     (cookie set by the page, SameSite=Strict and HttpOnly, echoed in X-CSRF-Token), a
//     64 KiB body limit, an XML content type.
//  3. The signature, by xmlsig: one enveloped XMLDSig of NCALayer's shape, RSA-SHA256 or
//     GOST 34.10-2015 512 with Streebog-512 (Kalkan's URIs and byte order); the
//     signer certificate chains to a trusted NCA RK root; its extended key usage is clientAuth
//     for bind and emailProtection for revoke; it is an individual's certificate; for revoke
//     its IIN is the IIN the chat is bound to; revocation, if the xmlsig.Verifier was built
//     with a RevocationChecker (xmlsig.CRLChecker over CRLs fetched from NCA RK; OCSP can be
//     put behind the same interface). The default is no revocation check: the binary decides.
//     GOST 34.310-2004 and GOST-2015 256-bit signatures are refused with a message saying so.
//  4. The content: the C14N of the signed element must equal, byte for byte, the C14N of the
//     document we issued under this nonce (it names the chat, action, application, referral,
//     reason, IIN, nonce and times). A valid signature over anything else is refused
//     ("document_mismatch").
//  5. Single use: the record is consumed; of two concurrent POSTs one proceeds.
//  6. The action, in one database transaction that checks the rules again at that moment
//     (for revoke, kezekbot.CheckRevoke: active referral, within 24 hours of issue), with the
//     signed XML and the verification result stored as kezekbot.Evidence.
//
// Failures of steps 1–4 change nothing and, from step 3 on, leave the link usable, so a parent
// who picked the wrong key can try again. After step 5 the chat is always told, through
// Resumer, with a flows.Signed event (OK, or a kezekbot error code), and the page shows the
// same outcome. Every outcome maps to one HTTP status and one text in each language in a
// single table (outcomes).
//
// # The page
//
// GET /s/{token} shows in words what will be signed, in Kazakh or Russian with a toggle; the
// static script sign.js fetches the document, asks NCALayer (wss://127.0.0.1:13579, or
// Config.NCALayerURL) to sign it with kz.gov.pki.knca.basics and falls back to the legacy
// commonUtils.signXml, and posts the result. The page has no inline script or style; every
// response carries a strict Content-Security-Policy whose connect-src names the NCALayer URL.
//
// # The eGov mobile route
//
// With Config.EGov on, the same link also serves eGov's QR-signing protocol (egov.go): the page
// shows a QR code of mobileSign:<API №1> on a computer and a launcher button on a phone
// (egov.js picks the order, with a switch), API №1 (/s/{token}/egov) hands the app the
// document's URI with a one-time bearer token kept hashed in the link's notes (NoteStore), and
// API №2 (/s/{token}/egov/document) gives the exact XML (GET) and takes the signature back
// (PUT), which goes through accept like a POST from the page. The page polls
// /s/{token}/status for the outcome; refusals that leave the link alive are also told in the
// chat (flows.Signed.Rejected), since the parent is in the app, not on the page.
//
// Package fakencalayer stands in for NCALayer in tests and the sandbox; package fakeegov for
// the eGov mobile app.
package signerlink
