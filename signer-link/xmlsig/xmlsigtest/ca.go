// Package xmlsigtest is a fake NCA RK for tests and the sandbox: a test certification
// authority generated at run time and a signer that produces exactly the XML NCALayer returns.
//
// TEST KEYS, NOT REAL. Every key here is generated in this process and every certificate is
// issued by a CA that exists nowhere else; nothing signed with them proves anything about a
// real person. Never put this CA into a production trust directory.
//
// The package does not depend on package testing, so the sandbox binary can use it as its
// clearly-marked fake signer. Keys are cached per process (RSA 2048 generation is slow), so
// certificates issued by one process share a handful of keys.
package xmlsigtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/gost"
	"github.com/kezekbot/kezekbot/signer-link/gost/gosttest"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

// Names of the fake CAs, shaped like NCA RK's RSA and GOST CAs with a TEST suffix (NCA's own
// GOST test CAs end in "TEST 2022"; these do not, so the two are never confused).
const (
	RootCN             = "НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA) TEST"
	IntermediateCN     = "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA) TEST"
	GOSTRootCN         = "НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST"
	GOSTIntermediateCN = "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST"
)

// DefaultIIN is the IIN of test people when PersonOptions.IIN is empty. Unlike NCA's own test
// identity (123456789011) it passes the IIN checksum, so domain code accepts it.
const DefaultIIN = "900506401231"

// NCA RK object identifiers.
var (
	OIDIndividual   = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 4, 1, 1} // EKU: individual person
	OIDOrganization = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 4, 1, 2} // EKU: organization employee
	OIDCEO          = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 4, 1, 2, 1}

	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSerial    = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidCN        = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC         = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO         = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU        = asn1.ObjectIdentifier{2, 5, 4, 11}
)

// Process-wide key cache: slots 0 and 1 are the shared CA's keys, the rest are handed out
// to people round-robin.
const personKeySlots = 6

var (
	keyOnce  [2 + personKeySlots]sync.Once
	keys     [2 + personKeySlots]*rsa.PrivateKey
	keyErrs  [2 + personKeySlots]error
	nextSlot atomic.Uint32

	sharedOnce sync.Once
	shared     *CA
	sharedErr  error

	sharedGOSTOnce sync.Once
	sharedGOST     *CA
	sharedGOSTErr  error
)

func cachedKey(slot int) (*rsa.PrivateKey, error) {
	keyOnce[slot].Do(func() {
		keys[slot], keyErrs[slot] = rsa.GenerateKey(rand.Reader, 2048)
	})
	if keyErrs[slot] != nil {
		return nil, fmt.Errorf("generate test key: %w", keyErrs[slot])
	}
	return keys[slot], nil
}

func personKey() (*rsa.PrivateKey, error) {
	slot := 2 + int(nextSlot.Add(1)-1)%personKeySlots
	return cachedKey(slot)
}

// CA is a fake two-level NCA RK: a self-signed root and the intermediate that issues people's
// certificates, with RSA keys (NewCA) or GOST 34.10-2015 512 keys (NewGOSTCA); the people it
// issues have keys of the same kind. TEST KEYS, NOT REAL.
type CA struct {
	Root         *x509.Certificate
	Intermediate *x509.Certificate
	// Algorithm is xmlsig.AlgorithmRSA or xmlsig.AlgorithmGOST2015_512.
	Algorithm xmlsig.Algorithm

	rootKey, intermediateKey         *rsa.PrivateKey
	gostRootKey, gostIntermediateKey *gosttest.PrivateKey
}

// CAOptions configure NewCAWithOptions.
type CAOptions struct {
	RootCN, IntermediateCN string    // default RootCN, IntermediateCN
	NotBefore, NotAfter    time.Time // validity of both CA certificates; default now-1y … now+10y
	// IntermediateNotBefore/NotAfter override the intermediate's validity (to test an
	// expired CA).
	IntermediateNotBefore, IntermediateNotAfter time.Time
}

// NewCA returns the process-wide test CA: every call returns the same CA, so a trust directory
// written by one test accepts people issued in another. TEST KEYS, NOT REAL.
func NewCA() (*CA, error) {
	sharedOnce.Do(func() {
		rk, err := cachedKey(0)
		if err != nil {
			sharedErr = err
			return
		}
		ik, err := cachedKey(1)
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = newCA(CAOptions{}, rk, ik)
	})
	return shared, sharedErr
}

