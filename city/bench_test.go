package city_test

import (
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/refcity"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// BenchmarkClientApplication: one card read through the client against the reference city on
// loopback (request, strict decoding, Detail). The client's own share of a read-through;
// reports p50/p99 per read.
func BenchmarkClientApplication(b *testing.B) {
	demo, err := postgres.DemoDetails(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	rc, _ := refcity.New(refcity.Config{}, demo)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c, _ := city.NewClient(city.Config{BaseURL: srv.URL})
	iin := kezekbot.MustParseIIN(postgres.DemoParents[3].IIN)
	var id int64
	for _, d := range demo {
		if d.ApplicantIIN.Equal(iin) {
			id = d.ID
			break
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := c.Application(b.Context(), iin, id); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
