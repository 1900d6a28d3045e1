package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCityRequest(t *testing.T) {
	var nilM *Metrics
	nilM.CityRequest("search", "ok", time.Second) // no panic

	reg := prometheus.NewRegistry()
	m := New(reg)
	m.CityRequest("application", "ok", 20*time.Millisecond)
	m.CityRequest("application", "ok", 30*time.Millisecond)
	m.CityRequest("revoke", "unavailable", 2*time.Second)
	want := `
# HELP kezekbot_city_requests_total Requests to the city's queue system, by endpoint ("search", "application", "revoke", "changes") and result ("ok", "not_found", "refused", "unavailable", "timeout", "contract").
# TYPE kezekbot_city_requests_total counter
kezekbot_city_requests_total{endpoint="application",result="ok"} 2
kezekbot_city_requests_total{endpoint="revoke",result="unavailable"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "kezekbot_city_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.city.latency.get([2]string{"application", "ok"}).(prometheus.Collector)); n != 1 {
		t.Errorf("latency series: %d", n)
	}
	if got := testutil.ToFloat64(m.city.requests.get([2]string{"revoke", "unavailable"})); got != 1 {
		t.Errorf("revoke/unavailable = %v", got)
	}
}
