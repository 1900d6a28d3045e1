// Package retention decides how long kezekbot keeps what it stores and runs the purge: once
// per interval across all replicas, under a lease, in small batches, logging one line of
// counts per run and nothing personal.
//
// Only PostgreSQL needs purging. Every Redis key kezekbot writes carries a TTL (dialog state
// KEZEKBOT_STATE_TTL, update dedupe an hour, signing links KEZEKBOT_LINK_TTL and their notes
// a little longer, rate limits their refill time), so expired links and old dialog data leave
// Redis by themselves.
package retention

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot/store/postgres"
)

// Day and Year are the units of ParsePeriod; a year is 365 days.
const (
	Day  = 24 * time.Hour
	Year = 365 * Day
)

// Periods is how long each kind of row is kept after it finished (postgres.Purge* kinds).
type Periods struct {
	Notifications time.Duration // sent, failed or blocked notifications
	Deliveries    time.Duration // delivery rows of done broadcasts, from when the broadcast finished
	Outbox        time.Duration // processed outbox rows
	Commands      time.Duration // city commands the city answered
	Changes       time.Duration // applied city change ids
	// Evidence: the audit log, whose bind and revoke rows carry the signed XML and the
	// verification result (certificate, time). It is what proves that a parent, and not
	// someone else, bound the chat or gave up a place; a dispute, a complaint or a court can
	// ask for it years later (the general limitation period for civil claims in Kazakhstan is
	// three years, so five keeps it past one with margin to start), while nothing else here
	// is of use after weeks.
	Evidence time.Duration
}

// Defaults fit a city: weeks for what only helps to investigate a recent fault, a quarter for
// the city commands (a disputed revocation is looked at within one), years for evidence.
var Defaults = Periods{
	Notifications: 30 * Day,
	Deliveries:    30 * Day,
	Outbox:        7 * Day,
	Commands:      90 * Day,
	Changes:       30 * Day, // the city redelivers within hours; a month of ids is plenty
	Evidence:      5 * Year,
}

// Cutoffs are the times before which each kind goes, for a purge at now.
func (p Periods) Cutoffs(now time.Time) map[string]time.Time {
	return map[string]time.Time{
		postgres.PurgeNotifications: now.Add(-p.Notifications),
		postgres.PurgeDeliveries:    now.Add(-p.Deliveries),
		postgres.PurgeOutbox:        now.Add(-p.Outbox),
		postgres.PurgeCommands:      now.Add(-p.Commands),
		postgres.PurgeChanges:       now.Add(-p.Changes),
		postgres.PurgeAudit:         now.Add(-p.Evidence),
	}
}

// MinPeriod and MaxPeriod bound every period: less than an hour would purge rows a worker may
// still be looking at, more than a century is a typo.
const (
	MinPeriod = time.Hour
	MaxPeriod = 100 * Year
)

// ParsePeriod reads a period: a whole number of days ("30d") or years ("5y", 365 days each),
// or a Go duration ("36h"), between MinPeriod and MaxPeriod.
func ParsePeriod(v string) (time.Duration, error) {
	bad := fmt.Errorf("want a period like 30d, 5y or 36h (from 1h to 100y), got %q", v)
	var d time.Duration
	switch {
	case strings.HasSuffix(v, "d"), strings.HasSuffix(v, "y"):
		n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
		if err != nil || n < 1 || n > 100*365 {
			return 0, bad
		}
		unit := Day
		if strings.HasSuffix(v, "y") {
			unit = Year
		}
		d = time.Duration(n) * unit
	default:
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, bad
		}
	}
	if d < MinPeriod || d > MaxPeriod {
		return 0, bad
	}
	return d, nil
}

// Store is what the purge needs (*postgres.DB).
type Store interface {
	CountPurgeable(ctx context.Context, cutoffs map[string]time.Time) ([]postgres.PurgeCount, error)
	Purge(ctx context.Context, cutoffs map[string]time.Time, batch int, between func(context.Context) error) ([]postgres.PurgeCount, error)
	AcquirePurgeLease(ctx context.Context, owner string, ttl, gap time.Duration) (bool, error)
	RenewPurgeLease(ctx context.Context, owner string, ttl time.Duration) error
	ReleasePurgeLease(ctx context.Context, owner string, done bool) error
}

