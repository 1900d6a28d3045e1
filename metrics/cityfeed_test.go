package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCityFeed(t *testing.T) {
	var nilFeed *CityFeed
	nilFeed.Batch(FeedPush, ResultOK) // a nil recorder records nothing and does not panic
	nilFeed.Changes(FeedPush, 1, 2, 3)
	nilFeed.Applied(time.Now())

	reg := prometheus.NewRegistry()
	f := NewCityFeed(reg)
	now := time.Date(2026, 12, 4, 14, 5, 0, 0, time.UTC)
	f.nowFunc = func() time.Time { return now }
	if lag := f.lag(); lag != 0 {
		t.Fatalf("lag before anything = %v", lag)
	}
	f.Batch(FeedPull, ResultOK)
	f.Changes(FeedPull, 3, 1, 0)
	f.Applied(now.Add(-2 * time.Second))
	now = now.Add(30 * time.Second)
	if lag := f.lag(); lag != 30 {
		t.Fatalf("lag = %v, want 30", lag)
	}
	if got := testutil.ToFloat64(f.changes.WithLabelValues(FeedPull, "applied")); got != 3 {
		t.Fatalf("applied = %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "kezekbot_city_feed_lag_seconds", "kezekbot_city_change_delay_seconds"); err != nil || n != 2 {
		t.Fatalf("series: %d, %v", n, err)
	}
	NewCityFeed(reg) // a second registration reuses the collectors
}
