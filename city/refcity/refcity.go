// Package refcity is the reference city: a fake of the city's queue system that serves the
// contract (api/queue.yaml) over real HTTP from memory, with the real rules — only the
// applicant sees an application, a referral is revocable only while active and within
// kezekbot.RevocationWindow of its issue, a revoked application returns to the queue at the
// place kezekbot.QueuePositions gives it, idempotency keys replay the first answer — a change
// log served by GET /v1/changes and pushed to kezekbot, and fault injection (latency, 5xx,
// timeouts, malformed JSON, lost answers, duplicate and out-of-order changes).
//
// It is what the sandbox, the end-to-end tests and `kezekbot city check` run against, and a
// worked example for an integrator. It does NOT verify signatures: it records the signed XML
// byte for byte (Revocations) and leaves checking it to a real city.
package refcity

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
)

// Config configures a reference city. The zero value serves without authentication, without
// faults and without pushing.
type Config struct {
	// Token, when set, is the bearer token every /v1 and /_ref request must carry.
	Token string
	// Now is the city's clock (default time.Now).
	Now    func() time.Time
	Faults Faults
	// Seed makes fault injection repeatable (0: random).
	Seed uint64
	// PushURL is kezekbot's base URL; when set, RunPusher posts new changes to
	// PushURL + city.PushPath signed with PushSecret.
	PushURL    string
	PushSecret []byte
	PushClient *http.Client
	// PushBatch is the most changes one push carries (default 100); a batch whose body is over
	// PushMaxBody (default city.MaxPushBody, kezekbot's limit) is sent in halves.
	PushBatch   int
	PushMaxBody int
	Log         *slog.Logger
}

// City is a reference city. Its methods and handler are safe for concurrent use.
type City struct {
	cfg Config
	now func() time.Time
	log *slog.Logger
	mux *http.ServeMux

	mu          sync.Mutex
	apps        map[int64]*record
	kgs         map[int64]kezekbot.Kindergarten
	nextRef     int64
	changes     []city.Change
	idem        map[string]idemAnswer
	revocations []city.RevokeRequest
	faults      Faults
	rng         *rand.Rand
	wake        chan struct{}
}

type record struct {
	d   kezekbot.ApplicationDetail
	rev int64
}

type idemAnswer struct {
	sum    [32]byte
	status int
	body   []byte
}

// New builds a city holding apps (for instance postgres.DemoDetails): each becomes revision 1
// and an application_created change, so that a kezekbot pulling from the start of the feed
// learns all of them.
func New(cfg Config, apps []kezekbot.ApplicationDetail) (*City, error) {
	if err := cfg.Faults.Validate(); err != nil {
		return nil, err
	}
	if cfg.PushURL != "" && len(cfg.PushSecret) == 0 {
		return nil, kezekbot.Errorf(kezekbot.EINVALID, "refcity: pushing needs a secret")
	}
	c := &City{
		cfg: cfg, now: cfg.Now, log: cmp.Or(cfg.Log, slog.New(slog.DiscardHandler)),
		apps: map[int64]*record{}, kgs: map[int64]kezekbot.Kindergarten{}, idem: map[string]idemAnswer{},
		faults: cfg.Faults, wake: make(chan struct{}, 1),
	}
	if c.now == nil {
		c.now = time.Now
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	c.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	now := c.now()
	for _, d := range apps {
		if _, dup := c.apps[d.ID]; dup {
			return nil, kezekbot.Errorf(kezekbot.EINVALID, "refcity: application %d twice", d.ID)
		}
		if _, err := city.FromDetail(d, 1).Detail(); err != nil {
			return nil, fmt.Errorf("refcity: %w", err)
		}
		c.apps[d.ID] = &record{d: d, rev: 1}
		for _, r := range d.Referrals {
			c.kgs[r.Kindergarten.ID] = r.Kindergarten
			c.nextRef = max(c.nextRef, r.ID)
		}
	}
	for _, id := range c.ids() {
		c.emit(city.ChangeApplicationCreated, now, 0, c.apps[id])
	}
	c.routes()
	return c, nil
}

func (c *City) ids() []int64 {
	ids := make([]int64, 0, len(c.apps))
	for id := range c.apps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// emit appends a change with rec's current snapshot; c.mu is held (or c is not shared yet).
func (c *City) emit(kind string, at time.Time, refID int64, rec *record) {
	n := len(c.changes) + 1
	c.changes = append(c.changes, city.Change{
		ID: "ref-" + strconv.Itoa(n), Kind: kind, At: at, ReferralID: refID,
		Application: city.FromDetail(rec.d, rec.rev),
	})
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Snapshot returns the city's current snapshot of application id.
func (c *City) Snapshot(id int64) (city.Application, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.apps[id]
	if !ok {
		return city.Application{}, false
	}
	return city.FromDetail(rec.d, rec.rev), true
}

// Revocations returns every accepted revocation in the order accepted, the signed XML exactly
// as received. A replayed idempotency key is not a second revocation.
func (c *City) Revocations() []city.RevokeRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.revocations)
}

// ChangeLog returns every change so far, oldest first.
func (c *City) ChangeLog() []city.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.changes)
}

