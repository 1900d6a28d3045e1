package refcity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
)

// Body limits of requests: a search is an IIN; a revocation carries a signed XML of up to
// 64 KiB, JSON-escaped.
const (
	maxSearchBody = 4 << 10
	maxRevokeBody = 256 << 10
	maxAdminBody  = 16 << 10
	defaultLimit  = 100
)

func (c *City) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/applications/search", c.faulty(c.search))
	m.HandleFunc("GET /v1/applications/{id}", c.faulty(c.application))
	m.HandleFunc("POST /v1/revocations", c.faulty(c.revocation))
	m.HandleFunc("GET /v1/changes", c.faulty(c.changeFeed))
	m.HandleFunc("POST /_ref/referrals", c.issueReferral)
	m.HandleFunc("GET /_ref/faults", c.getFaults)
	m.HandleFunc("POST /_ref/faults", c.setFaults)
	m.HandleFunc("GET /_ref/revocations", c.listRevocations)
	c.mux = m
}

// ServeHTTP serves the contract under /v1/, the staff and test helpers under /_ref/, and
// /healthz.
func (c *City) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	if c.cfg.Token != "" {
		auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !constantTimeEq(auth, c.cfg.Token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="city"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
	}
	c.mux.ServeHTTP(w, r)
}

// faulty wraps a contract handler with the injected faults.
func (c *City) faulty(h func(w http.ResponseWriter, r *http.Request, lost bool)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		f := c.faults
		delay := time.Duration(f.Latency)
		if f.Jitter > 0 {
			delay += time.Duration(c.rng.Int64N(int64(f.Jitter) + 1))
		}
		hang, fail, malformed, lost := c.roll(f.TimeoutRate), c.roll(f.ErrorRate), c.roll(f.MalformedRate), c.roll(f.LostAnswerRate)
		c.mu.Unlock()
		if delay > 0 && !sleep(r.Context(), delay) {
			return
		}
		switch {
		case hang:
			// Read the body first: the server notices a client that gave up only then.
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxRevokeBody))
			<-r.Context().Done()
			return
		case fail:
			w.Header().Set("Retry-After", "1")
			problem(w, http.StatusServiceUnavailable, "unavailable", "injected fault: the city is unavailable")
			return
		case malformed:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"applications":[{"id":1,"revision":`)
			return
		}
		h(w, r, lost)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func problem(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(city.Problem{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		problem(w, http.StatusInternalServerError, "internal", "encode answer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// readJSON decodes a request body strictly; false means an answer was written.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			problem(w, http.StatusRequestEntityTooLarge, city.RefuseInvalid, "body larger than "+strconv.FormatInt(limit, 10)+" bytes")
		} else {
			problem(w, http.StatusBadRequest, city.RefuseInvalid, "cannot read the body")
		}
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		problem(w, http.StatusUnprocessableEntity, city.RefuseInvalid, "body: "+err.Error())
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		problem(w, http.StatusUnprocessableEntity, city.RefuseInvalid, "body: data after the JSON value")
		return nil, false
	}
	return b, true
}

func (c *City) search(w http.ResponseWriter, r *http.Request, _ bool) {
	var req city.SearchRequest
	if _, ok := readJSON(w, r, maxSearchBody, &req); !ok {
		return
	}
	if req.ApplicantIIN.IsZero() {
		problem(w, http.StatusUnprocessableEntity, city.RefuseInvalid, "applicant_iin is required")
		return
	}
	c.mu.Lock()
	out := city.ApplicationList{Applications: []city.Application{}}
	for _, id := range c.ids() {
		rec := c.apps[id]
		if rec.d.VisibleTo(req.ApplicantIIN) {
			a := city.FromDetail(rec.d, rec.rev)
			// A list may leave history and documents out; the card asks for one application.
			a.History, a.Documents = nil, nil
			out.Applications = append(out.Applications, a)
		}
	}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (c *City) application(w http.ResponseWriter, r *http.Request, _ bool) {
	iin, err := kezekbot.ParseIIN(r.Header.Get(city.HeaderApplicantIIN))
	if err != nil {
		problem(w, http.StatusUnprocessableEntity, city.RefuseInvalid, city.HeaderApplicantIIN+" must be a valid IIN")
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	c.mu.Lock()
	rec, ok := c.apps[id]
	var a city.Application
	// Someone else's application is as absent as one that does not exist.
	if ok && err == nil && rec.d.VisibleTo(iin) {
		a = city.FromDetail(rec.d, rec.rev)
	} else {
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		problem(w, http.StatusNotFound, city.RefuseNotFound, "no such application")
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (c *City) revocation(w http.ResponseWriter, r *http.Request, lost bool) {
	var req city.RevokeRequest
	if _, ok := readJSON(w, r, maxRevokeBody, &req); !ok {
		return
	}
	if key := r.Header.Get(city.HeaderIdempotencyKey); key == "" || key != req.IdempotencyKey {
		problem(w, http.StatusUnprocessableEntity, city.RefuseInvalid, "header Idempotency-Key must equal idempotency_key")
		return
	}
	if err := req.Validate(); err != nil {
		problem(w, http.StatusUnprocessableEntity, city.RefuseInvalid, kezekbot.ErrorMessage(err))
		return
	}
	// The request as decoded, not as sent: a gateway that re-encodes JSON still replays.
	canon, _ := json.Marshal(req)
	sum := sha256.Sum256(canon)

	c.mu.Lock()
	status, body := c.revokeLocked(req, sum)
	c.mu.Unlock()
	if lost {
		problem(w, http.StatusBadGateway, "unavailable", "injected fault: the answer was lost")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if status != http.StatusOK {
		w.Header().Set("Content-Type", "application/problem+json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// revokeLocked decides a revocation and remembers the answer under its idempotency key.
// c.mu is held.
func (c *City) revokeLocked(req city.RevokeRequest, sum [32]byte) (int, []byte) {
	if prev, ok := c.idem[req.IdempotencyKey]; ok {
		if prev.sum != sum {
			b, _ := json.Marshal(city.Problem{Code: city.RefuseInvalid, Message: "idempotency key reused with a different request"})
			return http.StatusUnprocessableEntity, append(b, '\n')
		}
		return prev.status, prev.body
	}
	status, v := c.decide(req)
	b, _ := json.Marshal(v)
	b = append(b, '\n')
	c.idem[req.IdempotencyKey] = idemAnswer{sum: sum, status: status, body: b}
	return status, b
}

func (c *City) decide(req city.RevokeRequest) (int, any) {
	refuse := func(code, msg string) (int, any) {
		return http.StatusUnprocessableEntity, city.Problem{Code: code, Message: msg}
	}
	rec, ok := c.apps[req.ApplicationID]
	if !ok {
		return refuse(city.RefuseNotFound, "no such application")
	}
	if !rec.d.VisibleTo(req.ApplicantIIN) {
		return refuse(city.RefuseNotApplicant, "the application was filed by another applicant")
	}
	ri := slices.IndexFunc(rec.d.Referrals, func(r kezekbot.Referral) bool { return r.ID == req.ReferralID })
	if ri < 0 {
		return refuse(city.RefuseNotFound, "the application has no such referral")
	}
	now := c.now().UTC().Truncate(time.Microsecond)
	if err := kezekbot.CheckRevoke(rec.d.Referrals[ri], now); err != nil {
		var rr *kezekbot.RevokeRefusal
		if errors.As(err, &rr) && rr.Reason == kezekbot.RefusalWindowClosed {
			return refuse(city.RefuseWindowClosed, "the 24-hour window closed at "+rr.ClosedAt.UTC().Format(time.RFC3339))
		}
		return refuse(city.RefuseNotActive, "the referral is "+string(rec.d.Referrals[ri].State))
	}
	// The reference city does not verify signatures; a real city may, and refuses with
	// signature_rejected. It keeps the document byte for byte.
	return http.StatusOK, c.revoke(rec, ri, req, now)
}

func (c *City) changeFeed(w http.ResponseWriter, r *http.Request, _ bool) {
	q := r.URL.Query()
	after := q.Get("after")
	limit := defaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > city.MaxPageLimit {
			problem(w, http.StatusUnprocessableEntity, city.RefuseInvalid, "limit must be from 1 to 1000")
			return
		}
		limit = n
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pos := 0
	if after != "" {
		n, err := strconv.Atoi(after)
		if err != nil || n < 0 || n > len(c.changes) || strconv.Itoa(n) != after {
			problem(w, http.StatusUnprocessableEntity, city.RefuseInvalid, "unknown cursor")
			return
		}
		pos = n
	}
	end := min(pos+limit, len(c.changes))
	page := city.ChangePage{Changes: slices.Clone(c.changes[pos:end]), Next: after}
	if end > pos {
		page.Next = strconv.Itoa(end)
	}
	if len(page.Changes) > 0 && pos > 0 && c.roll(c.faults.DuplicateRate) {
		// The change before the cursor again, in place of the last one (which the next page
		// then brings): a delivery kezekbot has seen already.
		dup := []city.Change{c.changes[pos-1]}
		if len(page.Changes) < limit {
			page.Changes = append(dup, page.Changes...)
		} else {
			page.Changes = append(dup, page.Changes[:len(page.Changes)-1]...)
			page.Next = strconv.Itoa(end - 1)
			if end-1 == pos {
				page.Next = after
			}
		}
	}
	if len(page.Changes) > 1 && c.roll(c.faults.OutOfOrderRate) {
		slices.Reverse(page.Changes)
	}
	writeJSON(w, http.StatusOK, page)
}

// IssueRequest is the body of POST /_ref/referrals.
type IssueRequest struct {
	ApplicationID  int64 `json:"application_id"`
	KindergartenID int64 `json:"kindergarten_id,omitempty"`
}

// IssueAnswer is its answer.
type IssueAnswer struct {
	ReferralID int64  `json:"referral_id"`
	ChangeID   string `json:"change_id"`
}

func (c *City) issueReferral(w http.ResponseWriter, r *http.Request) {
	var req IssueRequest
	if _, ok := readJSON(w, r, maxAdminBody, &req); !ok {
		return
	}
	ch, err := c.IssueReferral(req.ApplicationID, req.KindergartenID)
	if err != nil {
		status := http.StatusUnprocessableEntity
		if kezekbot.ErrorCode(err) == kezekbot.ENOTFOUND {
			status = http.StatusNotFound
		}
		problem(w, status, kezekbot.ErrorCode(err), kezekbot.ErrorMessage(err))
		return
	}
	writeJSON(w, http.StatusOK, IssueAnswer{ReferralID: ch.ReferralID, ChangeID: ch.ID})
}

func (c *City) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, c.Faults())
}

func (c *City) setFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if _, ok := readJSON(w, r, maxAdminBody, &f); !ok {
		return
	}
	if err := c.SetFaults(f); err != nil {
		problem(w, http.StatusUnprocessableEntity, city.RefuseInvalid, kezekbot.ErrorMessage(err))
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (c *City) listRevocations(w http.ResponseWriter, _ *http.Request) {
	out := c.Revocations()
	if out == nil {
		out = []city.RevokeRequest{}
	}
	writeJSON(w, http.StatusOK, out)
}