// NewGOSTCA returns the process-wide GOST test CA, shaped like NCA's GOST 2022 CAs: every
// call returns the same CA. TEST KEYS, NOT REAL.
func NewGOSTCA() (*CA, error) {
	sharedGOSTOnce.Do(func() { sharedGOST, sharedGOSTErr = NewGOSTCAWithOptions(CAOptions{}) })
	return sharedGOST, sharedGOSTErr
}

// NewGOSTCAWithOptions creates a separate GOST CA with fresh keys. TEST KEYS, NOT REAL.
func NewGOSTCAWithOptions(o CAOptions) (*CA, error) {
	rk, err := gosttest.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("new GOST test CA: %w", err)
	}
	ik, err := gosttest.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("new GOST test CA: %w", err)
	}
	if o.RootCN == "" {
		o.RootCN = GOSTRootCN
	}
	if o.IntermediateCN == "" {
		o.IntermediateCN = GOSTIntermediateCN
	}
	return newCAWith(o, rk.Public, ik.Public, func(tmpl, parent *x509.Certificate, pub any, root bool) (*x509.Certificate, error) {
		signer := ik
		if root {
			signer = rk
		}
		return gosttest.CreateCertificate(tmpl, parent, pub.(*gost.PublicKey), signer)
	}, func(ca *CA) {
		ca.Algorithm = xmlsig.AlgorithmGOST2015_512
		ca.gostRootKey, ca.gostIntermediateKey = rk, ik
	})
}

// NewCAWithOptions creates a separate CA with freshly generated keys (slow: two RSA 2048
// keys), e.g. one the verifier does not trust. TEST KEYS, NOT REAL.
func NewCAWithOptions(o CAOptions) (*CA, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("new test CA: %w", err)
	}
	ik, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("new test CA: %w", err)
	}
	return newCA(o, rk, ik)
}

func newCA(o CAOptions, rootKey, intKey *rsa.PrivateKey) (*CA, error) {
	return newCAWith(o, &rootKey.PublicKey, &intKey.PublicKey, func(tmpl, parent *x509.Certificate, pub any, root bool) (*x509.Certificate, error) {
		signer := intKey
		if root {
			signer = rootKey
		}
		return createCert(tmpl, parent, pub.(*rsa.PublicKey), signer)
	}, func(ca *CA) {
		ca.Algorithm = xmlsig.AlgorithmRSA
		ca.rootKey, ca.intermediateKey = rootKey, intKey
	})
}

// issueFunc creates a certificate for pub from tmpl under parent, signed by the root's key if
// root, else by the intermediate's.
type issueFunc func(tmpl, parent *x509.Certificate, pub any, root bool) (*x509.Certificate, error)

func newCAWith(o CAOptions, rootPub, intPub any, issue issueFunc, finish func(*CA)) (*CA, error) {
	now := time.Now().Truncate(time.Second)
	if o.RootCN == "" {
		o.RootCN = RootCN
	}
	if o.IntermediateCN == "" {
		o.IntermediateCN = IntermediateCN
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = now.AddDate(-1, 0, 0)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.AddDate(10, 0, 0)
	}
	if o.IntermediateNotBefore.IsZero() {
		o.IntermediateNotBefore = o.NotBefore
	}
	if o.IntermediateNotAfter.IsZero() {
		o.IntermediateNotAfter = o.NotAfter
	}
	rootTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidCN, Value: o.RootCN},
			{Type: oidO, Value: "РМК «МЕМЛЕКЕТТІК ТЕХНИКАЛЫҚ ҚЫЗМЕТ» TEST"},
			{Type: oidC, Value: "KZ"},
		}},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	root, err := issue(rootTmpl, rootTmpl, rootPub, true)
	if err != nil {
		return nil, fmt.Errorf("new test CA: root: %w", err)
	}
	intTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidC, Value: "KZ"},
			{Type: oidCN, Value: o.IntermediateCN},
		}},
		NotBefore:             o.IntermediateNotBefore,
		NotAfter:              o.IntermediateNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	inter, err := issue(intTmpl, root, intPub, true)
	if err != nil {
		return nil, fmt.Errorf("new test CA: intermediate: %w", err)
	}
	ca := &CA{Root: root, Intermediate: inter}
	finish(ca)
	return ca, nil
}

