// Package adapter is the city mode of kezekbot's system of record (KEZEKBOT_QUEUE=city): Record
// answers the dialog (flows.Data, flows.MuteStore) and the signing pages (signer-link's Store)
// from the city's queue system, with kezekbot's mirror as the fallback, and turns a verified
// revocation into a command that the Deliverer sends to the city. The embedded mode is
// *postgres.DB itself; neither the flows, the signer-link nor the notifier can tell the two
// apart.
package adapter

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// DefaultReadTimeout is how long a card waits for the city before it shows the mirror's copy
// (KEZEKBOT_CITY_READ_TIMEOUT).
const DefaultReadTimeout = 1500 * time.Millisecond

// Reader is what Record asks the city (*city.Client implements it).
type Reader interface {
	Applications(ctx context.Context, iin kezekbot.IIN) ([]city.Application, error)
	Application(ctx context.Context, iin kezekbot.IIN, id int64) (city.Application, error)
}

// Mirror is kezekbot's copy of the city's applications (*postgres.DB: the mirror is the
// applications tables, kept by the change feed and by UpsertSnapshot).
type Mirror interface {
	UpsertSnapshot(ctx context.Context, a city.Application, syncedAt time.Time) (bool, error)
	Applications(ctx context.Context, iin kezekbot.IIN) ([]kezekbot.Application, error)
	Application(ctx context.Context, iin kezekbot.IIN, id int64) (kezekbot.ApplicationDetail, error)
	// SyncedAt is when the mirror last heard of the application from the city.
	SyncedAt(ctx context.Context, id int64) (time.Time, error)
}

// Store is the rest of the database Record delegates to (*postgres.DB): bindings, mutes and
// the command queue.
type Store interface {
	BoundIIN(ctx context.Context, chatID int64) (kezekbot.IIN, error)
	Unbind(ctx context.Context, chatID int64) error
	Bind(ctx context.Context, chatID int64, lang string, ev kezekbot.Evidence) error
	Muted(ctx context.Context, chatID int64) ([]string, error)
	SetMuted(ctx context.Context, chatID int64, kind string, muted bool) error
	SetLang(ctx context.Context, chatID int64, lang string) error
	EnqueueRevoke(ctx context.Context, req kezekbot.RevokeRequest, c postgres.CityCommand) error
}

// Record is the city-mode system of record. It implements flows.Data, flows.MuteStore,
// flows.LangStore and signer-link's Store.
type Record struct {
	City   Reader
	Mirror Mirror
	Store  Store
	// ReadTimeout bounds one read of the city (DefaultReadTimeout when 0).
	ReadTimeout time.Duration
	// Enqueued, when set, is called after a command is written (to wake the Deliverer).
	Enqueued func()
	Log      *slog.Logger
	Now      func() time.Time
	// ReadResult, when set, is told how each read ended: "city", "mirror" or "error".
	ReadResult func(op, result string)

	refresh chan refreshJob // set by RunRefresher
	mu      sync.Mutex
}

type refreshJob struct {
	a  city.Application
	at time.Time
}

// refreshQueue bounds the snapshots waiting for the mirror; past it a refresh is dropped (the
// change feed keeps the mirror current anyway; the read-through only makes it fresher).
const refreshQueue = 256

// RunRefresher writes the snapshots the card's reads bring into the mirror, off the parent's
// path: a mirror write takes the mirror's lock and a transaction, which would otherwise add
// milliseconds to every card. Without a running refresher the refresh is done inline. It
// returns when ctx is done.
func (r *Record) RunRefresher(ctx context.Context) error {
	ch := make(chan refreshJob, refreshQueue)
	r.mu.Lock()
	r.refresh = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.refresh = nil
		r.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-ch:
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if _, err := r.Mirror.UpsertSnapshot(wctx, j.a, j.at); err != nil {
				r.log().Warn("city: refresh the mirror", "application", j.a.ID, "err", err)
			}
			cancel()
		}
	}
}

// refreshMirror hands a snapshot to the refresher, or writes it inline when none runs.
func (r *Record) refreshMirror(ctx context.Context, a city.Application) {
	r.mu.Lock()
	ch := r.refresh
	r.mu.Unlock()
	if ch != nil {
		select {
		case ch <- refreshJob{a: a, at: r.now()}:
		default:
			r.log().DebugContext(ctx, "city: mirror refresh dropped, queue full", "application", a.ID)
		}
		return
	}
	if _, err := r.Mirror.UpsertSnapshot(context.WithoutCancel(ctx), a, r.now()); err != nil {
		r.log().WarnContext(ctx, "city: refresh the mirror", "application", a.ID, "err", err)
	}
}

func (r *Record) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Record) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

func (r *Record) timeout() time.Duration {
	if r.ReadTimeout > 0 {
		return r.ReadTimeout
	}
	return DefaultReadTimeout
}

