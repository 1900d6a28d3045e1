package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/store/redis"
)

// BenchmarkBeginCommit is the bot's per-update store cost: two round trips, one chat per
// goroutine as the bot serialises chats. Besides ns/op (wall time over all goroutines) it
// reports cpu-ns/op, this process's user+sys CPU per update, which is what the bot's CPU
// budget per update is about; Redis's own CPU is not included.
func BenchmarkBeginCommit(b *testing.B) {
	for _, par := range []int{1, 16} { // per GOMAXPROCS: 16 ≈ the load generator's 32 in flight on 2 cores
		b.Run(fmt.Sprint("par", par), func(b *testing.B) {
			s := mustOpen(b, redisstore.Options{})
			state := []byte(`{"flow":"apps","step":3,"lang":"kk","page":1}`)
			var chats, updates atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(par)
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				chat := chats.Add(1)
				for pb.Next() {
					upd := updates.Add(1)
					tr, err := s.Begin(ctx, chat, upd)
					if err != nil {
						b.Error(err)
						return
					}
					if err := s.Commit(ctx, chat, upd, tr, state); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkBaselineGetSet is what a grammY-style session costs on the same client: a plain GET
// and SET, no lock, no dedupe. It puts BenchmarkBeginCommit's numbers in context.
func BenchmarkBaselineGetSet(b *testing.B) {
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprint("par", par), func(b *testing.B) {
			s := mustOpen(b, redisstore.Options{})
			c := s.Client()
			state := []byte(`{"flow":"apps","step":3,"lang":"kk","page":1}`)
			var chats atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(par)
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				k := s.Options().Prefix + "base:" + fmt.Sprint(chats.Add(1))
				for pb.Next() {
					if err := c.Get(ctx, k).Err(); err != nil && err.Error() != "redis: nil" {
						b.Error(err)
						return
					}
					if err := c.Set(ctx, k, state, 30*time.Minute).Err(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is this process's user+sys CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