func createCert(tmpl, parent *x509.Certificate, pub *rsa.PublicKey, signer *rsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func randomSerial() *big.Int {
	// 19 random bytes with the top bit clear: positive and at most 20 bytes, like NCA's.
	b := make([]byte, 19)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	b[0] &= 0x7f
	b[0] |= 0x01
	return new(big.Int).SetBytes(b)
}

// RootPEM returns the root certificate in PEM.
func (ca *CA) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw})
}

// IntermediatePEM returns the intermediate certificate in PEM.
func (ca *CA) IntermediatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Intermediate.Raw})
}

// WriteTrustDir writes the root and the intermediate as test_root_rsa.pem and
// test_nca_rsa.pem (test_root_gost.pem, test_nca_gost.pem for a GOST CA) into dir (created if
// missing), ready for xmlsig.LoadTrustDir. An RSA and a GOST CA can share a directory.
func (ca *CA) WriteTrustDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("write trust dir: %w", err)
	}
	kind := "rsa"
	if ca.Algorithm == xmlsig.AlgorithmGOST2015_512 {
		kind = "gost"
	}
	if err := os.WriteFile(filepath.Join(dir, "test_root_"+kind+".pem"), ca.RootPEM(), 0o600); err != nil {
		return fmt.Errorf("write trust dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test_nca_"+kind+".pem"), ca.IntermediatePEM(), 0o600); err != nil {
		return fmt.Errorf("write trust dir: %w", err)
	}
	return nil
}

// TrustStore returns the CA as an xmlsig trust store.
func (ca *CA) TrustStore() *xmlsig.TrustStore {
	return xmlsig.NewTrustStore(ca.Root, ca.Intermediate)
}

// TrustStoreOf returns one trust store holding the roots and intermediates of every CA given
// (e.g. the RSA and the GOST test CA, as a real trust directory holds both).
func TrustStoreOf(cas ...*CA) *xmlsig.TrustStore {
	var certs []*x509.Certificate
	for _, ca := range cas {
		certs = append(certs, ca.Root, ca.Intermediate)
	}
	return xmlsig.NewTrustStore(certs...)
}

// Verifier returns an xmlsig.Verifier that trusts this CA only.
func (ca *CA) Verifier(opts ...xmlsig.Option) (*xmlsig.Verifier, error) {
	return xmlsig.NewVerifier(ca.TrustStore(), opts...)
}

// CRL returns a DER CRL issued by the intermediate, valid from thisUpdate to nextUpdate,
// listing the given people's certificates as revoked at revokedAt.
func (ca *CA) CRL(thisUpdate, nextUpdate, revokedAt time.Time, revoked ...*Person) ([]byte, error) {
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, p := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: p.Cert.SerialNumber, RevocationTime: revokedAt})
	}
	tmpl := &x509.RevocationList{
		Number:                    big.NewInt(thisUpdate.Unix()),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
	}
	var der []byte
	var err error
	if ca.gostIntermediateKey != nil {
		der, err = gosttest.CreateRevocationList(tmpl, ca.Intermediate, ca.gostIntermediateKey)
	} else {
		der, err = x509.CreateRevocationList(rand.Reader, tmpl, ca.Intermediate, ca.intermediateKey)
	}
	if err != nil {
		return nil, fmt.Errorf("test CRL: %w", err)
	}
	return der, nil
}

// Person is a test person's certificate and key: Key for a person of an RSA CA, GOSTKey for
// one of a GOST CA. Sign dispatches on which is set. TEST KEYS, NOT REAL.
type Person struct {
	Cert    *x509.Certificate
	Key     *rsa.PrivateKey
	GOSTKey *gosttest.PrivateKey
	Usage   xmlsig.Usage
	IIN     string
}

// Algorithm is the signature algorithm the person's key makes.
func (p *Person) Algorithm() xmlsig.Algorithm {
	if p.GOSTKey != nil {
		return xmlsig.AlgorithmGOST2015_512
	}
	return xmlsig.AlgorithmRSA
}

