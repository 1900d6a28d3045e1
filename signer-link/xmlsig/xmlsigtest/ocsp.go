package xmlsigtest

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSPResponse returns a DER OCSP answer about p's certificate, signed by the intermediate
// itself (no delegated responder): status is ocsp.Good, ocsp.Revoked (at revokedAt) or
// ocsp.Unknown; a zero nextUpdate leaves it out. RSA CAs only: x/crypto/ocsp cannot sign
// with GOST. TEST KEYS, NOT REAL.
func (ca *CA) OCSPResponse(p *Person, status int, thisUpdate, nextUpdate, revokedAt time.Time) ([]byte, error) {
	if ca.intermediateKey == nil {
		return nil, errors.New("test OCSP response: only an RSA CA can sign one")
	}
	tmpl := ocsp.Response{
		Status:       status,
		SerialNumber: p.Cert.SerialNumber,
		ThisUpdate:   thisUpdate,
		NextUpdate:   nextUpdate,
		RevokedAt:    revokedAt,
	}
	der, err := ocsp.CreateResponse(ca.Intermediate, ca.Intermediate, tmpl, ca.intermediateKey)
	if err != nil {
		return nil, fmt.Errorf("test OCSP response: %w", err)
	}
	return der, nil
}