// LeaseTTL is how long a purge holds the lease between renewals (it renews after every batch,
// which takes milliseconds): a replica killed mid-purge keeps the others waiting this long.
const LeaseTTL = 2 * time.Minute

// DefaultBatch is how many rows one transaction deletes: small enough that a batch holds its
// row locks for milliseconds, large enough that a million rows take a thousand statements.
const DefaultBatch = 1000

// Purger runs purges under the shared lease.
type Purger struct {
	Store   Store
	Periods Periods
	Batch   int // rows per transaction; 0: DefaultBatch
	// Owner names this process in the lease; a random suffix is added, so two processes with
	// one name never share a lease.
	Owner string
	Now   func() time.Time // the clock of the cut-offs; nil: time.Now
	Log   *slog.Logger
}

// ErrBusy is returned by Once when another process holds the lease (or, with a gap, when the last
// purge finished too recently).
var ErrBusy = errors.New("another purge holds the lease")

func (p *Purger) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Purger) batch() int {
	if p.Batch > 0 {
		return p.Batch
	}
	return DefaultBatch
}

func ownerToken(name string) string {
	var b [6]byte
	_, _ = crand.Read(b[:]) // never fails
	if name == "" {
		name = "kezekbot"
	}
	if len(name) > 150 {
		name = name[:150]
	}
	return name + "/" + hex.EncodeToString(b[:])
}

// Once takes the lease (if no purge finished within gap), purges, and gives the lease back.
// It returns ErrBusy without purging when the lease is not free.
func (p *Purger) Once(ctx context.Context, gap time.Duration) ([]postgres.PurgeCount, error) {
	owner := ownerToken(p.Owner)
	ok, err := p.Store.AcquirePurgeLease(ctx, owner, LeaseTTL, gap)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrBusy
	}
	counts, err := p.Store.Purge(ctx, p.Periods.Cutoffs(p.now()), p.batch(), func(ctx context.Context) error {
		return p.Store.RenewPurgeLease(ctx, owner, LeaseTTL)
	})
	// Released on a context of its own: a purge stopped by shutdown still frees the lease
	// at once instead of making the next replica wait LeaseTTL.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := p.Store.ReleasePurgeLease(rctx, owner, err == nil); rerr != nil && err == nil {
		err = rerr
	}
	return counts, err
}

// DryRun counts what a purge now would delete.
func (p *Purger) DryRun(ctx context.Context) ([]postgres.PurgeCount, error) {
	return p.Store.CountPurgeable(ctx, p.Periods.Cutoffs(p.now()))
}

// Run purges about every interval until ctx ends; every replica runs it, and the lease with
// its gap makes one of them purge per interval. A failed run is logged and retried at the
// next tick. It returns nil when ctx ends.
func (p *Purger) Run(ctx context.Context, every time.Duration) error {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The first try comes after a random part of the interval, so replicas started together
	// do not all query the lease at once; the gap is a little under the interval, so jitter
	// never makes a run skip a whole interval.
	wait := time.Duration(rand.Int64N(int64(every)/4 + 1))
	gap := every - every/10
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = every/2 + time.Duration(rand.Int64N(int64(every)/2+1))
		start := time.Now()
		counts, err := p.Once(ctx, gap)
		switch {
		case errors.Is(err, ErrBusy):
			continue
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("purge failed; retrying at the next interval", append(countAttrs(counts), "err", err)...)
		default:
			log.Info("purge done", append(countAttrs(counts), "took", time.Since(start).Round(time.Millisecond))...)
		}
	}
}

// countAttrs renders counts as one log attribute per kind: numbers of rows, nothing else.
func countAttrs(counts []postgres.PurgeCount) []any {
	out := make([]any, 0, 2*len(counts))
	for _, c := range counts {
		out = append(out, c.Kind, c.Rows)
	}
	return out
}
