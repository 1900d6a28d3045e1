package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// TestCityServeAndCheckMutualTLS: `city serve` with a server certificate and a client CA,
// `city check` with a client certificate passes; without one every check fails.
func TestCityServeAndCheckMutualTLS(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test city CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	leaf := func(name string, serial int64, eku x509.ExtKeyUsage) (certFile, keyFile string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalPKCS8PrivateKey(key)
		return write(name+".pem", "CERTIFICATE", der), write(name+".key", "PRIVATE KEY", kb)
	}
	caFile := write("ca.pem", "CERTIFICATE", caDER)
	srvCert, srvKey := leaf("server", 2, x509.ExtKeyUsageServerAuth)
	cliCert, cliKey := leaf("kezekbot", 3, x509.ExtKeyUsageClientAuth)

	ctx, cancel := context.WithCancel(t.Context())
	var out, errOut testenv.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"city", "serve", "--addr", "127.0.0.1:0", "--tls-cert", srvCert, "--tls-key", srvKey, "--client-ca", caFile}, &out, &errOut)
	}()
	defer func() { cancel(); <-done }()
	var addr string
	re := regexp.MustCompile(`https://(127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("serve did not start: %s %s", out.String(), errOut.String())
	}
	base := []string{"city", "check", "--url", "https://" + addr, "--ca", caFile, "--iin", postgres.DemoParents[0].IIN, "--test-application", "1"}
	var check bytes.Buffer
	if code := run(t.Context(), append(base, "--cert", cliCert, "--key", cliKey), &check, &check); code != 0 {
		t.Errorf("with a client certificate: exit %d\n%s", code, check.String())
	}
	check.Reset()
	if code := run(t.Context(), base, &check, &check); code != 1 || !strings.Contains(check.String(), "0 of") {
		t.Errorf("without a client certificate: exit %d\n%s", code, check.String())
	}
}
