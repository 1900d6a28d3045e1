package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

func TestCRLReloader(t *testing.T) {
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	dir := t.TempDir()
	write := func(revoked ...*xmlsigtest.Person) {
		t.Helper()
		crl, err := ca.CRL(now.Add(-time.Hour), now.Add(24*time.Hour), now.Add(-30*time.Minute), revoked...)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "nca.crl"), crl, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write()
	r, err := newCRLReloader(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(context.Background(), p.Cert, ca.Intermediate, now); err != nil {
		t.Fatalf("good certificate refused: %v", err)
	}
	// NCA publishes a new list with the certificate on it; the next reload picks it up.
	write(p)
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(context.Background(), p.Cert, ca.Intermediate, now); xmlsig.ReasonOf(err) != xmlsig.ReasonRevoked {
		t.Fatalf("revoked certificate: %v", err)
	}
	// A broken file keeps the last good lists rather than dropping revocation checking.
	if err := os.WriteFile(filepath.Join(dir, "nca.crl"), []byte("not a crl"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.reload(); err == nil {
		t.Fatal("a broken CRL file loaded")
	}
	if err := r.Check(context.Background(), p.Cert, ca.Intermediate, now); xmlsig.ReasonOf(err) != xmlsig.ReasonRevoked {
		t.Fatalf("after a failed reload: %v", err)
	}
	if _, err := newCRLReloader(dir, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a broken CRL dir accepted at start")
	}
}
