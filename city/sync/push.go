// Package sync brings the city's changes into kezekbot's mirror, both ways the contract
// offers: the city pushes them (PushHandler, POST /city/changes, signed with HMAC-SHA256), or
// kezekbot pulls them from the city's feed with a cursor (Puller), for cities behind a
// firewall. Either way a batch is applied in one transaction with its notifications, and
// duplicate or out-of-order deliveries are harmless (the store's rules: a change id is
// applied once, an older revision never overwrites a newer one).
package sync

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/metrics"
)

// SignatureHeader carries the push's signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// "<t>.<body>")>[,v1=…]. Several v1 let the city sign with an old and a new secret while both
// sides rotate.
const SignatureHeader = "X-Kezek-Signature"

// Defaults of PushConfig.
const (
	DefaultMaxBody = 1 << 20
	DefaultWindow  = 5 * time.Minute
	// MinSecretLen is the shortest push secret accepted: 32 characters, about 190 bits when
	// random base64.
	MinSecretLen = 32
)

// Problem codes of the push endpoint's error answers ({"code":…,"message":…}).
const (
	CodeUnauthorized     = "unauthorized"
	CodeTooLarge         = "payload_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeInvalid          = "invalid_request"
	CodeUnavailable      = "unavailable"
	CodeMethod           = "method_not_allowed"
)

// ChangeApplier stores a batch of changes in one transaction and answers only after it
// committed (*postgres.DB). An invalid change is an error with code EINVALID naming it;
// nothing of the batch is then applied.
type ChangeApplier interface {
	ApplyChanges(ctx context.Context, changes []city.Change) (city.Applied, error)
}

// PushConfig configures PushHandler.
type PushConfig struct {
	// Secrets are the shared HMAC secrets, newest first (KEZEKBOT_CITY_PUSH_SECRETS); a
	// signature by any of them is accepted.
	Secrets []string
	// MaxBody is the largest body accepted (default DefaultMaxBody); larger is 413.
	MaxBody int64
	// Window is how far the signed timestamp may be from now, either way (default 5 minutes).
	Window  time.Duration
	Now     func() time.Time
	Log     *slog.Logger
	Metrics *metrics.CityFeed
}

// ParseSecrets reads KEZEKBOT_CITY_PUSH_SECRETS: secrets separated by commas, newest first,
// each at least MinSecretLen characters. The error never quotes a secret.
func ParseSecrets(v string) ([]string, error) {
	var out []string
	for i, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if len(s) < MinSecretLen {
			return nil, fmt.Errorf("secret %d is shorter than %d characters", i+1, MinSecretLen)
		}
		out = append(out, s)
	}
	return out, nil
}

// PushHandler is the endpoint the city pushes changes to (POST /city/changes). It answers
// 200 {"applied","duplicate","stale"} only after the batch is stored; 401 for a missing, bad
// or stale signature; 400 for a body that is not a valid change batch (naming the change);
// 413 for an oversize body; 415 for a body that is not JSON; 503 when the store failed (the
// city retries). It logs nothing personal: no body, no IIN, no signature.
type PushHandler struct {
	store   ChangeApplier
	secrets [][]byte
	cfg     PushConfig
}

