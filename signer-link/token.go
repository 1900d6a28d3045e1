package signerlink

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
)

// MinKeyLen is the shortest HMAC key accepted: a key shorter than the MAC it makes would be the
// weak point of the link.
const MinKeyLen = 32

// Key is one HMAC-SHA256 key for link tokens. ID travels in every token, so keys can be rotated
// without killing the links already handed out.
type Key struct {
	ID     byte
	Secret []byte
}

// Keys are the link keys: Current signs new tokens; Accept lists older keys whose tokens are
// still honoured until they expire (a link lives minutes, so an old key can be dropped one TTL
// after rotation).
type Keys struct {
	Current Key
	Accept  []Key
}

// ParseKeys reads keys from configuration, e.g. KEZEKBOT_LINK_KEYS="2:<base64>,1:<base64>": a
// comma-separated list of id:key with the key in standard or URL base64; the first is
// Current, the rest are Accept.
func ParseKeys(s string) (Keys, error) {
	var ks Keys
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		idStr, b64, ok := strings.Cut(part, ":")
		if !ok {
			return Keys{}, fmt.Errorf("parse link keys: entry %d: want id:base64key", i+1)
		}
		id, err := strconv.ParseUint(idStr, 10, 8)
		if err != nil {
			return Keys{}, fmt.Errorf("parse link keys: entry %d: key id must be 0–255", i+1)
		}
		secret, err := decodeKey(b64)
		if err != nil {
			// Deliberately not wrapping err: base64 errors quote offsets, never the key, but keep
			// the message short and certain.
			return Keys{}, fmt.Errorf("parse link keys: entry %d: key is not base64", i+1)
		}
		k := Key{ID: byte(id), Secret: secret}
		if i == 0 {
			ks.Current = k
		} else {
			ks.Accept = append(ks.Accept, k)
		}
	}
	if err := ks.validate(); err != nil {
		return Keys{}, fmt.Errorf("parse link keys: %w", err)
	}
	return ks, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func (ks Keys) validate() error {
	seen := map[byte]bool{}
	for _, k := range append([]Key{ks.Current}, ks.Accept...) {
		if len(k.Secret) < MinKeyLen {
			return fmt.Errorf("key %d is %d bytes, need at least %d", k.ID, len(k.Secret), MinKeyLen)
		}
		if seen[k.ID] {
			return fmt.Errorf("key id %d appears twice", k.ID)
		}
		seen[k.ID] = true
	}
	return nil
}

func (ks Keys) lookup(id byte) ([]byte, bool) {
	if ks.Current.ID == id {
		return ks.Current.Secret, true
	}
	for _, k := range ks.Accept {
		if k.ID == id {
			return k.Secret, true
		}
	}
	return nil, false
}

// Token layout (all integers big-endian), then HMAC-SHA256 over everything before it:
//
//	0      version (1)
//	1      key id
//	2..9   chat id (int64)
//	10     action: 1 bind, 2 revoke
//	11     language: 1 kk, 2 ru (so that even a dead link's page speaks the parent's language)
//	12..19 application id (int64, 0 for bind)
//	20..27 referral id (int64, 0 for bind)
//	28..43 nonce (128 random bits)
//	44..51 expiry, Unix seconds (int64)
//	52..83 MAC
//
// Fixed width keeps the parser trivial to reason about; 84 bytes are 112 base64url characters,
// well within what Telegram buttons and browsers take.
const (
	tokenVersion    = 1
	tokenPayloadLen = 52
	tokenMACLen     = sha256.Size
	tokenLen        = tokenPayloadLen + tokenMACLen
	nonceLen        = 16
)

// claims is what a token says. The token only points at the link record in Redis; the record is
// the authority and must agree with the claims.
type claims struct {
	KeyID   byte
	ChatID  int64
	Action  kezekbot.Action
	Lang    flows.Lang
	AppID   int64
	RefID   int64
	Nonce   [nonceLen]byte
	Expires time.Time
}

// nonceString is the nonce as the rest of the system sees it (Redis key, flows.Signed.Nonce).
func (c claims) nonceString() string { return base64.RawURLEncoding.EncodeToString(c.Nonce[:]) }

func newNonce() [nonceLen]byte {
	var n [nonceLen]byte
	_, _ = rand.Read(n[:]) // crypto/rand.Read never returns an error (Go ≥ 1.24)
	return n
}

func actionByte(a kezekbot.Action) (byte, bool) {
	switch a {
	case kezekbot.ActionBind:
		return 1, true
	case kezekbot.ActionRevoke:
		return 2, true
	}
	return 0, false
}

func langByte(l flows.Lang) byte {
	if l == flows.Kazakh {
		return 1
	}
	return 2
}

func mac(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)
}

// encodeToken signs c with the current key.
func (ks Keys) encodeToken(c claims) (string, error) {
	ab, ok := actionByte(c.Action)
	if !ok {
		return "", fmt.Errorf("encode token: unknown action %q", c.Action)
	}
	b := make([]byte, tokenPayloadLen, tokenLen)
	b[0] = tokenVersion
	b[1] = ks.Current.ID
	binary.BigEndian.PutUint64(b[2:], uint64(c.ChatID))
	b[10] = ab
	b[11] = langByte(c.Lang)
	binary.BigEndian.PutUint64(b[12:], uint64(c.AppID))
	binary.BigEndian.PutUint64(b[20:], uint64(c.RefID))
	copy(b[28:44], c.Nonce[:])
	binary.BigEndian.PutUint64(b[44:], uint64(c.Expires.Unix()))
	b = append(b, mac(ks.Current.Secret, b)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// errForged is every way a token can fail to be ours. The reasons are not told apart outside:
// an attacker learns nothing from the answer.
var errForged = errors.New("link token is not valid")

// parseToken checks the MAC (in constant time) and decodes the claims. It does not look at the
// expiry: the caller decides, so that an expired link still gets a page in its language.
func (ks Keys) parseToken(s string) (claims, error) {
	// Strict decoding still skips CR and LF, which would give one link a second spelling
	// (and a second per-link rate-limit bucket): a token has none.
	if base64.RawURLEncoding.DecodedLen(len(s)) != tokenLen || strings.ContainsAny(s, "\r\n") {
		return claims{}, errForged
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != tokenLen {
		return claims{}, errForged
	}
	if b[0] != tokenVersion {
		return claims{}, errForged
	}
	key, ok := ks.lookup(b[1])
	if !ok {
		return claims{}, errForged
	}
	if !hmac.Equal(mac(key, b[:tokenPayloadLen]), b[tokenPayloadLen:]) {
		return claims{}, errForged
	}
	c := claims{
		KeyID:   b[1],
		ChatID:  int64(binary.BigEndian.Uint64(b[2:])),
		AppID:   int64(binary.BigEndian.Uint64(b[12:])),
		RefID:   int64(binary.BigEndian.Uint64(b[20:])),
		Expires: time.Unix(int64(binary.BigEndian.Uint64(b[44:])), 0),
	}
	copy(c.Nonce[:], b[28:44])
	switch b[10] {
	case 1:
		c.Action = kezekbot.ActionBind
	case 2:
		c.Action = kezekbot.ActionRevoke
	default:
		// Only our key makes MACs, so this is a bug or a key leak; refuse all the same.
		return claims{}, errForged
	}
	switch b[11] {
	case 1:
		c.Lang = flows.Kazakh
	case 2:
		c.Lang = flows.Russian
	default:
		return claims{}, errForged
	}
	return c, nil
}
