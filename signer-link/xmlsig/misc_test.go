package xmlsig_test

import (
	"crypto/x509"
	"testing"
	"time"
)

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return at
}

func mustParseCRL(tb testing.TB, der []byte) *x509.RevocationList {
	tb.Helper()
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		tb.Fatal(err)
	}
	return crl
}
