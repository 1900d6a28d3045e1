package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kezekbot/kezekbot/metrics"
)

func TestCityCommands(t *testing.T) {
	reg := metrics.NewRegistry()
	c := metrics.NewCityCommands(reg)
	c.CityCommand("accepted")
	c.CityCommand("unavailable")
	c.CityCommand("unavailable")
	c.CommandQueue(3, 90*time.Second)
	want := `
# HELP kezekbot_city_command_queue_depth Revocations not yet answered by the city (pending or being sent).
# TYPE kezekbot_city_command_queue_depth gauge
kezekbot_city_command_queue_depth 3
# HELP kezekbot_city_command_queue_oldest_seconds Age of the oldest revocation not yet answered by the city; 0 when none waits.
# TYPE kezekbot_city_command_queue_oldest_seconds gauge
kezekbot_city_command_queue_oldest_seconds 90
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "kezekbot_city_command_queue_depth", "kezekbot_city_command_queue_oldest_seconds"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "kezekbot_city_command_results_total"); n != 2 {
		t.Errorf("%d result series", n)
	}
	c.CityRead("application", "mirror")
	if n := testutil.CollectAndCount(reg, "kezekbot_city_reads_total"); n != 1 {
		t.Errorf("%d read series", n)
	}
	var none *metrics.CityCommands
	none.CityRead("application", "city")
	none.CityCommand("accepted")
	none.CommandQueue(1, time.Second)
}
