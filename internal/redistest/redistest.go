// Package redistest starts throwaway Redis topologies for tests: a three-master Redis Cluster
// and a Sentinel-watched master with one replica, from Debian's redis-server (its --sentinel
// mode is redis-sentinel). Every process lives in the test's temp dir on free loopback ports
// and is killed when the test ends. Without redis-server a test skips on a developer's machine
// and fails in CI (CI=true), like the other outside tools (internal/testenv).
package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kezekbot/kezekbot/internal/testenv"
)

// MasterName is the name the Sentinel setup monitors its master by.
const MasterName = "kzmaster"

// Cluster starts three cluster-enabled redis-server masters, joins them with redis-cli
// --cluster create and waits until every node reports cluster_state:ok. It returns the
// nodes' addresses.
func Cluster(tb testing.TB) []string {
	tb.Helper()
	server := testenv.Tool(tb, "redis-server", "redis-server")
	cli := testenv.Tool(tb, "redis-cli", "redis-tools")
	dir := tb.TempDir()
	var addrs []string
	for range 3 {
		port := freePort(tb, true)
		addrs = append(addrs, start(tb, server, dir, port, "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes-"+strconv.Itoa(port)+".conf", "--cluster-node-timeout", "2000"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs {
		waitFor(ctx, tb, a, "cluster_state:ok", func(c *redis.Client) (string, error) { return c.ClusterInfo(ctx).Result() })
	}
	return addrs
}

// SentinelSetup is a master, its replica and one Sentinel watching them.
type SentinelSetup struct {
	Master, Replica string // addresses as started (roles swap on failover)
	Sentinels       []string
	tb              testing.TB
}

// Sentinel starts a master, a replica of it and a Sentinel monitoring it as MasterName
// (quorum 1, down-after 1 s), and waits until the Sentinel knows the replica, so that a
// failover can pick it.
func Sentinel(tb testing.TB) *SentinelSetup {
	tb.Helper()
	server := testenv.Tool(tb, "redis-server", "redis-server")
	dir := tb.TempDir()
	mp, rp, sp := freePort(tb, false), freePort(tb, false), freePort(tb, false)
	master := start(tb, server, dir, mp)
	replica := start(tb, server, dir, rp, "--replicaof", "127.0.0.1", strconv.Itoa(mp))
	conf := filepath.Join(dir, "sentinel.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds %[1]s 1000\nsentinel failover-timeout %[1]s 10000\n", MasterName, mp)), 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	sentinel := start(tb, server, dir, sp, "--sentinel", conf)
	s := &SentinelSetup{Master: master, Replica: replica, Sentinels: []string{sentinel}, tb: tb}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	waitFor(ctx, tb, replica, "master_link_status:up", func(c *redis.Client) (string, error) {
		return c.Info(ctx, "replication").Result()
	})
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel})
	defer func() { _ = sc.Close() }()
	for {
		r, err := sc.Replicas(ctx, MasterName).Result()
		if err == nil && len(r) > 0 && fmt.Sprint(r[0]["flags"]) == "slave" && fmt.Sprint(r[0]["master-link-status"]) == "ok" {
			return s
		}
		if ctx.Err() != nil {
			tb.Fatalf("sentinel never saw the replica: %v %v", r, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Failover asks the Sentinel to fail over now (SENTINEL FAILOVER) and waits until it names
// the former replica as master and that server accepts writes. It returns the new master.
func (s *SentinelSetup) Failover(ctx context.Context) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0]})
	defer func() { _ = sc.Close() }()
	if err := sc.Failover(ctx, MasterName).Err(); err != nil {
		return "", fmt.Errorf("sentinel failover: %w", err)
	}
	for {
		a, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
		if err == nil && len(a) == 2 && net.JoinHostPort(a[0], a[1]) == s.Replica {
			c := redis.NewClient(&redis.Options{Addr: s.Replica})
			role, err := c.Do(ctx, "ROLE").Slice()
			_ = c.Close()
			if err == nil && len(role) > 0 && role[0] == "master" {
				// The Sentinel turns the old master into a replica of the new one only when its
				// next INFO round (every 10 s) finds it; do now what it would do then, so that
				// the new master has a replica again without the test waiting for that.
				old := redis.NewClient(&redis.Options{Addr: s.Master})
				h, p, _ := net.SplitHostPort(s.Replica)
				err := old.Do(ctx, "REPLICAOF", h, p).Err()
				_ = old.Close()
				if err != nil {
					return "", fmt.Errorf("demote the old master: %w", err)
				}
				s.Master, s.Replica = s.Replica, s.Master
				return s.Master, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("failover did not finish: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// start runs redis-server on 127.0.0.1:port with args appended and waits until it answers.
// The process is killed when tb ends.
func start(tb testing.TB, server, dir string, port int, args ...string) string {
	tb.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	sentinel := len(args) == 2 && args[0] == "--sentinel"
	var full []string
	if sentinel { // redis-server <conf> --sentinel: Sentinel rewrites its config file
		full = []string{args[1], "--sentinel"}
	}
	full = append(full, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--logfile", filepath.Join(dir, strconv.Itoa(port)+".log"))
	if !sentinel {
		full = append(full, "--save", "", "--appendonly", "no")
		full = append(full, args...)
	}
	cmd := exec.Command(server, full...)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitFor(ctx, tb, addr, "PONG", func(c *redis.Client) (string, error) { return c.Ping(ctx).Result() })
	return addr
}

func waitFor(ctx context.Context, tb testing.TB, addr, want string, get func(*redis.Client) (string, error)) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer func() { _ = c.Close() }()
	for {
		v, err := get(c)
		if err == nil && strings.Contains(v, want) {
			return
		}
		if ctx.Err() != nil {
			tb.Fatalf("%s: waiting for %q: %v (last: %.200q)", addr, want, err, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort finds a loopback port nobody listens on; withBus also needs port+10000 free, the
// cluster bus port Redis derives from it.
func freePort(tb testing.TB, withBus bool) int {
	tb.Helper()
	for range 200 {
		p := 20000 + rand.IntN(25000) // #nosec G404 -- a test port, not a secret
		if free(p) && (!withBus || free(p+10000)) {
			return p
		}
	}
	tb.Fatal("no free port")
	return 0
}

func free(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
