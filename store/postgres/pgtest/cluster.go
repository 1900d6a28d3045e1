//go:build unix

package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot/internal/testenv"
)

// Server is a PostgreSQL server a test runs itself (initdb in a temporary directory, a free
// loopback port), for what the shared test server cannot show: failover between a primary and
// a streaming replica. Everything it starts is stopped and removed when the test ends.
type Server struct {
	tb   testing.TB
	bin  string
	Dir  string // the data directory
	Port int
	cred *syscall.Credential // when the test runs as root: the unprivileged owner (initdb refuses root)
}

// StartPrimary initdb's and starts a server with WAL for streaming replicas. It skips (fails
// in CI) without the server binaries (testenv.PostgresBin).
func StartPrimary(tb testing.TB) *Server {
	tb.Helper()
	s := newServer(tb, testenv.PostgresBin(tb), nil)
	s.run("initdb", "-D", s.Dir, "-U", "postgres", "--auth=trust", "--locale=C", "-E", "UTF8", "--no-sync")
	s.configure("wal_level = replica", "max_wal_senders = 5", "wal_keep_size = '64MB'", "hot_standby = on")
	s.start()
	return s
}

// StartReplica takes a base backup of s (pg_basebackup -R: it streams from s) and starts it as
// a hot standby. With sync, s waits for it to flush every commit before acknowledging it
// (synchronous_standby_names = '*'), so a failover to it loses nothing acknowledged.
func (s *Server) StartReplica(tb testing.TB, sync bool) *Server {
	tb.Helper()
	r := newServer(tb, s.bin, s)
	r.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", "postgres", "-D", r.Dir, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	r.configure()
	r.start()
	if sync {
		s.Exec(tb, "ALTER SYSTEM SET synchronous_standby_names = '*'")
		s.Exec(tb, "SELECT pg_reload_conf()")
		deadline := time.Now().Add(20 * time.Second)
		for {
			var state string
			c := s.conn(tb)
			err := c.QueryRow(context.Background(), "SELECT coalesce(max(sync_state), '') FROM pg_stat_replication").Scan(&state)
			_ = c.Close(context.Background())
			if err == nil && state == "sync" {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("pgtest: the replica on port %d never became synchronous (%q, %v)", r.Port, state, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return r
}

// URL is a postgres:// URL of the server's postgres database.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
}

// Stop stops the server: mode "fast" (a clean shutdown) or "immediate" (as if the machine
// died: no shutdown checkpoint, no goodbye to the clients).
func (s *Server) Stop(tb testing.TB, mode string) {
	tb.Helper()
	s.run("pg_ctl", "-D", s.Dir, "-m", mode, "-w", "stop")
}

// Promote turns a standby into a primary and waits until it accepts writes.
func (s *Server) Promote(tb testing.TB) {
	tb.Helper()
	s.run("pg_ctl", "-D", s.Dir, "-w", "-t", "30", "promote")
}

// Exec runs sql on the server's postgres database.
func (s *Server) Exec(tb testing.TB, sql string) {
	tb.Helper()
	c := s.conn(tb)
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), sql); err != nil {
		tb.Fatalf("pgtest: %s on port %d: %v", sql, s.Port, err)
	}
}

func (s *Server) conn(tb testing.TB) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		tb.Fatalf("pgtest: connect to port %d: %v", s.Port, err)
	}
	return c
}

func newServer(tb testing.TB, bin string, like *Server) *Server {
	tb.Helper()
	s := &Server{tb: tb, bin: bin, Port: freePort(tb)}
	if like != nil {
		s.cred = like.cred
	} else if os.Geteuid() == 0 {
		s.cred = unprivileged(tb)
	}
	// Not t.TempDir: its parents are root's and 0700, and the server's user must reach it.
	parent, err := os.MkdirTemp("", "kezekbot-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(parent) })
	s.Dir = filepath.Join(parent, "data")
	if err := os.Mkdir(s.Dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	if s.cred != nil {
		for _, d := range []string{parent, s.Dir} {
			if err := os.Chown(d, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return s
}

// configure appends settings to postgresql.conf (later lines win): this server's port, its
// socket in its own directory, no fsync (a test's servers never outlive a machine crash).
func (s *Server) configure(lines ...string) {
	s.tb.Helper()
	base := []string{
		"port = " + strconv.Itoa(s.Port),
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = '" + filepath.Dir(s.Dir) + "'",
		"fsync = off",
		"full_page_writes = off",
		"max_connections = 50",
		"shared_buffers = '16MB'",
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + strings.Join(append(base, lines...), "\n") + "\n"); err != nil {
		s.tb.Fatal(err)
	}
}

func (s *Server) start() {
	s.tb.Helper()
	s.run("pg_ctl", "-D", s.Dir, "-l", filepath.Join(filepath.Dir(s.Dir), "server.log"), "-w", "-t", "30", "start")
	s.tb.Cleanup(func() {
		// Already stopped by the test is fine; the data directory goes with its parent.
		cmd, cancel := s.cmd("pg_ctl", "-D", s.Dir, "-m", "immediate", "-w", "stop")
		defer cancel()
		_ = cmd.Run()
	})
}

// run runs one of the server's programs as the server's user and fails the test, with the
// program's output and the server's log, when it fails.
func (s *Server) run(name string, args ...string) {
	s.tb.Helper()
	cmd, cancel := s.cmd(name, args...)
	defer cancel()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(s.Dir), "server.log"))
		s.tb.Fatalf("pgtest: %s %s: %v\n%s\nserver log:\n%s", name, strings.Join(args, " "), err, out.Bytes(), log)
	}
}

func (s *Server) cmd(name string, args ...string) (*exec.Cmd, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = filepath.Dir(s.Dir)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd, cancel
}

// unprivileged is the user the servers run as when the test runs as root: Debian's postgres
// user when it exists, else nobody.
func unprivileged(tb testing.TB) *syscall.Credential {
	tb.Helper()
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
		}
	}
	tb.Fatal("pgtest: running as root and neither a postgres nor a nobody user exists to run PostgreSQL as")
	return nil
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
