package xmlsig

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/kezekbot/kezekbot/signer-link/gost"
)

// DefaultMaxSize is the default limit on the size of a signed document: our documents are
// well under 8 KiB signed, so 64 KiB leaves room and still bounds the work per request.
const DefaultMaxSize = 64 << 10

// maxDepth bounds element nesting; NCALayer documents are a few levels deep.
const maxDepth = 64

// Usage is the kind of NCA key a document must be signed with. NCA RK issues every person two
// keys: AUTH (extended key usage clientAuth) to log in, and SIGN (emailProtection) to sign.
type Usage uint8

const (
	UsageAuth Usage = 1 << iota // AUTH key: EKU clientAuth 1.3.6.1.5.5.7.3.2
	UsageSign                   // SIGN key: EKU emailProtection 1.3.6.1.5.5.7.3.4

	// UsageAny accepts either key; Result.Usage says which one signed. For tools such as the
	// verify-xml command; a flow that authorises something should ask for one usage.
	UsageAny = UsageAuth | UsageSign
)

// String returns "auth", "sign" or "any".
func (u Usage) String() string {
	switch u {
	case UsageAuth:
		return "auth"
	case UsageSign:
		return "sign"
	case UsageAny:
		return "any"
	}
	return fmt.Sprintf("Usage(%d)", uint8(u))
}

// ParseUsage parses "auth", "sign" or "any".
func ParseUsage(s string) (Usage, error) {
	switch s {
	case "auth":
		return UsageAuth, nil
	case "sign":
		return UsageSign, nil
	case "any":
		return UsageAny, nil
	}
	return 0, fmt.Errorf("unknown usage %q (want auth, sign or any)", s)
}

// Policy says what a signature must prove.
type Policy struct {
	// Usage is required: UsageAuth, UsageSign or UsageAny.
	Usage Usage
	// IIN, if not empty, must be the 12 digits of the signer's IIN. No checksum is checked
	// (NCA's test identities use 123456789011, which fails it).
	IIN string
	// At is the verification time for the certificate chain and revocation; zero means now.
	At time.Time
	// AllowNonIndividual accepts certificates without the individual-person EKU
	// 1.2.398.3.3.4.1.1 (organization employees, 1.2.398.3.3.4.1.2). The zero value requires
	// an individual's certificate, as kezekbot serves parents as private persons. (It is an
	// Allow flag rather than "RequireIndividual bool" so that a Policy literal that forgets
	// it stays strict.)
	AllowNonIndividual bool
}

// Signer describes the signer certificate. It is facts read from the certificate, not a
// verdict: only a nil error from Verify makes them trustworthy.
type Signer struct {
	IIN         string // 12 digits from Subject SERIALNUMBER "IIN…", "" if absent
	Subject     string // subject DN in certificate order: "CN=…, SURNAME=…, SERIALNUMBER=IIN…, C=KZ, G=…"
	Serial      string // certificate serial number, lowercase hex
	Issuer      string // issuer DN, same format
	NotBefore   time.Time
	NotAfter    time.Time
	Certificate *x509.Certificate
}

// LogValue keeps the IIN and the subject (a person's name and IIN) out of logs.
func (s Signer) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("iin", maskIIN(s.IIN)),
		slog.String("serial", s.Serial),
		slog.String("issuer", s.Issuer),
		slog.Time("not_after", s.NotAfter),
	)
}

func maskIIN(iin string) string {
	if len(iin) != 12 {
		return ""
	}
	return "**********" + iin[10:]
}

func signerOf(c *x509.Certificate) *Signer {
	s := &Signer{
		Subject:     formatDN(c.Subject),
		Serial:      fmt.Sprintf("%x", c.SerialNumber),
		Issuer:      formatDN(c.Issuer),
		NotBefore:   c.NotBefore,
		NotAfter:    c.NotAfter,
		Certificate: c,
	}
	if iin, ok := strings.CutPrefix(c.Subject.SerialNumber, "IIN"); ok && isIINDigits(iin) {
		s.IIN = iin
	}
	return s
}