func (r *Record) result(op, res string) {
	if r.ReadResult != nil {
		r.ReadResult(op, res)
	}
}

// BoundIIN implements flows.Data.
func (r *Record) BoundIIN(ctx context.Context, chatID int64) (kezekbot.IIN, error) {
	return r.Store.BoundIIN(ctx, chatID)
}

// Unbind implements flows.Data.
func (r *Record) Unbind(ctx context.Context, chatID int64) error { return r.Store.Unbind(ctx, chatID) }

// Bind implements signer-link's Store.
func (r *Record) Bind(ctx context.Context, chatID int64, lang string, ev kezekbot.Evidence) error {
	return r.Store.Bind(ctx, chatID, lang, ev)
}

// Muted implements flows.MuteStore.
func (r *Record) Muted(ctx context.Context, chatID int64) ([]string, error) {
	return r.Store.Muted(ctx, chatID)
}

// SetMuted implements flows.MuteStore.
func (r *Record) SetMuted(ctx context.Context, chatID int64, kind string, muted bool) error {
	return r.Store.SetMuted(ctx, chatID, kind, muted)
}

// SetLang implements flows.LangStore: /lang reaches the notifications in city mode too.
func (r *Record) SetLang(ctx context.Context, chatID int64, lang string) error {
	return r.Store.SetLang(ctx, chatID, lang)
}

// Applications implements flows.Data: the city's list when it answers in time, else the
// mirror's. Only the applicant's own applications are returned, whatever either says. List
// items are not written to the mirror: the contract lets a list leave referrals out, and a
// snapshot is the application's whole truth.
func (r *Record) Applications(ctx context.Context, iin kezekbot.IIN) ([]kezekbot.Application, error) {
	cctx, cancel := context.WithTimeout(ctx, r.timeout())
	apps, err := r.City.Applications(cctx, iin)
	cancel()
	if err == nil {
		out := make([]kezekbot.Application, 0, len(apps))
		for _, a := range apps {
			d, derr := a.Detail()
			if derr != nil {
				err = &city.ContractError{Endpoint: "applications", Err: derr}
				break
			}
			if d.VisibleTo(iin) {
				out = append(out, d.Application)
			}
		}
		if err == nil {
			r.result("applications", "city")
			return out, nil
		}
	}
	r.log().WarnContext(ctx, "city: list from the mirror", "err", err)
	out, merr := r.Mirror.Applications(ctx, iin)
	if merr != nil {
		r.result("applications", "error")
		return nil, fmt.Errorf("applications: the city failed (%w) and so did the mirror: %w", unavailable(err), merr)
	}
	if len(out) == 0 && !isNotFound(err) {
		// The mirror knows nothing of this applicant and the city did not say: an empty list
		// would tell the parent they have no applications.
		r.result("applications", "error")
		return nil, fmt.Errorf("applications: %w", unavailable(err))
	}
	r.result("applications", "mirror")
	return visible(out, iin), nil
}

func visible(apps []kezekbot.Application, iin kezekbot.IIN) []kezekbot.Application {
	out := apps[:0:0]
	for _, a := range apps {
		if a.VisibleTo(iin) {
			out = append(out, a)
		}
	}
	return out
}

// Application implements flows.Data and signer-link's Store: the city's application when it
// answers in time (and the mirror refreshed with it), else the mirror's copy with AsOf set to
// when the mirror last heard of it. ENOTFOUND only when neither has it for this applicant.
func (r *Record) Application(ctx context.Context, iin kezekbot.IIN, id int64) (kezekbot.ApplicationDetail, error) {
	cctx, cancel := context.WithTimeout(ctx, r.timeout())
	a, err := r.City.Application(cctx, iin, id)
	cancel()
	if err == nil {
		d, derr := a.Detail()
		switch {
		case derr != nil:
			err = &city.ContractError{Endpoint: "application", Err: derr}
		case d.ID != id:
			err = &city.ContractError{Endpoint: "application", Err: errors.New("answered another application")}
		default:
			// The mirror is refreshed whoever the application belongs to: it is the city's data.
			r.refreshMirror(ctx, a)
			if !d.VisibleTo(iin) {
				r.result("application", "city")
				return kezekbot.ApplicationDetail{}, kezekbot.Errorf(kezekbot.ENOTFOUND, "application %d not found", id)
			}
			r.result("application", "city")
			return d, nil
		}
	}
	if !isNotFound(err) {
		r.log().WarnContext(ctx, "city: card from the mirror", "application", id, "err", err)
	}
	d, merr := r.Mirror.Application(ctx, iin, id)
	if merr == nil && !d.VisibleTo(iin) {
		merr = kezekbot.Errorf(kezekbot.ENOTFOUND, "application %d not found", id)
	}
	if merr != nil {
		if kezekbot.ErrorCode(merr) == kezekbot.ENOTFOUND && isNotFound(err) {
			r.result("application", "city")
			return kezekbot.ApplicationDetail{}, kezekbot.Errorf(kezekbot.ENOTFOUND, "application %d not found", id)
		}
		r.result("application", "error")
		if kezekbot.ErrorCode(merr) == kezekbot.ENOTFOUND {
			return kezekbot.ApplicationDetail{}, fmt.Errorf("application %d: %w", id, unavailable(err))
		}
		return kezekbot.ApplicationDetail{}, fmt.Errorf("application %d: the city failed (%w) and so did the mirror: %w", id, unavailable(err), merr)
	}
	if isNotFound(err) {
		// The city, the record, says there is no such application for this applicant: the
		// mirror's copy is out of date.
		r.result("application", "city")
		return kezekbot.ApplicationDetail{}, kezekbot.Errorf(kezekbot.ENOTFOUND, "application %d not found", id)
	}
	at, serr := r.Mirror.SyncedAt(ctx, id)
	if serr != nil || at.IsZero() {
		// A row kezekbot holds itself (no synced_at) or a failed read: still mark it as not
		// fresh, from now, rather than pass it off as the city's answer.
		at = r.now()
	}
	d.AsOf = at
	r.result("application", "mirror")
	return d, nil
}