// Kindergartens returns the kindergartens the city knows, by id.
func (c *City) Kindergartens() []kezekbot.Kindergarten {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]kezekbot.Kindergarten, 0, len(c.kgs))
	for _, k := range c.kgs {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b kezekbot.Kindergarten) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// SetFaults replaces the faults injected from now on.
func (c *City) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	c.mu.Lock()
	c.faults = f
	c.mu.Unlock()
	return nil
}

// Faults returns the faults injected now.
func (c *City) Faults() Faults {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.faults
}

// IssueReferral is the city's staff issuing a referral of queued application appID to
// kindergarten kgID (0: the lowest id the city knows): the application leaves the queue, the
// rest of its birth year move up. It emits referral_issued, and queue_changed for every
// application whose number changed.
func (c *City) IssueReferral(appID, kgID int64) (city.Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.apps[appID]
	if !ok {
		return city.Change{}, kezekbot.Errorf(kezekbot.ENOTFOUND, "refcity: no application %d", appID)
	}
	if kgID == 0 {
		for id := range c.kgs {
			if kgID == 0 || id < kgID {
				kgID = id
			}
		}
	}
	kg, ok := c.kgs[kgID]
	if !ok {
		return city.Change{}, kezekbot.Errorf(kezekbot.ENOTFOUND, "refcity: no kindergarten %d", kgID)
	}
	if rec.d.Status != kezekbot.StatusQueued {
		return city.Change{}, kezekbot.Errorf(kezekbot.ECONFLICT, "refcity: application %d is %s, only a queued one gets a referral", appID, rec.d.Status)
	}
	now := c.now().UTC().Truncate(time.Microsecond)
	c.nextRef++
	enrol := now.Add(5*time.Hour).AddDate(0, 0, 5) // an Astana date five days on
	rec.d.Referrals = append(rec.d.Referrals, kezekbot.Referral{
		ID: c.nextRef, ApplicationID: appID, Kindergarten: kg, IssuedAt: now, State: kezekbot.ReferralActive,
		EnrolBefore: time.Date(enrol.Year(), enrol.Month(), enrol.Day(), 0, 0, 0, 0, time.UTC), Extendable: true,
	})
	rec.d.Status, rec.d.StatusChangedAt = kezekbot.StatusReferralIssued, now
	rec.d.BenefitQueueNumber = 0 // out of the queue; QueueNumber stays as the place it had
	rec.d.History = append(rec.d.History, kezekbot.HistoryEntry{At: now, Event: kezekbot.EventReferralIssued, Status: kezekbot.StatusReferralIssued, Note: kg.Name})
	rec.rev++
	moved := c.renumber(rec.d.QueueYear())
	c.emit(city.ChangeReferralIssued, now, c.nextRef, rec)
	for _, id := range moved {
		c.emit(city.ChangeQueueChanged, now, 0, c.apps[id])
	}
	return c.changes[len(c.changes)-len(moved)-1], nil
}

// renumber gives the queued applications of a birth year their places and raises the revision
// of each whose numbers changed; it returns their ids in order. c.mu is held.
func (c *City) renumber(year int) []int64 {
	var keys []kezekbot.QueueKey
	for _, rec := range c.apps {
		if rec.d.Status == kezekbot.StatusQueued && rec.d.QueueYear() == year {
			keys = append(keys, rec.d.QueueKey())
		}
	}
	var moved []int64
	for id, p := range kezekbot.QueuePositions(keys) {
		rec := c.apps[id]
		if rec.d.QueueNumber != p.Queue || rec.d.BenefitQueueNumber != p.Benefit {
			rec.d.QueueNumber, rec.d.BenefitQueueNumber = p.Queue, p.Benefit
			rec.rev++
			moved = append(moved, id)
		}
	}
	slices.Sort(moved)
	return moved
}

