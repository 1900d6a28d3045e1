package broadcast

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/audience"
	"github.com/kezekbot/kezekbot/flows/staff"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// AdminStore is what the admin API needs; *postgres.DB implements it.
type AdminStore interface {
	CountAudience(ctx context.Context, a audience.Audience) (int, error)
	CreateBroadcast(ctx context.Context, nb postgres.NewBroadcast) (postgres.Broadcast, error)
	GetBroadcast(ctx context.Context, id int64) (postgres.Broadcast, error)
	ListBroadcasts(ctx context.Context, limit int) ([]postgres.Broadcast, error)
	StopBroadcast(ctx context.Context, id int64) (postgres.Broadcast, error)
	ResumeBroadcast(ctx context.Context, id int64) (postgres.Broadcast, error)
	ImportEvents(ctx context.Context, events []postgres.ImportedEvent) (int, error)
}

// MaxAPIBody caps an admin request body: ten thousand application numbers or events fit.
const MaxAPIBody = 2 << 20

// MaxImport caps the events of one import request.
const MaxImport = 10000

// AdminAPI is the HTTP admin API, authenticated with a bearer token:
//
//	POST /admin/broadcasts               {"audience":{…},"text_ru":"…","text_kk":"…","paid":false,"dry_run":false}
//	GET  /admin/broadcasts?limit=50
//	GET  /admin/broadcasts/{id}
//	POST /admin/broadcasts/{id}/stop
//	POST /admin/broadcasts/{id}/resume
//	POST /admin/events                   [{"kind":"status_changed","payload":{…}}, …]
//
// Mount it at /admin/ on the admin listener. Errors are {"error": code, "message": text}.
type AdminAPI struct {
	s     AdminStore
	token [32]byte
	ok    bool
	log   *slog.Logger
	mux   *http.ServeMux
	// Created, if set, is called after a broadcast was created (Engine.Kick).
	Created func()
}

// NewAdminAPI returns the API. An empty token refuses every request: the API never runs open.
func NewAdminAPI(s AdminStore, token string, log *slog.Logger) *AdminAPI {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &AdminAPI{s: s, token: sha256.Sum256([]byte(token)), ok: token != "", log: log, mux: http.NewServeMux()}
	a.mux.HandleFunc("POST /admin/broadcasts", a.create)
	a.mux.HandleFunc("GET /admin/broadcasts", a.list)
	a.mux.HandleFunc("GET /admin/broadcasts/{id}", a.show)
	a.mux.HandleFunc("POST /admin/broadcasts/{id}/stop", a.stop)
	a.mux.HandleFunc("POST /admin/broadcasts/{id}/resume", a.resume)
	a.mux.HandleFunc("POST /admin/events", a.events)
	return a
}

// ServeHTTP checks the bearer token, then routes.
func (a *AdminAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kezekbot-admin"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxAPIBody)
	a.mux.ServeHTTP(w, r)
}

// authorized compares hashes in constant time: neither the token's bytes nor its length
// leak through timing.
func (a *AdminAPI) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if !a.ok || len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(h[len(prefix):]))
	return subtle.ConstantTimeCompare(got[:], a.token[:]) == 1
}

// BroadcastRequest is the body of POST /admin/broadcasts.
type BroadcastRequest struct {
	Audience audience.Audience `json:"audience"`
	TextRU   string            `json:"text_ru"`
	TextKK   string            `json:"text_kk"`
	Paid     bool              `json:"paid"`
	// DryRun only counts the recipients.
	DryRun bool `json:"dry_run"`
}

// ParseBroadcastRequest decodes and validates a request body as hostile input.
func ParseBroadcastRequest(body []byte) (BroadcastRequest, error) {
	var req BroadcastRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if err := req.Validate(); err != nil {
		return req, err
	}
	return req, nil
}

// Validate checks the audience and the texts: at least one, valid UTF-8, within Telegram's
// limit, and no IIN in them.
func (req *BroadcastRequest) Validate() error {
	if err := req.Audience.Validate(); err != nil {
		return err
	}
	req.TextRU, req.TextKK = strings.TrimSpace(req.TextRU), strings.TrimSpace(req.TextKK)
	if req.TextRU == "" && req.TextKK == "" {
		return kezekbot.Errorf(kezekbot.EINVALID, "text_ru or text_kk is required")
	}
	for _, t := range []string{req.TextRU, req.TextKK} {
		switch {
		case !utf8.ValidString(t):
			return kezekbot.Errorf(kezekbot.EINVALID, "text is not valid UTF-8")
		case utf8.RuneCountInString(t) > staff.MaxText:
			return kezekbot.Errorf(kezekbot.EINVALID, "text is longer than %d characters", staff.MaxText)
		case staff.ContainsIIN(t):
			return kezekbot.Errorf(kezekbot.EINVALID, "text contains an IIN; broadcasts must not carry personal data")
		}
	}
	return nil
}

