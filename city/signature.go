package city

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Push signatures: the city signs every push to kezekbot (POST {kezekbot}/city/changes, body a
// ChangePage) with a shared secret:
//
//	X-Kezek-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// kezekbot refuses a signature older or newer than SignatureWindow, so a captured push cannot
// be replayed later; within the window a replay is harmless because change ids apply once.
const (
	HeaderSignature = "X-Kezek-Signature"
	SignatureWindow = 5 * time.Minute
	// PushPath is where kezekbot takes pushes.
	PushPath = "/city/changes"
	// MaxPushBody is the largest push body kezekbot takes (413 above it): a city pushes
	// small batches as things happen; a backlog belongs in the pulled feed or an import.
	MaxPushBody = 1 << 20
)

// Sign returns the X-Kezek-Signature value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature errors; the push endpoint answers 401 to each.
var (
	ErrSignatureMissing = errors.New("missing or malformed " + HeaderSignature + " header")
	ErrSignatureStale   = errors.New("signature timestamp outside the 5-minute window")
	ErrSignatureBad     = errors.New("signature does not match the body")
)

// VerifySignature checks header (the X-Kezek-Signature value) against body at now. Several v1
// values are allowed, so that a city can sign with an old and a new secret while the secret is
// rotated; one match is enough. The comparison is constant-time.
func VerifySignature(secret []byte, header string, body []byte, now time.Time) error {
	if len(secret) == 0 || header == "" || len(header) > 1024 {
		return ErrSignatureMissing
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrSignatureMissing
		}
		switch k {
		case "t":
			if ts != "" {
				return ErrSignatureMissing
			}
			ts = v
		case "v1":
			s, err := hex.DecodeString(v)
			if err != nil || len(s) != sha256.Size {
				return ErrSignatureMissing
			}
			sigs = append(sigs, s)
		}
		// Unknown schemes (a future v2) are skipped, as Stripe-style headers allow.
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 || len(ts) > 12 {
		return ErrSignatureMissing
	}
	if d := now.Sub(time.Unix(n, 0)); d > SignatureWindow || d < -SignatureWindow {
		return ErrSignatureStale
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrSignatureBad
}
