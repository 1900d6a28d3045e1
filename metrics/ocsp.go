package metrics

import "github.com/prometheus/client_golang/prometheus"

func newOCSPMetrics(reg prometheus.Registerer) *children[[2]string, prometheus.Counter] {
	checks := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "ocsp_checks_total",
		Help: `Certificate revocation checks by OCSP, by result ("good", "revoked", "unknown", "error", "stale", "unsupported") and source ("responder", or "cache" for an answer still within its validity).`,
	}, []string{"result", "source"}))
	return newChildren([2]string{overflowValue, overflowValue}, func(k [2]string) prometheus.Counter {
		return checks.WithLabelValues(clean(k[0], "none"), clean(k[1], "none"))
	})
}

// OCSP counts one OCSP check (xmlsig.OCSPOptions.Observe): its result and whether the answer
// came from the cache.
func (m *Metrics) OCSP(result string, cached bool) {
	if m == nil {
		return
	}
	source := "responder"
	if cached {
		source = "cache"
	}
	m.ocsp.get([2]string{result, source}).Inc()
}