// ParseEvents decodes an import body (a JSON array of events, or {"events": […]}) and
// validates every event.
func ParseEvents(body []byte) ([]postgres.ImportedEvent, error) {
	var evs []postgres.ImportedEvent
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var wrap struct {
			Events []postgres.ImportedEvent `json:"events"`
		}
		if err := decodeStrict(body, &wrap); err != nil {
			return nil, err
		}
		evs = wrap.Events
	} else if err := decodeStrict(body, &evs); err != nil {
		return nil, err
	}
	if len(evs) == 0 || len(evs) > MaxImport {
		return nil, kezekbot.Errorf(kezekbot.EINVALID, "send 1–%d events", MaxImport)
	}
	for i, ev := range evs {
		if err := ev.Validate(); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
	}
	return evs, nil
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return kezekbot.Errorf(kezekbot.EINVALID, "body is not the expected JSON: %s", jsonProblem(err))
	}
	if dec.More() {
		return kezekbot.Errorf(kezekbot.EINVALID, "body has trailing data")
	}
	return nil
}

// jsonProblem says what is wrong without echoing the body back.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "wrong type for field " + te.Field
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return err.Error()
	}
	return "malformed"
}

func (a *AdminAPI) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeError(w, http.StatusRequestEntityTooLarge, kezekbot.EINVALID, "body too large")
		} else {
			writeError(w, http.StatusBadRequest, kezekbot.EINVALID, "cannot read body")
		}
		return nil, false
	}
	return b, true
}

func (a *AdminAPI) create(w http.ResponseWriter, r *http.Request) {
	body, ok := a.body(w, r)
	if !ok {
		return
	}
	req, err := ParseBroadcastRequest(body)
	if err != nil {
		a.fail(w, err)
		return
	}
	if req.DryRun {
		n, err := a.s.CountAudience(r.Context(), req.Audience)
		if err != nil {
			a.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"recipients": n})
		return
	}
	b, err := a.s.CreateBroadcast(r.Context(), postgres.NewBroadcast{
		Source: postgres.SourceAPI, Audience: req.Audience, TextRU: req.TextRU, TextKK: req.TextKK, Paid: req.Paid,
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	a.log.Info("broadcast created", "source", "api", "broadcast", b.ID, "recipients", b.Total)
	if a.Created != nil {
		a.Created()
	}
	writeJSON(w, http.StatusCreated, b)
}

func (a *AdminAPI) list(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, kezekbot.EINVALID, "limit must be 1–1000")
			return
		}
		limit = n
	}
	bs, err := a.s.ListBroadcasts(r.Context(), limit)
	if err != nil {
		a.fail(w, err)
		return
	}
	if bs == nil {
		bs = []postgres.Broadcast{}
	}
	writeJSON(w, http.StatusOK, bs)
}

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, kezekbot.ENOTFOUND, "no such broadcast")
		return 0, false
	}
	return id, true
}

func (a *AdminAPI) show(w http.ResponseWriter, r *http.Request) {
	a.byID(w, r, a.s.GetBroadcast)
}

func (a *AdminAPI) stop(w http.ResponseWriter, r *http.Request) {
	a.byID(w, r, a.s.StopBroadcast)
}

func (a *AdminAPI) resume(w http.ResponseWriter, r *http.Request) {
	a.byID(w, r, a.s.ResumeBroadcast)
	if a.Created != nil {
		a.Created()
	}
}

func (a *AdminAPI) byID(w http.ResponseWriter, r *http.Request, f func(context.Context, int64) (postgres.Broadcast, error)) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	b, err := f(r.Context(), id)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (a *AdminAPI) events(w http.ResponseWriter, r *http.Request) {
	body, ok := a.body(w, r)
	if !ok {
		return
	}
	evs, err := ParseEvents(body)
	if err != nil {
		a.fail(w, err)
		return
	}
	n, err := a.s.ImportEvents(r.Context(), evs)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"imported": n})
}

var statusOf = map[string]int{
	kezekbot.EINVALID:   http.StatusBadRequest,
	kezekbot.ENOTFOUND:  http.StatusNotFound,
	kezekbot.ECONFLICT:  http.StatusConflict,
	kezekbot.EFORBIDDEN: http.StatusForbidden,
	kezekbot.EEXPIRED:   http.StatusGone,
}

// fail maps a domain error to a status; internal errors are logged and not shown.
func (a *AdminAPI) fail(w http.ResponseWriter, err error) {
	code := kezekbot.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		a.log.Error("admin api", "err", err)
		writeError(w, http.StatusInternalServerError, kezekbot.EINTERNAL, "Internal error.")
		return
	}
	writeError(w, status, code, kezekbot.ErrorMessage(err))
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
