package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// cityBuckets are in seconds. A city answers a read in tens to hundreds of milliseconds and the
// card gives up at about 1.5 s; revocations and change pages may take seconds.
var cityBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10}

type cityMetrics struct {
	requests *children[[2]string, prometheus.Counter]
	latency  *children[[2]string, prometheus.Observer]
}

func newCityMetrics(reg prometheus.Registerer) *cityMetrics {
	requests := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "city_requests_total",
		Help: `Requests to the city's queue system, by endpoint ("search", "application", "revoke", "changes") and result ("ok", "not_found", "refused", "unavailable", "timeout", "contract").`,
	}, []string{"endpoint", "result"}))
	latency := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "city_request_seconds",
		Help:    "Time of requests to the city's queue system, by endpoint and result.",
		Buckets: cityBuckets,
	}, []string{"endpoint", "result"}))
	return &cityMetrics{
		requests: newChildren([2]string{overflowValue, overflowValue}, func(k [2]string) prometheus.Counter {
			return requests.WithLabelValues(clean(k[0], "none"), clean(k[1], "none"))
		}),
		latency: newChildren([2]string{overflowValue, overflowValue}, func(k [2]string) prometheus.Observer {
			return latency.WithLabelValues(clean(k[0], "none"), clean(k[1], "none"))
		}),
	}
}

// CityRequest records one request to the city: its endpoint, its result (city.Result*) and how
// long it took. It implements city.Metrics.
func (m *Metrics) CityRequest(endpoint, result string, d time.Duration) {
	if m == nil {
		return
	}
	k := [2]string{endpoint, result}
	m.city.requests.get(k).Inc()
	m.city.latency.get(k).Observe(d.Seconds())
}