// isNotFound reports whether the city answered that there is no such application for the
// applicant (a final answer, unlike a failure).
func isNotFound(err error) bool {
	p, ok := errors.AsType[*city.Problem](err)
	return ok && (p.Code == city.RefuseNotFound || p.Code == city.RefuseNotApplicant)
}

// unavailable gives a city failure the kezekbot code the parent's error screen explains.
func unavailable(err error) error {
	if err == nil {
		return kezekbot.Errorf(kezekbot.EINTERNAL, "the city did not answer")
	}
	if kezekbot.ErrorCode(err) != kezekbot.EINTERNAL {
		return err
	}
	return kezekbot.Errorf(kezekbot.EINTERNAL, "the city did not answer: %v", err)
}

// IdempotencyKey is the key a revocation is sent to the city with, derived from the signing
// link's nonce: the audit log keeps nonces unique, so one signature has one key, and every
// retry of it (after a timeout, a crash, on another replica) is the same request to the city.
func IdempotencyKey(nonce string) string {
	h := sha256.Sum256([]byte("kezekbot/revoke/v1\x00" + nonce))
	return "kzb1-" + base64.RawURLEncoding.EncodeToString(h[:24])
}

// RevokeReferral implements signer-link's Store in city mode: the 24-hour rule is checked
// again against the freshest data there is (the city's, else the mirror's), and the request
// with its evidence is written as a command, in one transaction with the audit row. The
// result is Pending: the city's answer comes later, through the Deliverer.
func (r *Record) RevokeReferral(ctx context.Context, req kezekbot.RevokeRequest) (kezekbot.RevokeResult, error) {
	if req.Evidence.Nonce == "" {
		return kezekbot.RevokeResult{}, kezekbot.Errorf(kezekbot.EINVALID, "revoke referral %d: evidence carries no nonce", req.ReferralID)
	}
	d, err := r.Application(ctx, req.ApplicantIIN, req.ApplicationID)
	if err != nil {
		return kezekbot.RevokeResult{}, fmt.Errorf("revoke referral %d: %w", req.ReferralID, err)
	}
	var ref *kezekbot.Referral
	for i := range d.Referrals {
		if d.Referrals[i].ID == req.ReferralID {
			ref = &d.Referrals[i]
		}
	}
	if ref == nil {
		return kezekbot.RevokeResult{}, kezekbot.Errorf(kezekbot.ENOTFOUND, "revoke referral %d: not on application %d", req.ReferralID, req.ApplicationID)
	}
	if err := kezekbot.CheckRevoke(*ref, r.now()); err != nil {
		return kezekbot.RevokeResult{}, fmt.Errorf("revoke referral %d: %w", req.ReferralID, err)
	}
	err = r.Store.EnqueueRevoke(ctx, req, postgres.CityCommand{
		IdempotencyKey:    IdempotencyKey(req.Evidence.Nonce),
		ApplicationNumber: d.Number,
		Kindergarten:      ref.Kindergarten.Name,
	})
	if err != nil {
		return kezekbot.RevokeResult{}, err
	}
	if r.Enqueued != nil {
		r.Enqueued()
	}
	return kezekbot.RevokeResult{Application: d.Application, Referral: *ref, Pending: true}, nil
}

// The optional interfaces flows looks for: a missing one would silently switch a feature off
// in city mode only (/settings, or /lang reaching notifications).
var (
	_ flows.Data      = (*Record)(nil)
	_ flows.MuteStore = (*Record)(nil)
	_ flows.LangStore = (*Record)(nil)
)
