package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "kezekbot"

// Update types. Telegram has a couple of dozen; the bot asks for four (allowed_updates), and
// anything else that arrives is counted as UpdateOther.
const (
	UpdateMessage       = "message"
	UpdateEditedMessage = "edited_message"
	UpdateCallbackQuery = "callback_query"
	UpdateMyChatMember  = "my_chat_member"
	UpdateOther         = "other"
)

// Common label values, so that callers and dashboards agree on spelling.
const (
	ResultOK          = "ok"
	ResultError       = "error"
	ResultRateLimited = "429" // Bot API answered 429 Too Many Requests
	SignatureVerified = "verified"
	SignatureRejected = "rejected"
)

// latencyBuckets are in seconds. A handled update is a Redis round trip or two, maybe a
// PostgreSQL query, and one Bot API call: 0.1–50 ms is where regressions show, so the
// buckets are dense there and sparse beyond (the tail is the Bot API or a stuck lock).
var latencyBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.00075,
	0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
	0.01, 0.015, 0.02, 0.03, 0.04, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Metrics records kezekbot's metrics. Create it with New; the zero value is not usable, but a
// nil *Metrics is, and records nothing.
type Metrics struct {
	gatherer prometheus.Gatherer

	updates    [numKinds]updateSeries
	apiCalls   *children[[2]string, prometheus.Counter]
	states     *children[string, prometheus.Counter]
	signatures *children[[2]string, prometheus.Counter]
	revokes    *children[string, prometheus.Counter]
	deliveries *children[string, prometheus.Counter]
	refused    *children[[2]string, prometheus.Counter]
	queueLag   prometheus.Gauge
	loopsDown  *children[string, prometheus.Gauge]
	city       *cityMetrics                             // city.go
	ocsp       *children[[2]string, prometheus.Counter] // ocsp.go
}

// updateSeries are the children for one update type, resolved once in New so that the two
// per-update calls are an array index and atomic adds.
type updateSeries struct {
	received prometheus.Counter
	handled  prometheus.Counter
	failed   prometheus.Counter
	latency  prometheus.Observer
}

const (
	kindMessage = iota
	kindEditedMessage
	kindCallbackQuery
	kindMyChatMember
	kindOther
	numKinds
)

var kindNames = [numKinds]string{UpdateMessage, UpdateEditedMessage, UpdateCallbackQuery, UpdateMyChatMember, UpdateOther}

func kindIndex(kind string) int {
	switch kind {
	case UpdateMessage:
		return kindMessage
	case UpdateEditedMessage:
		return kindEditedMessage
	case UpdateCallbackQuery:
		return kindCallbackQuery
	case UpdateMyChatMember:
		return kindMyChatMember
	}
	return kindOther
}

// NewRegistry returns a registry with the Go runtime and process collectors, which is what
// serve exposes on /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// New registers kezekbot's metrics with reg and returns the recorder. A nil reg gets a fresh
// NewRegistry. If reg is also a prometheus.Gatherer (a *prometheus.Registry is), Handler
// serves it; otherwise Handler serves the default gatherer.
//
// Registering twice with the same registry reuses the collectors already there instead of
// panicking, so that two components (or two tests) may each call New.
func New(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = NewRegistry()
	}
	m := &Metrics{gatherer: prometheus.DefaultGatherer}
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.gatherer = g
	}

	received := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "updates_received_total",
		Help: "Telegram updates taken in (webhook or polling), by update type.",
	}, []string{"type"}))
	handled := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "updates_handled_total",
		Help: "Telegram updates whose handling finished, with or without an error, by update type.",
	}, []string{"type"}))
	failed := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "updates_failed_total",
		Help: "Telegram updates whose handling returned an error, by update type (a subset of handled).",
	}, []string{"type"}))
	latency := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "update_handling_seconds",
		Help:    "Time from taking a Telegram update to finishing its handling, by update type.",
		Buckets: latencyBuckets,
	}, []string{"type"}))
	for i, name := range kindNames {
		m.updates[i] = updateSeries{
			received: received.WithLabelValues(name),
			handled:  handled.WithLabelValues(name),
			failed:   failed.WithLabelValues(name),
			latency:  latency.WithLabelValues(name),
		}
	}

	api := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "telegram_api_calls_total",
		Help: `Telegram Bot API calls, by method and result ("ok", "429", "error", ...).`,
	}, []string{"method", "result"}))
	m.apiCalls = newChildren([2]string{overflowValue, overflowValue}, func(k [2]string) prometheus.Counter {
		return api.WithLabelValues(clean(k[0], "none"), clean(k[1], "none"))
	})

	states := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "dialog_states_entered_total",
		Help: `Dialog states entered, by state ("new" is the state of a chat nothing is known about).`,
	}, []string{"state"}))
	m.states = newChildren(overflowValue, func(k string) prometheus.Counter {
		return states.WithLabelValues(clean(k, "new"))
	})

	sigs := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "signatures_total",
		Help: `Signatures checked on the signing pages, by result ("verified" or "rejected") and rejection reason ("none" when verified).`,
	}, []string{"result", "reason"}))
	m.signatures = newChildren([2]string{overflowValue, overflowValue}, func(k [2]string) prometheus.Counter {
		return sigs.WithLabelValues(clean(k[0], "none"), clean(k[1], "none"))
	})

	revokes := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "revocations_total",
		Help: "Referral revocations, by result.",
	}, []string{"result"}))
	m.revokes = newChildren(overflowValue, func(k string) prometheus.Counter {
		return revokes.WithLabelValues(clean(k, "none"))
	})

	deliveries := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "broadcast_deliveries_total",
		Help: `Broadcast message deliveries, by state ("sent", "blocked", "failed", ...).`,
	}, []string{"state"}))
	m.deliveries = newChildren(overflowValue, func(k string) prometheus.Counter {
		return deliveries.WithLabelValues(clean(k, "none"))
	})

	refused := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "refused_total",
		Help: `Requests refused by a limit, by door ("sign": signature submissions and signing links, "http": the server's connection cap) and scope ("client", "link", "global", "attempts": a link spent by failed signatures, "issue": a chat's new links, "connections").`,
	}, []string{"door", "scope"}))
	m.refused = newChildren([2]string{overflowValue, overflowValue}, func(k [2]string) prometheus.Counter {
		return refused.WithLabelValues(clean(k[0], "none"), clean(k[1], "none"))
	})

	m.queueLag = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "queue_lag_seconds",
		Help: "Age of the oldest update or job still waiting to be handled; 0 when nothing waits.",
	}))
	m.city = newCityMetrics(reg)
	m.ocsp = newOCSPMetrics(reg)

	loops := register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "loop_dependency_down",
		Help: "1 while a background loop (broadcast claim, notify, ...) cannot reach the store it needs, else 0.",
	}, []string{"loop"}))
	m.loopsDown = newChildren(overflowValue, func(k string) prometheus.Gauge {
		return loops.WithLabelValues(clean(k, "none"))
	})
	return m
}

