package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// TestIntakeUnreplicatedCommitIsRetried: with KEZEKBOT_REDIS_WAIT_REPLICAS a commit that no
// replica confirmed is not acknowledged (a failover could lose it): the update gets ErrRetry so
// Telegram redelivers, and the redelivery is no duplicate until the replicas have the commit
// (here never: the test server has no replica), nor is the dialog run again meanwhile.
func TestIntakeUnreplicatedCommitIsRetried(t *testing.T) {
	ctx := testCtx(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "kzbot:" + hex.EncodeToString(b[:]) + ":"
	st, err := redisstore.Open(ctx, redisstore.TestURL(redisDB), redisstore.Options{Prefix: prefix, WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("open redis: %v", err)
	}
	t.Cleanup(func() {
		c := st.Client()
		bg := context.Background()
		it := c.Scan(bg, 0, prefix+"*", 1000).Iterator()
		for it.Next(bg) {
			c.Del(bg, it.Val())
		}
		_ = st.Close()
	})
	if info, err := st.Client().Info(ctx, "replication").Result(); err != nil || !strings.Contains(info, "connected_slaves:0") {
		t.Skipf("the test Redis has replicas (or no INFO: %v); this test needs one without", err)
	}
	f := newFixture(t, func(o *IntakeOptions) { o.Turns = st })
	const chat = 1701
	upd := textUpdate(f.id(), chat, "/start")
	for range 2 {
		if err := f.in.Handle(ctx, upd); !errors.Is(err, ErrRetry) || !errors.Is(err, redisstore.ErrNotReplicated) {
			t.Fatalf("err = %v, want ErrRetry wrapping ErrNotReplicated", err)
		}
	}
	if n := len(f.srv.CallsOf("sendMessage")); n != 1 {
		t.Fatalf("%d messages sent, want 1 (the redelivery must not run the dialog again)", n)
	}
}
