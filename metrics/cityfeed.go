package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Ways changes reach the mirror (label "via").
const (
	FeedPush = "push"
	FeedPull = "pull"
)

// CityFeed records the city's change feed as the mirror takes it in (issue 10): changes by
// outcome, how late they arrive, and how long since the city was last heard from. Create it
// with NewCityFeed; a nil *CityFeed records nothing.
type CityFeed struct {
	changes *prometheus.CounterVec
	delay   prometheus.Observer
	batches *prometheus.CounterVec

	mu      sync.Mutex
	lastOK  map[string]time.Time
	newest  time.Time
	nowFunc func() time.Time
}

// feedDelayBuckets are in seconds: a push arrives in well under a second, a pull within its
// interval (2 s by default), an outage in minutes to hours.
var feedDelayBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600}

// NewCityFeed registers the change-feed metrics with reg (NewRegistry's, in serve).
func NewCityFeed(reg prometheus.Registerer) *CityFeed {
	if reg == nil {
		reg = NewRegistry()
	}
	f := &CityFeed{lastOK: map[string]time.Time{}, nowFunc: time.Now}
	f.changes = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "city_changes_total",
		Help: `City changes taken into the mirror, by way ("push", "pull") and outcome ("applied", "duplicate", "stale").`,
	}, []string{"via", "outcome"}))
	f.batches = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "city_change_batches_total",
		Help: `Pushed bodies and pulled pages of city changes, by way and result ("ok", "rejected": bad signature or body, "error": the city or the store failed).`,
	}, []string{"via", "result"}))
	f.delay = register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "city_change_delay_seconds",
		Help:    "Time from a change happening in the city (its at) to kezekbot applying it, for applied changes.",
		Buckets: feedDelayBuckets,
	}))
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "city_feed_lag_seconds",
		Help: "Change-feed lag: seconds since the newest change was applied or, if later, the feed was last read successfully (a pull that found nothing new, an accepted push); 0 before either.",
	}, f.lag))
	return f
}

// Batch counts a pushed body or pulled page and, for a successful one, marks the feed as heard.
func (f *CityFeed) Batch(via, result string) {
	if f == nil {
		return
	}
	f.batches.WithLabelValues(clean(via, "none"), clean(result, "none")).Inc()
	if result == ResultOK {
		f.mu.Lock()
		f.lastOK[via] = f.nowFunc()
		f.mu.Unlock()
	}
}

// Changes counts the outcome of one batch's changes.
func (f *CityFeed) Changes(via string, applied, duplicate, stale int) {
	if f == nil {
		return
	}
	via = clean(via, "none")
	f.changes.WithLabelValues(via, "applied").Add(float64(applied))
	f.changes.WithLabelValues(via, "duplicate").Add(float64(duplicate))
	f.changes.WithLabelValues(via, "stale").Add(float64(stale))
}

// Applied records a change applied now that happened in the city at at.
func (f *CityFeed) Applied(at time.Time) {
	if f == nil {
		return
	}
	now := f.nowFunc()
	f.delay.Observe(max(now.Sub(at), 0).Seconds())
	f.mu.Lock()
	if now.After(f.newest) {
		f.newest = now
	}
	f.mu.Unlock()
}

func (f *CityFeed) lag() float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	last := f.newest
	for _, t := range f.lastOK {
		if t.After(last) {
			last = t
		}
	}
	if last.IsZero() {
		return 0
	}
	return f.nowFunc().Sub(last).Seconds()
}
