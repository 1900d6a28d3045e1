package gosttest_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/gost"
	"github.com/kezekbot/kezekbot/signer-link/gost/gosttest"
)

func TestSignVerify(t *testing.T) {
	k, err := gosttest.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("<kezekbot>revoke</kezekbot>")
	sig, err := k.Sign(nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !gost.Verify(k.Public, msg, sig) {
		t.Fatal("own signature does not verify")
	}
	if gost.Verify(k.Public, []byte("<kezekbot>bind</kezekbot>"), sig) {
		t.Fatal("signature verified another message")
	}
	other, err := gosttest.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if gost.Verify(other.Public, msg, sig) {
		t.Fatal("signature verified with another key")
	}
	for i := range sig {
		bad := append([]byte(nil), sig...)
		bad[i] ^= 0x80
		if gost.Verify(k.Public, msg, bad) {
			t.Fatalf("signature with byte %d changed verified", i)
		}
	}
	if raw, err := gost.ParseRawPublicKey(k.Public.Bytes()); err != nil || !raw.Equal(k.Public) {
		t.Fatalf("public key round trip: %v", err)
	}
}

func TestCertificatesAndCRL(t *testing.T) {
	rootKey, _ := gosttest.GenerateKey(nil)
	intKey, _ := gosttest.GenerateKey(nil)
	leafKey, _ := gosttest.GenerateKey(nil)
	now := time.Now().Truncate(time.Second)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	root, err := gosttest.CreateCertificate(rootTmpl, rootTmpl, rootKey.Public, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := gosttest.CreateCertificate(&x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}, root, intKey.Public, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := gosttest.CreateCertificate(&x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "leaf", SerialNumber: "IIN900506401231"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}, inter, leafKey.Public, intKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		cert    *x509.Certificate
		key     *gost.PublicKey
		subject string
	}{{"root", root, rootKey.Public, "root"}, {"nca", inter, rootKey.Public, "nca"}, {"leaf", leaf, intKey.Public, "leaf"}} {
		if err := gost.CheckSigned(c.cert.Raw, c.key); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.cert.Subject.CommonName != c.subject || gost.KeyVariant(c.cert.RawSubjectPublicKeyInfo) != gost.GOST2015512 {
			t.Fatalf("%s: subject %q", c.name, c.cert.Subject.CommonName)
		}
	}
	if string(leaf.AuthorityKeyId) != string(inter.SubjectKeyId) || leaf.Subject.SerialNumber != "IIN900506401231" {
		t.Fatal("leaf: AKI or subject wrong")
	}
	if gost.CheckSigned(leaf.Raw, rootKey.Public) == nil {
		t.Fatal("leaf verified with the root's key")
	}
	if pk, err := gost.ParsePublicKey(leaf.RawSubjectPublicKeyInfo); err != nil || !pk.Equal(leafKey.Public) {
		t.Fatalf("leaf key: %v", err)
	}

	crlDER, err := gosttest.CreateRevocationList(&x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: leaf.SerialNumber, RevocationTime: now.Add(-time.Minute)}},
	}, inter, intKey)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	if err := gost.CheckSigned(crl.Raw, intKey.Public); err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || string(crl.RawIssuer) != string(inter.RawSubject) {
		t.Fatal("CRL content")
	}
}