var dnShortNames = map[string]string{
	"2.5.4.3":              "CN",
	"2.5.4.4":              "SURNAME",
	"2.5.4.5":              "SERIALNUMBER",
	"2.5.4.6":              "C",
	"2.5.4.7":              "L",
	"2.5.4.8":              "ST",
	"2.5.4.10":             "O",
	"2.5.4.11":             "OU",
	"2.5.4.42":             "G",
	"1.2.840.113549.1.9.1": "E",
}

// formatDN writes a DN in certificate order with the short names NCA's tools use
// ("CN=ТЕСТОВ ТЕСТ, SURNAME=ТЕСТОВ, SERIALNUMBER=IIN…, C=KZ, G=…"); Go's Name.String
// reverses the order and prints SURNAME and G as hex.
func formatDN(n pkix.Name) string {
	var parts []string
	for _, atv := range n.Names {
		key, ok := dnShortNames[atv.Type.String()]
		if !ok {
			key = atv.Type.String()
		}
		parts = append(parts, fmt.Sprintf("%s=%v", key, atv.Value))
	}
	return strings.Join(parts, ", ")
}

func isIINDigits(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Result is a verified signature.
type Result struct {
	Signer
	// Usage is the key that signed: UsageAuth or UsageSign.
	Usage Usage
	// Algorithm is the signature algorithm: AlgorithmRSA or AlgorithmGOST2015_512.
	Algorithm Algorithm
	// Chain is the verified chain, signer first, root last.
	Chain []*x509.Certificate
	// SignedElement is the document's root as it was signed,
	// without the Signature, re-parsed from the digested bytes. Use nothing else of the input.
	SignedElement *etree.Element
	// Canonical is the C14N 1.0 (with comments) form of SignedElement: the bytes that were
	// digested. Compare it with Canonicalize of the document we issued.
	Canonical []byte
}

// LogValue logs the signer (masked) and the usage, never the document.
func (r *Result) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("signer", r.Signer), slog.String("usage", r.Usage.String()), slog.String("algorithm", string(r.Algorithm)))
}

