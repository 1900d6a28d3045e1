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
//
// cache=off reads the state back on every Begin, as every turn did before the state cache;
// cache=on is a replica that committed the chat's last turn itself. The state is the size of
// a real one with a signing link in it.
func BenchmarkBeginCommit(b *testing.B) {
	for _, bc := range []struct {
		par   int // per GOMAXPROCS: 16 ≈ the load generator's 32 in flight on 2 cores
		cache int
	}{{1, -1}, {1, 0}, {16, -1}, {16, 0}} {
		name := fmt.Sprintf("par%d/cache=%s", bc.par, map[bool]string{true: "on", false: "off"}[bc.cache >= 0])
		b.Run(name, func(b *testing.B) {
			s := mustOpen(b, redisstore.Options{StateCache: bc.cache})
			par := bc.par
			state := []byte(benchState)
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

// benchState is a dialog state as flows encodes it, signing link included (~230 bytes).
const benchState = `{"n":"binding","l":"ru","r":7,"m":48211,"o":"Jx3k9QmV2bT8yLwZ","u":"https://kezekbot.example/s/AQAAAAFnXk3Zq8tV1c0w4yX2b9mJpL7eR5uT3oK6hG8fD1sA","x":"2026-12-04T22:48:02Z"}`

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