// NewPushHandler checks cfg and returns the handler.
func NewPushHandler(store ChangeApplier, cfg PushConfig) (*PushHandler, error) {
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("city push: no secret configured")
	}
	h := &PushHandler{store: store, cfg: cfg}
	for i, s := range cfg.Secrets {
		if len(s) < MinSecretLen {
			return nil, fmt.Errorf("city push: secret %d is shorter than %d characters", i+1, MinSecretLen)
		}
		h.secrets = append(h.secrets, []byte(s))
	}
	if h.cfg.MaxBody <= 0 {
		h.cfg.MaxBody = DefaultMaxBody
	}
	if h.cfg.Window <= 0 {
		h.cfg.Window = DefaultWindow
	}
	if h.cfg.Now == nil {
		h.cfg.Now = time.Now
	}
	if h.cfg.Log == nil {
		h.cfg.Log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// pushError is a refused push: the status, the problem code and a message that quotes no
// outside value.
type pushError struct {
	status  int
	code    string
	message string
}

func (e *pushError) Error() string { return e.code + ": " + e.message }

func (h *PushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, &pushError{http.StatusMethodNotAllowed, CodeMethod, "use POST"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.refuse(w, &pushError{http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type must be application/json"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.refuse(w, &pushError{http.StatusRequestEntityTooLarge, CodeTooLarge,
				fmt.Sprintf("the body is larger than %d bytes; push fewer changes at a time", h.cfg.MaxBody)})
			return
		}
		h.refuse(w, &pushError{http.StatusBadRequest, CodeInvalid, "the body could not be read"})
		return
	}
	changes, perr := h.parse(r.Header.Get(SignatureHeader), body)
	if perr != nil {
		h.refuse(w, perr)
		return
	}
	res, err := h.store.ApplyChanges(r.Context(), changes)
	if err != nil {
		if kezekbot.ErrorCode(err) == kezekbot.EINVALID {
			// The store's message names the change and the field, never a value.
			h.refuse(w, &pushError{http.StatusBadRequest, CodeInvalid, err.Error()})
			return
		}
		h.cfg.Log.Error("city push: store the changes", "changes", len(changes), "err", err)
		h.cfg.Metrics.Batch(metrics.FeedPush, metrics.ResultError)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, city.Problem{Code: CodeUnavailable, Message: "the changes were not stored; retry"})
		return
	}
	h.cfg.Metrics.Batch(metrics.FeedPush, metrics.ResultOK)
	h.cfg.Metrics.Changes(metrics.FeedPush, res.Applied, res.Duplicate, res.Stale)
	if h.cfg.Metrics != nil {
		for _, c := range changes {
			h.cfg.Metrics.Applied(c.At)
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// parse checks the signature of body and decodes it into changes checked as outside input.
func (h *PushHandler) parse(header string, body []byte) ([]city.Change, *pushError) {
	if err := h.verify(header, body); err != nil {
		return nil, &pushError{http.StatusUnauthorized, CodeUnauthorized, err.Error()}
	}
	changes, err := DecodeChanges(body)
	if err != nil {
		return nil, &pushError{http.StatusBadRequest, CodeInvalid, err.Error()}
	}
	return changes, nil
}

func (h *PushHandler) refuse(w http.ResponseWriter, e *pushError) {
	result := "rejected"
	h.cfg.Log.Warn("city push refused", "status", e.status, "code", e.code, "reason", e.message)
	h.cfg.Metrics.Batch(metrics.FeedPush, result)
	writeJSON(w, e.status, city.Problem{Code: e.code, Message: e.message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client is gone if this fails
}

// verify checks the signature header against body at now: the timestamp within the window
// either way, and one of the v1 signatures made by one of the secrets (compared in constant
// time).
func (h *PushHandler) verify(header string, body []byte) error {
	ts, sigs, err := ParseSignature(header)
	if err != nil {
		return err
	}
	now := h.cfg.Now()
	signed := time.Unix(ts, 0)
	if d := now.Sub(signed); d > h.cfg.Window || d < -h.cfg.Window {
		return fmt.Errorf("the signature's timestamp is more than %s from now; sign each delivery when sending it", h.cfg.Window)
	}
	for _, secret := range h.secrets {
		want := Sign(secret, ts, body)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				return nil
			}
		}
	}
	return errors.New("no signature matches the body with a configured secret")
}

// maxSignatures bounds the work a hostile header can cause (signatures × secrets HMACs).
const maxSignatures = 8

// ParseSignature reads a SignatureHeader value: exactly one t (unix seconds) and 1 to 8 v1
// signatures (64 hex digits each); other keys are ignored, so that a future scheme can be
// sent alongside.
func ParseSignature(header string) (ts int64, sigs [][]byte, err error) {
	if header == "" {
		return 0, nil, fmt.Errorf("missing %s header", SignatureHeader)
	}
	if len(header) > 1024 {
		return 0, nil, fmt.Errorf("%s header is too long", SignatureHeader)
	}
	haveT := false
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, fmt.Errorf("%s header: want key=value pairs", SignatureHeader)
		}
		switch k {
		case "t":
			if haveT {
				return 0, nil, fmt.Errorf("%s header: t given twice", SignatureHeader)
			}
			haveT = true
			if len(v) == 0 || len(v) > 12 || strings.TrimLeft(v, "0123456789") != "" {
				return 0, nil, fmt.Errorf("%s header: t must be unix seconds", SignatureHeader)
			}
			ts, _ = strconv.ParseInt(v, 10, 64) // ≤ 12 digits always fits
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return 0, nil, fmt.Errorf("%s header: v1 must be 64 hex digits", SignatureHeader)
			}
			if len(sigs) == maxSignatures {
				return 0, nil, fmt.Errorf("%s header: at most %d signatures", SignatureHeader, maxSignatures)
			}
			sigs = append(sigs, sig)
		}
	}
	if !haveT {
		return 0, nil, fmt.Errorf("%s header: no t", SignatureHeader)
	}
	if len(sigs) == 0 {
		return 0, nil, fmt.Errorf("%s header: no v1 signature", SignatureHeader)
	}
	return ts, sigs, nil
}

// Sign is HMAC-SHA256(secret, "<ts>.<body>"), what a v1 signature is the hex of.
func Sign(secret []byte, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// SignatureValue is the SignatureHeader value a city sends for body at ts, one v1 per secret
// (the reference city and tests use it).
func SignatureValue(ts int64, body []byte, secrets ...string) string {
	var b strings.Builder
	b.WriteString("t=" + strconv.FormatInt(ts, 10))
	for _, s := range secrets {
		b.WriteString(",v1=" + hex.EncodeToString(Sign([]byte(s), ts, body)))
	}
	return b.String()
}

// DecodeChanges decodes a push body ({"changes":[…]}) and checks each change as outside
// input. Errors name the change by index (and id when it has one) and the field, never a
// value.
func DecodeChanges(body []byte) ([]city.Change, error) {
	var raw struct {
		Changes []json.RawMessage `json:"changes"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&raw); err != nil {
		return nil, errors.New("the body is not a JSON object {\"changes\": [...]}")
	}
	if d.More() {
		return nil, errors.New("the body has data after the JSON object")
	}
	if raw.Changes == nil {
		return nil, errors.New("the body has no \"changes\" array")
	}
	out := make([]city.Change, len(raw.Changes))
	for i, rc := range raw.Changes {
		if err := json.Unmarshal(rc, &out[i]); err != nil {
			return nil, fmt.Errorf("change %d: %s", i, jsonProblem(err))
		}
		if err := out[i].Validate(); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
	}
	return out, nil
}

// jsonProblem says what was wrong with a change's JSON without quoting it: a JSON error can
// carry the offending value (an IIN that fails its check digit, say).
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s has the wrong type", te.Field)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "malformed JSON"
	}
	if kezekbot.ErrorCode(err) == kezekbot.EINVALID {
		return "invalid IIN" // the only text field that validates itself; ParseIIN's message may quote a digit
	}
	return "malformed change"
}
