package broadcast_test

import (
	"context"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/internal/redistest"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// TestPacerOnCluster runs the pacer against a local three-master Redis Cluster. Its scripts
// read and book the pause, global, chat and group keys together, which Redis Cluster allows
// only within one hash slot: the {pacer} tag must keep them there, for chats whose own keys
// would hash all over the cluster.
func TestPacerOnCluster(t *testing.T) {
	addrs := redistest.Cluster(t)
	c, err := redisstore.Connect("redis://", redisstore.Topology{Cluster: addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	checkPacerLimits(t, c, "kz:bc:")

	// The global rate still holds across chats: 40 chats at 20/s take ~2 s of slots.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := broadcast.NewRedisPacer(c, "kz:bc2:", broadcast.Limits{Global: 20}, 5*time.Second)
	var last time.Duration
	for chat := int64(1); chat <= 40; chat++ {
		s, err := p.Reserve(ctx, chat*7919, false)
		if err != nil || !s.OK {
			t.Fatalf("chat %d: %+v, %v", chat, s, err)
		}
		last = s.Wait
	}
	if last < 1900*time.Millisecond {
		t.Fatalf("40th slot at %v, want ≥ 1.9 s at 20/s", last)
	}
}
