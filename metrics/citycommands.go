package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CityCommands records the revocations on their way to the city (issue 10): what became of each
// attempt, and the queue of commands the city has not answered. Create it with
// NewCityCommands; a nil *CityCommands records nothing. It implements the Deliverer's metrics
// (city/adapter.DeliverMetrics).
type CityCommands struct {
	results *children[string, prometheus.Counter]
	reads   *children[[2]string, prometheus.Counter]
	depth   prometheus.Gauge
	age     prometheus.Gauge
}

// NewCityCommands registers the command metrics with reg.
func NewCityCommands(reg prometheus.Registerer) *CityCommands {
	if reg == nil {
		reg = NewRegistry()
	}
	results := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "city_command_results_total",
		Help: `Attempts to deliver a revocation to the city, by result ("accepted", "refused", "unavailable", "contract_error", "error"), and "late": a parent told the city has not answered past KEZEKBOT_CITY_GIVE_UP_NOTICE.`,
	}, []string{"result"}))
	reads := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "city_reads_total",
		Help: `Parents' reads in city mode, by operation ("applications", "application") and where the answer came from ("city", "mirror": the city was slow, down or broke the contract, "error": neither answered).`,
	}, []string{"op", "source"}))
	c := &CityCommands{
		reads: newChildren([2]string{overflowValue, overflowValue}, func(k [2]string) prometheus.Counter {
			return reads.WithLabelValues(clean(k[0], "none"), clean(k[1], "none"))
		}),
		results: newChildren(overflowValue, func(k string) prometheus.Counter { return results.WithLabelValues(clean(k, "none")) }),
		depth: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "city_command_queue_depth",
			Help: "Revocations not yet answered by the city (pending or being sent).",
		})),
		age: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "city_command_queue_oldest_seconds",
			Help: "Age of the oldest revocation not yet answered by the city; 0 when none waits.",
		})),
	}
	return c
}

// CityCommand counts one attempt's result.
func (c *CityCommands) CityCommand(result string) {
	if c == nil {
		return
	}
	c.results.get(result).Inc()
}

// CityRead counts a parent's read in city mode by where its answer came from.
func (c *CityCommands) CityRead(op, source string) {
	if c == nil {
		return
	}
	c.reads.get([2]string{op, source}).Inc()
}

// CommandQueue sets the queue's depth and the age of its oldest command.
func (c *CityCommands) CommandQueue(depth int, oldest time.Duration) {
	if c == nil {
		return
	}
	c.depth.Set(float64(depth))
	c.age.Set(max(oldest, 0).Seconds())
}
