package metrics

import (
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// maxSeries caps the distinct label values (or value pairs) one metric keeps. Callers pass
// strings such as a Bot API method or a rejection reason; a bug that put a chat ID or an
// error text there would otherwise create a series per value and exhaust Prometheus.
const maxSeries = 128

// overflowValue is the label value recorded once a metric has maxSeries values.
const overflowValue = "other"

// children maps label keys to resolved metric children. Reads are a single atomic load and a
// map lookup with no lock and no allocation, which is what the per-update hot path needs;
// writes (a label value seen for the first time) copy the map under a mutex, and happen a
// bounded number of times per process because of maxSeries.
type children[K comparable, V any] struct {
	m       atomic.Pointer[map[K]V]
	mu      sync.Mutex
	resolve func(K) V
	// overflow is the key used once the map is full; it is resolved like any other key.
	overflow K
}

func newChildren[K comparable, V any](overflow K, resolve func(K) V) *children[K, V] {
	c := &children[K, V]{resolve: resolve, overflow: overflow}
	m := make(map[K]V)
	c.m.Store(&m)
	return c
}

// get returns the child for k, resolving and caching it on first use.
func (c *children[K, V]) get(k K) V {
	if v, ok := (*c.m.Load())[k]; ok {
		return v
	}
	return c.slow(k)
}

func (c *children[K, V]) slow(k K) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	if v, ok := old[k]; ok { // another goroutine added it meanwhile
		return v
	}
	if len(old) >= maxSeries {
		if v, ok := old[c.overflow]; ok {
			return v
		}
		k = c.overflow
	}
	v := c.resolve(k)
	next := make(map[K]V, len(old)+1)
	for kk, vv := range old {
		next[kk] = vv
	}
	next[k] = v
	c.m.Store(&next)
	return v
}

// clean makes a caller's string a safe label value. It runs only on the slow path, when a
// value is resolved for the first time, so the cache is keyed by the raw string and the hot
// path never pays for it.
func clean(v, empty string) string {
	switch {
	case v == "":
		return empty
	case !utf8.ValidString(v):
		return "invalid"
	case len(v) > 64:
		// Long values are almost certainly not a fixed vocabulary (an error text, say).
		return overflowValue
	}
	return v
}
