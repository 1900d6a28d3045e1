package deployments

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

// TestFetchCRL runs the runbook's CRL cron script against a local server: a current list
// lands where kezekbot reads it; an error page, an expired list and a 404 leave the previous
// file alone and fail the run; no temporary file is left behind.
func TestFetchCRL(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "curl", "curl")
	testenv.Tool(t, "openssl", "openssl")

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fetch-crl test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCRLSign | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	crl := func(n int64, this, next time.Time) []byte {
		b, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(n), ThisUpdate: this, NextUpdate: next,
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(42), RevocationTime: this}},
		}, ca, key)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	now := time.Now()
	files := map[string][]byte{
		"/nca_rsa.crl":    crl(2, now.Add(-time.Hour), now.Add(24*time.Hour)),
		"/nca_gost.crl":   []byte("<html>502 Bad Gateway</html>"),
		"/nca_d_rsa.crl":  crl(3, now.Add(-48*time.Hour), now.Add(-24*time.Hour)),
		"/without-suffix": crl(4, now.Add(-time.Hour), now.Add(time.Hour)),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	defer srv.Close()

	dir := t.TempDir()
	old := []byte("the previous list")
	for _, name := range []string{"nca_gost.crl.keep", "nca_d_rsa.crl.keep"} {
		if err := os.WriteFile(filepath.Join(dir, name), old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(paths ...string) (int, string) {
		args := []string{"fetch-crl.sh", dir}
		for _, p := range paths {
			args = append(args, srv.URL+p)
		}
		cmd := exec.CommandContext(t.Context(), "bash", args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), stderr.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, stderr.String()
	}

	if code, errs := run("/nca_rsa.crl", "/without-suffix"); code != 0 {
		t.Fatalf("fresh lists: exit %d: %s", code, errs)
	}
	for name, path := range map[string]string{"nca_rsa.crl": "/nca_rsa.crl", "without-suffix.crl": "/without-suffix"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, files[path]) {
			t.Fatalf("%s: %d bytes (%v), want the served list", name, len(got), err)
		}
	}
	// What the script leaves is what kezekbot loads.
	if _, err := xmlsig.LoadCRLDir(dir); err != nil {
		t.Fatalf("kezekbot cannot load what the script wrote: %v", err)
	}

	// Keep the bad names' previous files where the script would write them.
	for _, name := range []string{"nca_gost.crl", "nca_d_rsa.crl"} {
		if err := os.Rename(filepath.Join(dir, name+".keep"), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	code, errs := run("/nca_gost.crl", "/nca_d_rsa.crl", "/gone.crl", "/nca_rsa.crl")
	if code != 1 {
		t.Fatalf("bad lists: exit %d, want 1: %s", code, errs)
	}
	for _, want := range []string{"nca_gost.crl not refreshed (not a CRL)", "nca_d_rsa.crl not refreshed (past its nextUpdate", "gone.crl not refreshed (download failed)"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	for _, name := range []string{"nca_gost.crl", "nca_d_rsa.crl"} {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(got, old) {
			t.Errorf("%s was replaced by a bad download", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "gone.crl")); err == nil {
		t.Error("a 404 left a file")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".fetch.") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	if code, _ := run(); code != 2 {
		t.Errorf("no URL: exit %d, want 2", code)
	}
}