// PersonOptions describe the certificate Issue makes. The zero value is an individual's AUTH
// certificate for DefaultIIN, valid from an hour ago for a year.
type PersonOptions struct {
	Usage      xmlsig.Usage // UsageAuth (default) or UsageSign
	IIN        string       // 12 digits; default DefaultIIN
	Surname    string       // default ТЕСТОВ
	Name       string       // default ТЕСТ
	Patronymic string       // default ТЕСТОВИЧ
	NotBefore  time.Time    // default now-1h
	NotAfter   time.Time    // default NotBefore+1y
	// Organization issues an organization employee's certificate (EKU 1.2.398.3.3.4.1.2 and
	// .2.1 instead of the individual 1.2.398.3.3.4.1.1, O and OU=BIN…).
	Organization bool
	BIN          string // with Organization; default 123456789021
	// ExtKeyUsage, if not nil, replaces the standard EKU of the usage (clientAuth or
	// emailProtection); the NCA user OID is still added.
	ExtKeyUsage []x509.ExtKeyUsage
	// NoUserOID leaves out the NCA individual/organization EKU OID.
	NoUserOID bool
}

// Issue issues a person's certificate, shaped like NCA RK's: Subject CN="SURNAME NAME",
// SN=surname, SERIALNUMBER="IIN"+iin, C=KZ, GN=patronymic; AUTH keys get KeyUsage
// digitalSignature|keyEncipherment (GOST: digitalSignature|keyAgreement) and EKU clientAuth,
// SIGN keys digitalSignature|nonRepudiation (GOST: plus keyAgreement, as NCA's GOST SIGN
// certificates have) and emailProtection; both carry the individual-person EKU OID. A GOST
// CA gives each person a fresh GOST key. TEST KEYS, NOT REAL.
func (ca *CA) Issue(o PersonOptions) (*Person, error) {
	if o.Usage == 0 {
		o.Usage = xmlsig.UsageAuth
	}
	if o.Usage != xmlsig.UsageAuth && o.Usage != xmlsig.UsageSign {
		return nil, errors.New("issue test person: usage must be auth or sign")
	}
	if o.IIN == "" {
		o.IIN = DefaultIIN
	}
	if o.Surname == "" {
		o.Surname = "ТЕСТОВ"
	}
	if o.Name == "" {
		o.Name = "ТЕСТ"
	}
	if o.Patronymic == "" {
		o.Patronymic = "ТЕСТОВИЧ"
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour).Truncate(time.Second)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = o.NotBefore.AddDate(1, 0, 0)
	}
	if o.BIN == "" {
		o.BIN = "123456789021"
	}
	names := []pkix.AttributeTypeAndValue{
		{Type: oidCN, Value: o.Surname + " " + o.Name},
		{Type: oidSurname, Value: o.Surname},
		{Type: oidSerial, Value: "IIN" + o.IIN},
		{Type: oidC, Value: "KZ"},
		{Type: oidGivenName, Value: o.Patronymic},
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		BasicConstraintsValid: true,
	}
	switch o.Usage {
	case xmlsig.UsageAuth:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case xmlsig.UsageSign:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	}
	if o.ExtKeyUsage != nil {
		tmpl.ExtKeyUsage = o.ExtKeyUsage
	}
	if !o.NoUserOID {
		if o.Organization {
			tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{OIDOrganization, OIDCEO}
		} else {
			tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{OIDIndividual}
		}
	}
	if o.Organization {
		names = append(names,
			pkix.AttributeTypeAndValue{Type: oidO, Value: `АО "ТЕСТ"`},
			pkix.AttributeTypeAndValue{Type: oidOU, Value: "BIN" + o.BIN})
	}
	tmpl.Subject = pkix.Name{ExtraNames: names}
	if ca.gostIntermediateKey != nil {
		switch o.Usage {
		case xmlsig.UsageAuth:
			tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement
		case xmlsig.UsageSign:
			tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyAgreement
		}
		key, err := gosttest.GenerateKey(nil)
		if err != nil {
			return nil, fmt.Errorf("issue test person: %w", err)
		}
		cert, err := gosttest.CreateCertificate(tmpl, ca.Intermediate, key.Public, ca.gostIntermediateKey)
		if err != nil {
			return nil, fmt.Errorf("issue test person: %w", err)
		}
		return &Person{Cert: cert, GOSTKey: key, Usage: o.Usage, IIN: o.IIN}, nil
	}
	key, err := personKey()
	if err != nil {
		return nil, fmt.Errorf("issue test person: %w", err)
	}
	cert, err := createCert(tmpl, ca.Intermediate, &key.PublicKey, ca.intermediateKey)
	if err != nil {
		return nil, fmt.Errorf("issue test person: %w", err)
	}
	return &Person{Cert: cert, Key: key, Usage: o.Usage, IIN: o.IIN}, nil
}
