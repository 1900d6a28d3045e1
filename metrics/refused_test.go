package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/metrics"
)

// TestRefusedCounted: refusals by the signature rate limits and the connection cap show in
// /metrics by door and scope (issue 17).
func TestRefusedCounted(t *testing.T) {
	m := metrics.New(metrics.NewRegistry())
	m.Refused("sign", "client")
	m.Refused("sign", "client")
	m.Refused("http", "connections")
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	for _, want := range []string{
		`kezekbot_refused_total{door="sign",scope="client"} 2`,
		`kezekbot_refused_total{door="http",scope="connections"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	var nilM *metrics.Metrics
	nilM.Refused("sign", "link") // a nil *Metrics records nothing
}
