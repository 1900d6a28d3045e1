package adapter_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/adapter"
	"github.com/kezekbot/kezekbot/city/refcity"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// BenchmarkReadThrough measures what the card's read-through adds on top of the city's own
// answer: the same application read with the client alone ("city") and through the adapter
// ("adapter": the visibility check, the conversion and the mirror's refresh in PostgreSQL).
// Reported: p50 and p99 per read, in µs.
func BenchmarkReadThrough(b *testing.B) {
	db := pgtest.New(b)
	demo, err := postgres.DemoDetails(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	rc, err := refcity.New(refcity.Config{Token: killToken}, demo)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	client, err := city.NewClient(city.Config{BaseURL: srv.URL, Token: killToken})
	if err != nil {
		b.Fatal(err)
	}
	d := demo[0]
	rec := &adapter.Record{City: client, Mirror: db, Store: db, Log: quiet()}
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	go func() { done <- rec.RunRefresher(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(10 * time.Millisecond) // the refresher is running
	read := map[string]func() error{
		"city": func() error { _, err := client.Application(b.Context(), d.ApplicantIIN, d.ID); return err },
		"adapter": func() error {
			got, err := rec.Application(b.Context(), d.ApplicantIIN, d.ID)
			if err == nil && !got.AsOf.IsZero() {
				err = kezekbot.Errorf(kezekbot.EINTERNAL, "answered from the mirror")
			}
			return err
		},
	}
	for _, name := range []string{"city", "adapter"} {
		b.Run(name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := read[name](); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
