package sync

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/internal/outage"
	"github.com/kezekbot/kezekbot/metrics"
)

// Feed reads the city's change feed (*city.Client): the changes after a cursor, at most
// limit. A failure worth retrying is a *city.Unavailable.
type Feed interface {
	Changes(ctx context.Context, after string, limit int) (city.ChangePage, error)
}

// PageStore applies a pulled page and moves the feed's cursor in one transaction
// (*postgres.DB). When the stored cursor is not after (another replica applied the page
// first), ApplyPage applies nothing and returns an error with code ECONFLICT.
type PageStore interface {
	Cursor(ctx context.Context, source string) (string, error)
	ApplyPage(ctx context.Context, source, after string, page city.ChangePage) (city.Applied, error)
}

// Defaults of PullConfig.
const (
	DefaultSource     = "city"
	DefaultInterval   = 2 * time.Second
	DefaultLimit      = 500
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
	// maxRetryAfter caps a city's Retry-After, so a typo there does not stop the feed for a day.
	maxRetryAfter = 10 * time.Minute
)

// PullConfig configures Puller.
type PullConfig struct {
	// Source names the feed's cursor row (default "city").
	Source string
	// Interval is how long to wait before asking again when the feed had nothing more
	// (KEZEKBOT_CITY_PULL_INTERVAL, default 2s).
	Interval time.Duration
	// Limit is the page size asked for (default 500).
	Limit int
	// MinBackoff and MaxBackoff bound the wait after a failure (default 1s and 1m): it doubles
	// per failure in a row, with jitter, and is at least the city's Retry-After.
	MinBackoff, MaxBackoff time.Duration
	Log                    *slog.Logger
	Metrics                *metrics.CityFeed
	// Sleep waits for d or until ctx ends; tests replace it. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Puller pulls the city's change feed into the mirror. Run it in one goroutine per replica;
// replicas may run it at once: a page is applied by one of them (the cursor moves in the
// page's transaction, and a replica that finds it moved drops its copy and reads on).
type Puller struct {
	store PageStore
	feed  Feed
	cfg   PullConfig

	// health logs an outage once when it starts, a reminder a minute, once when it ends, and
	// gives the backoff.
	health *outage.Tracker
}

// NewPuller returns a puller of feed into store.
func NewPuller(store PageStore, feed Feed, cfg PullConfig) *Puller {
	if cfg.Source == "" {
		cfg.Source = DefaultSource
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Limit <= 0 {
		cfg.Limit = DefaultLimit
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	health := outage.New("city feed", cfg.Log, outage.Options{Min: cfg.MinBackoff, Max: cfg.MaxBackoff})
	return &Puller{store: store, feed: feed, cfg: cfg, health: health}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run pulls until ctx ends, then returns nil. It never gives up on errors: it logs the outage,
// backs off and tries again.
func (p *Puller) Run(ctx context.Context) error {
	cursor, known := "", false
	for ctx.Err() == nil {
		if !known {
			c, err := p.store.Cursor(ctx, p.cfg.Source)
			if err != nil {
				if p.fail(ctx, err) != nil {
					return nil
				}
				continue
			}
			cursor, known = c, true
		}
		n, next, err := p.step(ctx, cursor)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && kezekbot.ErrorCode(err) == kezekbot.ECONFLICT:
			// Another replica applied this page (or the store serialised us behind it): read
			// the cursor again and go on at once. The city and the store both answered, so an
			// outage this replica saw is over, even if it keeps losing the race to the other.
			p.ok()
			known = false
			continue
		case err != nil:
			known = false // a failed apply may have been a moved cursor too; re-read
			if p.fail(ctx, err) != nil {
				return nil
			}
			continue
		}
		p.ok()
		cursor = next
		if n < p.cfg.Limit && p.cfg.Sleep(ctx, p.cfg.Interval) != nil {
			return nil
		}
	}
	return nil
}

// step reads and applies one page after cursor; it returns how many changes the page had and
// the cursor to read with next.
func (p *Puller) step(ctx context.Context, cursor string) (int, string, error) {
	page, err := p.feed.Changes(ctx, cursor, p.cfg.Limit)
	if err != nil {
		return 0, cursor, err
	}
	next := page.Next
	if next == "" {
		next = cursor
	}
	if len(page.Changes) == 0 && next == cursor {
		p.cfg.Metrics.Batch(metrics.FeedPull, metrics.ResultOK)
		return 0, cursor, nil
	}
	res, err := p.store.ApplyPage(ctx, p.cfg.Source, cursor, city.ChangePage{Changes: page.Changes, Next: next})
	if err != nil {
		return 0, cursor, err
	}
	p.cfg.Metrics.Batch(metrics.FeedPull, metrics.ResultOK)
	p.cfg.Metrics.Changes(metrics.FeedPull, res.Applied, res.Duplicate, res.Stale)
	if p.cfg.Metrics != nil {
		for _, c := range page.Changes {
			p.cfg.Metrics.Applied(c.At)
		}
	}
	if res.Applied > 0 {
		p.cfg.Log.Debug("city feed: page applied", "applied", res.Applied, "duplicate", res.Duplicate, "stale", res.Stale)
	}
	return len(page.Changes), next, nil
}

// fail records a failed attempt and waits the backoff, at least the city's Retry-After. It
// returns ctx's error when ctx ended while waiting. Client and store errors name endpoints,
// codes and fields, never personal values, so the outage log may carry them.
func (p *Puller) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	p.cfg.Metrics.Batch(metrics.FeedPull, metrics.ResultError)
	d := p.health.Fail(err)
	var u *city.Unavailable
	if errors.As(err, &u) && u.RetryAfter > d {
		d = min(u.RetryAfter, maxRetryAfter)
	}
	return p.cfg.Sleep(ctx, d)
}

func (p *Puller) ok() { p.health.OK() }