// Verifier verifies NCALayer XML signatures (RSA and GOST 34.10-2015 512) against a fixed
// trust store. It is safe for concurrent use.
type Verifier struct {
	roots, intermediates *x509.CertPool
	candidates           []*x509.Certificate // RSA roots and intermediates, to explain chain failures
	gost                 *gostTrust          // the GOST roots and intermediates, and verified chains
	chains               *chainCache         // verified RSA chains (cache.go)
	maxSize              int
	revocation           RevocationChecker
	now                  func() time.Time
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithMaxSize sets the largest accepted document in bytes (default DefaultMaxSize).
func WithMaxSize(n int) Option { return func(v *Verifier) { v.maxSize = n } }

// WithRevocation sets the revocation checker (default NoRevocationCheck).
func WithRevocation(rc RevocationChecker) Option { return func(v *Verifier) { v.revocation = rc } }

// WithClock sets the clock used when Policy.At is zero (default time.Now).
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// NewVerifier returns a Verifier that trusts the roots and intermediates in trust.
func NewVerifier(trust *TrustStore, opts ...Option) (*Verifier, error) {
	if trust == nil || len(trust.Roots) == 0 {
		return nil, errors.New("new verifier: trust store has no root certificate")
	}
	v := &Verifier{
		roots:         x509.NewCertPool(),
		intermediates: x509.NewCertPool(),
		maxSize:       DefaultMaxSize,
		revocation:    NoRevocationCheck{},
		now:           time.Now,
		chains:        newChainCache(),
	}
	// GOST CA certificates go to the GOST chain builder; crypto/x509 cannot use them.
	var gostRoots, gostInts []*x509.Certificate
	for _, c := range trust.Roots {
		if isGOST2015Key(c) {
			gostRoots = append(gostRoots, c)
			continue
		}
		v.roots.AddCert(c)
		v.candidates = append(v.candidates, c)
	}
	for _, c := range trust.Intermediates {
		if isGOST2015Key(c) {
			gostInts = append(gostInts, c)
			continue
		}
		v.intermediates.AddCert(c)
		v.candidates = append(v.candidates, c)
	}
	g, err := newGOSTTrust(gostRoots, gostInts)
	if err != nil {
		return nil, fmt.Errorf("new verifier: %w", err)
	}
	v.gost = g
	for _, o := range opts {
		o(v)
	}
	if v.maxSize <= 0 {
		return nil, fmt.Errorf("new verifier: max size must be positive, got %d", v.maxSize)
	}
	if v.revocation == nil {
		v.revocation = NoRevocationCheck{}
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

var (
	oidIndividual = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 4, 1, 1}
)

// Verify checks doc against p and returns the verified result, or an error. A rejection is an
// *Error with a Reason (see ReasonOf); any other error (a cancelled ctx, an invalid Policy) is
// internal. The checks and their order are described in the package documentation.
func (v *Verifier) Verify(ctx context.Context, doc []byte, p Policy) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("xmlsig verify: %w", err)
	}
	usages, err := p.Usage.extKeyUsages()
	if err != nil {
		return nil, fmt.Errorf("xmlsig verify: policy: %w", err)
	}
	if p.IIN != "" && !isIINDigits(p.IIN) {
		return nil, errors.New("xmlsig verify: policy: IIN must be 12 digits")
	}
	at := p.At
	if at.IsZero() {
		at = v.now()
	}

	if len(doc) > v.maxSize {
		return nil, newError(ReasonTooLarge, "document is %d bytes, the limit is %d", len(doc), v.maxSize)
	}
	body, xerr := checkPrologue(doc)
	if xerr != nil {
		return nil, xerr
	}
	root, xerr := parseDocument(body)
	if xerr != nil {
		return nil, xerr
	}
	sigEl, xerr := findSignature(root)
	if xerr != nil {
		return nil, xerr
	}
	sh, xerr := checkSignatureShape(sigEl)
	if xerr != nil {
		return nil, xerr
	}
	leaf, xerr := parseSignerCert(sh.cert, sh.alg)
	if xerr != nil {
		return nil, xerr
	}
	signer := signerOf(leaf)
	fail := func(e *Error) (*Result, error) {
		e.Signer = signer
		return nil, e
	}

	var chain []*x509.Certificate
	var leafKey *gost.PublicKey
	if sh.alg == AlgorithmGOST2015_512 {
		chain, leafKey, xerr = v.gost.verifyChain(leaf, at, usages)
	} else {
		chain, xerr = v.verifyChain(leaf, at, usages)
	}
	if xerr != nil {
		return fail(xerr)
	}
	usage, xerr := checkKeyUsage(leaf, p.Usage)
	if xerr != nil {
		return fail(xerr)
	}
	if !p.AllowNonIndividual {
		if !hasEKU(leaf, oidIndividual) {
			return fail(newError(ReasonNotIndividual, "certificate lacks the individual-person EKU %s (EKU: %s)", oidIndividual, ekuList(leaf)))
		}
		if signer.IIN == "" {
			return fail(newError(ReasonNotIndividual, "certificate subject has no SERIALNUMBER=IIN…"))
		}
	}
	if p.IIN != "" && signer.IIN != p.IIN {
		return fail(newError(ReasonIINMismatch, "certificate IIN does not match the expected IIN"))
	}

	issuer := leaf
	if len(chain) > 1 {
		issuer = chain[1]
	}
	if err := v.revocation.Check(ctx, leaf, issuer, at); err != nil {
		var e *Error
		if errors.As(err, &e) && (e.Reason == ReasonRevoked || e.Reason == ReasonRevocationUnknown) {
			return fail(&Error{Reason: e.Reason, Detail: e.Detail})
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("xmlsig verify: revocation: %w", err)
		}
		return fail(newError(ReasonRevocationUnknown, "revocation check: %v", err))
	}

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("xmlsig verify: %w", err)
	}
	if sh.alg == AlgorithmGOST2015_512 {
		signed, canonical, xerr := verifySigned(root, sigEl, sh, gost2015(leafKey))
		if xerr != nil {
			return fail(xerr)
		}
		return &Result{
			Signer:        *signer,
			Usage:         usage,
			Algorithm:     AlgorithmGOST2015_512,
			Chain:         chain,
			SignedElement: signed,
			Canonical:     canonical,
		}, nil
	}
	rsaAlg, xerr := rsaSHA256(leaf)
	if xerr != nil {
		return fail(xerr)
	}
	signed, canonical, xerr := verifySigned(root, sigEl, sh, rsaAlg)
	if xerr != nil {
		return fail(xerr)
	}
	return &Result{
		Signer:        *signer,
		Usage:         usage,
		Algorithm:     AlgorithmRSA,
		Chain:         chain,
		SignedElement: signed,
		Canonical:     canonical,
	}, nil
}