// revoke applies an accepted revocation (checked by the caller) and returns the answer. c.mu
// is held.
func (c *City) revoke(rec *record, ri int, req city.RevokeRequest, now time.Time) city.RevokeAccepted {
	ref := &rec.d.Referrals[ri]
	ref.State, ref.ClosedAt, ref.RevokeReason = kezekbot.ReferralRevoked, now, req.Reason
	if len(rec.d.ActiveReferrals()) == 0 {
		// Back to the queue at the place its registration gives it (queued_since kept).
		rec.d.Status = kezekbot.StatusQueued
	}
	rec.d.StatusChangedAt = now
	rec.rev++
	var moved []int64
	if rec.d.Status == kezekbot.StatusQueued {
		rec.d.QueueNumber, rec.d.BenefitQueueNumber = 0, 0 // renumber gives it its place and sees the change
		moved = slices.DeleteFunc(c.renumber(rec.d.QueueYear()), func(id int64) bool { return id == rec.d.ID })
	}
	queue := 0
	if rec.d.Status == kezekbot.StatusQueued {
		queue = rec.d.QueueNumber
	}
	rec.d.History = append(rec.d.History, kezekbot.HistoryEntry{At: now, Event: kezekbot.EventReferralRevoked, Status: rec.d.Status, QueueNumber: queue, Note: req.Reason})
	c.revocations = append(c.revocations, req)
	c.emit(city.ChangeReferralRevoked, now, ref.ID, rec)
	for _, id := range moved {
		c.emit(city.ChangeQueueChanged, now, 0, c.apps[id])
	}
	return city.RevokeAccepted{
		Status: string(rec.d.Status), QueueNumber: rec.d.QueueNumber, BenefitQueueNumber: rec.d.BenefitQueueNumber,
		Application: city.FromDetail(rec.d, rec.rev),
	}
}

// Faults are what the city does wrong on purpose. Rates are probabilities from 0 to 1, drawn
// per request (per push for Duplicate and OutOfOrder).
type Faults struct {
	// Latency is added to every /v1 answer, plus a uniform random part up to Jitter.
	Latency Duration `json:"latency"`
	Jitter  Duration `json:"jitter"`
	// ErrorRate answers 503 (with Retry-After: 1) before doing anything.
	ErrorRate float64 `json:"error_rate"`
	// TimeoutRate never answers: the request hangs until the client gives up.
	TimeoutRate float64 `json:"timeout_rate"`
	// MalformedRate answers 200 with a broken JSON body, before doing anything.
	MalformedRate float64 `json:"malformed_rate"`
	// LostAnswerRate applies a revocation and then answers 502, as a city whose answer was
	// lost on the way: only the idempotent retry learns the result.
	LostAnswerRate float64 `json:"lost_answer_rate"`
	// DuplicateRate delivers changes again (a page repeats the change before it; a push is
	// sent twice).
	DuplicateRate float64 `json:"duplicate_rate"`
	// OutOfOrderRate delivers changes out of order (a page reversed; the second half of a push
	// sent before the first).
	OutOfOrderRate float64 `json:"out_of_order_rate"`
}

// Validate checks rates and durations.
func (f Faults) Validate() error {
	for name, r := range map[string]float64{"error_rate": f.ErrorRate, "timeout_rate": f.TimeoutRate, "malformed_rate": f.MalformedRate,
		"lost_answer_rate": f.LostAnswerRate, "duplicate_rate": f.DuplicateRate, "out_of_order_rate": f.OutOfOrderRate} {
		if !(r >= 0 && r <= 1) {
			return kezekbot.Errorf(kezekbot.EINVALID, "refcity: %s must be from 0 to 1", name)
		}
	}
	if f.Latency < 0 || f.Jitter < 0 || f.Latency > Duration(time.Minute) || f.Jitter > Duration(time.Minute) {
		return kezekbot.Errorf(kezekbot.EINVALID, "refcity: latency and jitter must be from 0 to 1m")
	}
	return nil
}

// Duration is a time.Duration written as "250ms" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration is a string like "250ms"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// roll draws one fault; c.mu is held.
func (c *City) roll(rate float64) bool { return rate > 0 && c.rng.Float64() < rate }

// constantTimeEq compares secrets without leaking where they differ.
func constantTimeEq(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
