// Package outage keeps a background loop quiet while a dependency it needs (PostgreSQL,
// Redis, the city) is down: one ERROR when it goes down, a reminder at most once a minute while
// it stays down, one INFO when it is back, and a growing, jittered wait between tries, instead
// of an ERROR on every try several times a second.
package outage

import (
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Tracker follows one loop's tries against its dependency. It is safe for concurrent use; the
// zero value is not usable: use New.
type Tracker struct {
	loop     string
	log      *slog.Logger
	remind   time.Duration
	min, max time.Duration
	onChange func(loop string, down bool)
	now      func() time.Time

	mu       sync.Mutex
	down     bool
	since    time.Time // when it went down
	reminded time.Time // when the last reminder was logged
	fails    int       // failures in a row
}

// Options tune a Tracker; zero values take the defaults.
type Options struct {
	// Remind is the least time between two reminders while down; default 1 minute.
	Remind time.Duration
	// Min and Max bound the wait Fail returns; default 250 ms and 30 s.
	Min, Max time.Duration
	// OnChange is called on every change between up and down (metrics).
	OnChange func(loop string, down bool)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// New returns a Tracker for the loop named loop (it names the loop in the log).
func New(loop string, log *slog.Logger, o Options) *Tracker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Remind <= 0 {
		o.Remind = time.Minute
	}
	if o.Min <= 0 {
		o.Min = 250 * time.Millisecond
	}
	if o.Max < o.Min {
		o.Max = max(30*time.Second, o.Min)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Tracker{loop: loop, log: log, remind: o.Remind, min: o.Min, max: o.Max, onChange: o.OnChange, now: o.Now}
}

// Fail records a failed try and returns how long to wait before the next one: Min doubled per
// failure in a row up to Max, then "equal jitter" (half fixed, half random, so between half of
// it and all of it) so that replicas that failed together do not retry in step.
func (t *Tracker) Fail(err error) time.Duration {
	t.mu.Lock()
	now := t.now()
	t.fails++
	changed := false
	switch {
	case !t.down:
		t.down, t.since, t.reminded, changed = true, now, now, true
		t.log.Error(t.loop+": dependency down", "err", err)
	case now.Sub(t.reminded) >= t.remind:
		t.reminded = now
		t.log.Error(t.loop+": dependency still down", "for", now.Sub(t.since).Round(time.Second).String(), "failures", t.fails, "err", err)
	}
	wait := t.min << min(t.fails-1, 20)
	if wait <= 0 || wait > t.max {
		wait = t.max
	}
	t.mu.Unlock()
	if changed && t.onChange != nil {
		t.onChange(t.loop, true)
	}
	return wait/2 + rand.N(wait/2+1)
}

// OK records a successful try; after an outage it logs once that the dependency is back.
func (t *Tracker) OK() {
	t.mu.Lock()
	if !t.down {
		t.fails = 0
		t.mu.Unlock()
		return
	}
	t.log.Info(t.loop+": dependency back", "after", t.now().Sub(t.since).Round(time.Second).String(), "failures", t.fails)
	t.down, t.fails = false, 0
	t.mu.Unlock()
	if t.onChange != nil {
		t.onChange(t.loop, false)
	}
}

// Down reports whether the last try failed.
func (t *Tracker) Down() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.down
}