func (u Usage) extKeyUsages() ([]x509.ExtKeyUsage, error) {
	switch u {
	case UsageAuth:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	case UsageSign:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}, nil
	case UsageAny:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection}, nil
	}
	return nil, fmt.Errorf("usage must be UsageAuth, UsageSign or UsageAny, got %s", u)
}

// parseSignerCert decodes and parses the KeyInfo certificate. Its key must fit the signature
// method: RSA of 2048 bits or more for rsa-sha256, GOST 34.10-2015 512 for the GOST method.
func parseSignerCert(b64 string, alg Algorithm) (*x509.Certificate, *Error) {
	c := parsedCerts.get(b64)
	if c == nil {
		der, err := decodeBase64(b64)
		if err != nil {
			return nil, newError(ReasonBadCertificate, "X509Certificate is not base64: %v", err)
		}
		if c, err = x509.ParseCertificate(der); err != nil {
			return nil, newError(ReasonBadCertificate, "parse signer certificate: %v", err)
		}
		parsedCerts.put(b64, c)
	}
	variant := gost.KeyVariant(c.RawSubjectPublicKeyInfo)
	switch variant {
	case gost.GOST2004:
		return nil, newError(ReasonGOST, "signer certificate: %s", msgGOST2004)
	case gost.GOST2015256:
		return nil, newError(ReasonGOST, "signer certificate: %s", msgGOST256)
	case gost.OtherGOST:
		return nil, newError(ReasonGOST, "signer certificate: %s", msgGOSTAny)
	}
	switch {
	case alg == AlgorithmRSA && c.PublicKeyAlgorithm == x509.RSA:
		k, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok || k.N.BitLen() < 2048 {
			return nil, newError(ReasonAlgorithm, "signer RSA key must have at least 2048 bits")
		}
		return c, nil
	case alg == AlgorithmGOST2015_512 && variant == gost.GOST2015512:
		return c, nil
	default:
		return nil, newError(ReasonAlgorithm, "signer key algorithm %s does not match the signature method (%s)", describeKeyAlgorithm(c), alg)
	}
}

// verifyChain builds a chain to a trusted root at time at with one of usages, and maps
// crypto/x509's errors to reasons.
func (v *Verifier) verifyChain(leaf *x509.Certificate, at time.Time, usages []x509.ExtKeyUsage) ([]*x509.Certificate, *Error) {
	if e := validityError(leaf, at, "signer certificate"); e != nil {
		return nil, e
	}
	if chain, ok := v.chains.get(leaf, usages, at); ok {
		return chain, nil
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: v.intermediates,
		CurrentTime:   at,
		KeyUsages:     usages,
	})
	if err == nil {
		v.chains.put(leaf, usages, chains[0])
		return chains[0], nil
	}
	var cie x509.CertificateInvalidError
	if errors.As(err, &cie) {
		switch cie.Reason {
		case x509.Expired:
			name := "CA certificate " + quoteCN(cie.Cert)
			if cie.Cert == nil || cie.Cert.Equal(leaf) {
				name = "signer certificate"
			}
			if e := validityError(cie.Cert, at, name); e != nil {
				return nil, e
			}
			return nil, newError(ReasonExpired, "chain: %v", err)
		case x509.IncompatibleUsage:
			return nil, newError(ReasonKeyUsage, "chain: certificate extended key usage (%s) does not allow %s", ekuList(leaf), usageNames(usages))
		}
		return nil, newError(ReasonChain, "chain: %v", err)
	}
	var uae x509.UnknownAuthorityError
	if errors.As(err, &uae) {
		// crypto/x509 reports an expired CA as "unknown authority"; say what really happened.
		for _, ca := range v.candidates {
			if !bytesEqual(leaf.RawIssuer, ca.RawSubject) || leaf.CheckSignatureFrom(ca) != nil {
				continue
			}
			if e := validityError(ca, at, "CA certificate "+quoteCN(ca)); e != nil {
				return nil, e
			}
		}
	}
	return nil, newError(ReasonChain, "chain: %v", err)
}

