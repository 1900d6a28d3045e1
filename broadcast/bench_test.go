package broadcast_test

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/audience"
	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// BenchmarkEnqueue measures creating a broadcast to every bound parent: one transaction,
// INSERT … SELECT, nothing in Go memory. Run with -benchtime=1x.
func BenchmarkEnqueue(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(itoa(n), func(b *testing.B) {
			db := pgtest.New(b)
			seedBindings(b, db, 1, n)
			b.ResetTimer()
			for b.Loop() {
				bc := createBroadcast(b, db, audience.Audience{})
				if bc.Total != n {
					b.Fatalf("total %d", bc.Total)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "recipients/s")
		})
	}
}

// BenchmarkThroughput sends 10,000 messages at the configured 1000/s through the fake Bot API
// (20ms answers, like a nearby Telegram) and reports the delivered rate as a fraction of the
// limit, measured from the fake's own timestamps. Run with -benchtime=1x.
func BenchmarkThroughput(b *testing.B) {
	for _, rate := range []float64{30, 1000} {
		b.Run(itoa(int(rate)), func(b *testing.B) {
			n := int(rate * 10)
			for b.Loop() {
				db := pgtest.New(b)
				seedBindings(b, db, 1, n)
				bc := createBroadcast(b, db, audience.Audience{})
				srv := telegramtest.New(telegramtest.WithDelay(20 * time.Millisecond))
				rc, prefix := newRedis(b)
				rec := newRecorder()
				e, err := broadcast.New(db, broadcast.TelegramSender{B: newBot(b, srv.URL)},
					broadcast.NewRedisPacer(rc, prefix, broadcast.Limits{Global: rate}, 0),
					broadcast.Config{Owner: "bench", Rate: rate, OnRecord: rec.OnRecord})
				if err != nil {
					b.Fatal(err)
				}
				stop := startEngine(b, e)
				waitState(b, db, rec, bc.ID, postgres.BroadcastDone, 10*time.Minute)
				stop()
				calls := srv.CallsOf("sendMessage")
				srv.Close()
				at := make([]time.Time, len(calls))
				for i, c := range calls {
					at[i] = c.At
				}
				slices.SortFunc(at, time.Time.Compare)
				got := float64(len(at)-1) / at[len(at)-1].Sub(at[0]).Seconds()
				b.ReportMetric(got, "msgs/s")
				b.ReportMetric(got/rate, "of-limit")
				b.ReportMetric(float64(e.LateSlots()), "late-slots")
				b.ReportMetric(float64(maxInWindow(calls, at[0], time.Second)), "max-in-1s")
			}
		})
	}
}

// nullSender answers at once, so BenchmarkMemory measures the engine, not an HTTP fake.
type nullSender struct{ id atomic.Int64 }

func (s *nullSender) Send(context.Context, broadcast.Message) (int, error) {
	return int(s.id.Add(1)), nil
}

func (s *nullSender) Edit(context.Context, int64, int, string, [][]broadcast.Button) error {
	return nil
}

// BenchmarkMemory delivers broadcasts of 100k and 1M recipients as fast as PostgreSQL takes
// them and samples the heap: the peak must not grow with the audience. Run with -benchtime=1x.
func BenchmarkMemory(b *testing.B) {
	for _, n := range memorySizes() {
		b.Run(itoa(n), func(b *testing.B) {
			for b.Loop() {
				db := pgtest.New(b)
				seedBindings(b, db, 1, n)
				bc := createBroadcast(b, db, audience.Audience{})
				rc, prefix := newRedis(b)
				rec := newRecorder()
				const rate = 100_000
				e, err := broadcast.New(db, &nullSender{}, broadcast.NewRedisPacer(rc, prefix, broadcast.Limits{Global: rate}, 0),
					broadcast.Config{Owner: "bench", Rate: rate, OnRecord: rec.OnRecord, Log: benchLog()})
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				var peak atomic.Uint64
				samplerCtx, stopSampler := context.WithCancel(context.Background())
				sampled := make(chan struct{})
				go func() {
					defer close(sampled)
					t := time.NewTicker(50 * time.Millisecond)
					defer t.Stop()
					var ms runtime.MemStats
					for {
						select {
						case <-samplerCtx.Done():
							return
						case <-t.C:
						}
						runtime.ReadMemStats(&ms)
						if ms.HeapInuse > peak.Load() {
							peak.Store(ms.HeapInuse)
						}
					}
				}()
				start := time.Now()
				stop := startEngine(b, e)
				waitState(b, db, rec, bc.ID, postgres.BroadcastDone, 30*time.Minute)
				elapsed := time.Since(start)
				stop()
				stopSampler()
				<-sampled
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(base.HeapInuse)/(1<<20), "base-heap-MB")
				b.ReportMetric(float64(n)/elapsed.Seconds(), "delivered/s")
			}
		})
	}
}

func itoa(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return itoaPlain(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return itoaPlain(n/1000) + "k"
	}
	return itoaPlain(n)
}

func itoaPlain(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// memorySizes are BenchmarkMemory's audiences; KEZEKBOT_BENCH_SIZES=20000 runs a quick one.
func memorySizes() []int {
	var out []int
	for _, f := range strings.Split(os.Getenv("KEZEKBOT_BENCH_SIZES"), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return []int{100_000, 1_000_000}
	}
	return out
}

// benchLog shows the engine's warnings and errors during a benchmark: a retried write or a
// reaped lease explains a slow run.
func benchLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
