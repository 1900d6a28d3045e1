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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/metrics"
)

// SignatureHeader carries the push's signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// "<t>.<body>")>[,v1=…] (city.VerifySignature). Several v1 let the city sign with an old and a
// new secret while both sides rotate.
const SignatureHeader = city.HeaderSignature

// Defaults of PushConfig.
const (
	DefaultMaxBody = city.MaxPushBody
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
	// MaxBody is the largest body accepted (default DefaultMaxBody); larger is 413. The signed
	// timestamp may be city.SignatureWindow from now either way.
	MaxBody int64
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

// verify checks the signature header against body at now with each secret (city.VerifySignature:
// the timestamp within the window either way, a v1 signature by the secret, compared in
// constant time).
func (h *PushHandler) verify(header string, body []byte) error {
	now := h.cfg.Now()
	err := city.ErrSignatureMissing
	for _, secret := range h.secrets {
		e := city.VerifySignature(secret, header, body, now)
		if e == nil {
			return nil
		}
		err = e // every secret gives the same answer but for a match
	}
	switch {
	case errors.Is(err, city.ErrSignatureStale):
		return fmt.Errorf("the signature's timestamp is more than %s from now; sign each delivery when sending it", city.SignatureWindow)
	case errors.Is(err, city.ErrSignatureBad):
		return errors.New("no signature matches the body with a configured secret")
	}
	return fmt.Errorf("missing or malformed %s header: want t=<unix seconds>,v1=<64 hex digits>", SignatureHeader)
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