// register registers c, or returns the equal collector that reg already has.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A conflicting definition is a programming error that no caller can handle.
		panic(fmt.Errorf("metrics: register: %w", err))
	}
	return c
}

// UpdateReceived counts an update taken in. kind is the update type (UpdateMessage, ...);
// types outside the fixed set count as UpdateOther.
func (m *Metrics) UpdateReceived(kind string) {
	if m == nil {
		return
	}
	m.updates[kindIndex(kind)].received.Inc()
}

// UpdateHandled counts an update whose handling finished after d, failed if err != nil.
func (m *Metrics) UpdateHandled(kind string, d time.Duration, err error) {
	if m == nil {
		return
	}
	s := &m.updates[kindIndex(kind)]
	s.handled.Inc()
	if err != nil {
		s.failed.Inc()
	}
	s.latency.Observe(d.Seconds())
}

// APICall counts a Bot API call. result is ResultOK, ResultRateLimited ("429"), ResultError
// or another short fixed word (say an HTTP status) the caller chooses.
func (m *Metrics) APICall(method, result string) {
	if m == nil {
		return
	}
	m.apiCalls.get([2]string{method, result}).Inc()
}

// StateEntered counts a dialog state entered; state is a flows.StateName.
func (m *Metrics) StateEntered(state string) {
	if m == nil {
		return
	}
	m.states.get(state).Inc()
}

// Signature counts a checked signature: result SignatureVerified or SignatureRejected, and
// for a rejection the reason (a short fixed word such as "expired_cert" or "iin_mismatch").
func (m *Metrics) Signature(result, reason string) {
	if m == nil {
		return
	}
	m.signatures.get([2]string{result, reason}).Inc()
}

// Refused counts a request refused by a limit (429 or 503): door "sign" with scope "client",
// "link" or "global"; door "http" with scope "connections".
func (m *Metrics) Refused(door, scope string) {
	if m == nil {
		return
	}
	m.refused.get([2]string{door, scope}).Inc()
}

// Revocation counts a referral revocation by result.
func (m *Metrics) Revocation(result string) {
	if m == nil {
		return
	}
	m.revokes.get(result).Inc()
}

// Delivery counts a broadcast delivery by state.
func (m *Metrics) Delivery(state string) {
	if m == nil {
		return
	}
	m.deliveries.get(state).Inc()
}

// QueueLag sets the age of the oldest waiting update or job.
func (m *Metrics) QueueLag(d time.Duration) {
	if m == nil {
		return
	}
	m.queueLag.Set(d.Seconds())
}

// LoopDown records whether a background loop's dependency is down (internal/outage reports
// every change).
func (m *Metrics) LoopDown(loop string, down bool) {
	if m == nil {
		return
	}
	v := 0.0
	if down {
		v = 1
	}
	m.loopsDown.get(loop).Set(v)
}

// Handler serves the registry New was given in the Prometheus text (or OpenMetrics) format.
// A nil *Metrics serves 404, so a disabled recorder does not look like an empty healthy one.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{
		ErrorLog: slogPrinter{},
		// A collector failing (say the process collector on an odd kernel) should not blank
		// the whole page: serve what could be gathered and log the rest.
		ErrorHandling: promhttp.ContinueOnError,
		// Scrapes are cheap but unbounded concurrent ones are not; Prometheus retries.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// slogPrinter adapts promhttp's ErrorLog to log/slog.
type slogPrinter struct{}

func (slogPrinter) Println(v ...any) {
	slog.Error("metrics: gather", "error", fmt.Sprint(v...))
}