func quoteCN(c *x509.Certificate) string {
	if c == nil {
		return `""`
	}
	return fmt.Sprintf("%q", c.Subject.CommonName)
}

func validityError(c *x509.Certificate, at time.Time, name string) *Error {
	if c == nil {
		return nil
	}
	if at.Before(c.NotBefore) {
		return newError(ReasonNotYetValid, "%s is not valid before %s (verification time %s)",
			name, c.NotBefore.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	if at.After(c.NotAfter) {
		return newError(ReasonExpired, "%s expired at %s (verification time %s)",
			name, c.NotAfter.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkKeyUsage decides which usage the leaf satisfied (for UsageAny) and checks the KeyUsage
// bits NCA sets: digitalSignature for both keys, plus nonRepudiation for SIGN keys.
func checkKeyUsage(leaf *x509.Certificate, want Usage) (Usage, *Error) {
	got := want
	if want == UsageAny {
		if hasExtKeyUsage(leaf, x509.ExtKeyUsageClientAuth) {
			got = UsageAuth
		} else {
			got = UsageSign
		}
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return 0, newError(ReasonKeyUsage, "certificate key usage lacks digitalSignature")
	}
	if got == UsageSign && leaf.KeyUsage&x509.KeyUsageContentCommitment == 0 {
		return 0, newError(ReasonKeyUsage, "SIGN certificate key usage lacks nonRepudiation")
	}
	return got, nil
}

func hasExtKeyUsage(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	for _, e := range c.ExtKeyUsage {
		if e == u || e == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func hasEKU(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, o := range c.UnknownExtKeyUsage {
		if o.Equal(oid) {
			return true
		}
	}
	return false
}

var ekuNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:             "any",
	x509.ExtKeyUsageServerAuth:      "serverAuth",
	x509.ExtKeyUsageClientAuth:      "clientAuth",
	x509.ExtKeyUsageCodeSigning:     "codeSigning",
	x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping:    "timeStamping",
	x509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
}

func ekuName(u x509.ExtKeyUsage) string {
	if n, ok := ekuNames[u]; ok {
		return n
	}
	return fmt.Sprintf("eku(%d)", int(u))
}

func ekuList(c *x509.Certificate) string {
	var parts []string
	for _, u := range c.ExtKeyUsage {
		parts = append(parts, ekuName(u))
	}
	for _, o := range c.UnknownExtKeyUsage {
		parts = append(parts, o.String())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func usageNames(us []x509.ExtKeyUsage) string {
	var parts []string
	for _, u := range us {
		parts = append(parts, ekuName(u))
	}
	return strings.Join(parts, " or ")
}

// Canonicalize returns the C14N 1.0 (with comments) form of the root element of an unsigned
// document, the form Result.Canonical has for a document signed by NCALayer. Use it on the
// document kezekbot issued and compare the bytes.
func Canonicalize(doc []byte) ([]byte, error) {
	body, xerr := checkPrologue(doc)
	if xerr != nil {
		return nil, fmt.Errorf("canonicalize: %w", xerr)
	}
	root, xerr := parseDocument(body)
	if xerr != nil {
		return nil, fmt.Errorf("canonicalize: %w", xerr)
	}
	b, err := dsig.MakeC14N10WithCommentsCanonicalizer().Canonicalize(root)
	if err != nil {
		return nil, fmt.Errorf("canonicalize: %w", err)
	}
	return b, nil
}
