package main

// The chaos soak's processes: its own redis-server and PostgreSQL cluster (never the machine's
// shared ones on 6379/5432, which other tests use while the soak restarts its own), and the
// kezekbot replicas as real binaries. See soak_test.go.

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
	"sync"
	"syscall"
	"time"
)

// soakProc is a child process the soak owns and may kill by its pid.
type soakProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(name string, args []string, env []string, logf *os.File) (*soakProc, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that a Ctrl-C of `go test` does not reach it before the
	// soak's cleanup does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &soakProc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *soakProc) kill() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *soakProc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitTCP(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s does not answer within %v", addr, d)
}

// soakRedis is a redis-server of the soak's own. It keeps an append-only file fsynced on
// every write, so a restart (even a SIGKILL) forgets nothing acknowledged: the soak checks
// that dialog state survives, which a Redis without persistence would not promise.
type soakRedis struct {
	mu   sync.Mutex
	port int
	dir  string
	logf *os.File
	proc *soakProc
}

func newSoakRedis(dir string) (*soakRedis, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		return nil, err
	}
	r := &soakRedis{port: port, dir: dir, logf: logf}
	return r, r.start()
}

func (r *soakRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *soakRedis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := startProc("redis-server", []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(r.port),
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir}, os.Environ(), r.logf)
	if err != nil {
		return err
	}
	r.proc = p
	return waitTCP(fmt.Sprintf("127.0.0.1:%d", r.port), 15*time.Second)
}

// restart kills the server with SIGKILL and starts it again on the same port and file.
func (r *soakRedis) restart(down time.Duration) error {
	r.mu.Lock()
	r.proc.kill()
	r.mu.Unlock()
	time.Sleep(down)
	return r.start()
}

func (r *soakRedis) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.proc.kill()
	_ = r.logf.Close()
}

// soakPostgres is a PostgreSQL cluster of the soak's own: initdb into a temporary directory,
// on a free port, run as the postgres user when the soak runs as root (initdb refuses root).
type soakPostgres struct {
	mu   sync.Mutex
	port int
	dir  string
	log  string
	bin  string
	as   string // user to run as, "" for the current one
	base string // a directory of our own to remove at the end, when running as root
}

func newSoakPostgres(dir string) (*soakPostgres, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &soakPostgres{port: port, dir: filepath.Join(dir, "pgdata"), log: filepath.Join(dir, "postgres.log"), bin: bin}
	if os.Geteuid() == 0 {
		p.as = "postgres"
		u, err := user.Lookup(p.as)
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user for initdb: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// t.TempDir's parents are root's 0700: the cluster lives in a directory of its own,
		// which the postgres user can reach.
		base, err := os.MkdirTemp("", "kezekbot-soak-pg")
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(base, 0o755); err != nil { // #nosec G302 -- a test's temporary directory, no secrets
			return nil, err
		}
		p.base = base
		p.dir, p.log = filepath.Join(base, "pgdata"), filepath.Join(base, "postgres.log")
		for _, f := range []string{p.log} {
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				return nil, err
			}
			if err := os.Chown(f, uid, gid); err != nil {
				return nil, err
			}
		}
		if err := os.Mkdir(p.dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chown(p.dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := p.pg("initdb", "-D", p.dir, "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	if out, err := p.pg("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "postgres", "soak"); err != nil {
		return nil, fmt.Errorf("createdb: %w\n%s", err, out)
	}
	return p, nil
}

func pgBinDir() (string, error) {
	if path, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(dirs) == 0 {
		return "", fmt.Errorf("no PostgreSQL binaries (pg_ctl, initdb) found; install Debian's postgresql")
	}
	return dirs[len(dirs)-1], nil
}

// pg runs one of PostgreSQL's programs, as the postgres user when needed.
func (p *soakPostgres) pg(prog string, args ...string) ([]byte, error) {
	name := filepath.Join(p.bin, prog)
	var cmd *exec.Cmd
	if p.as != "" {
		cmd = exec.Command("runuser", append([]string{"-u", p.as, "--", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.Dir = "/"
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func (p *soakPostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/soak?sslmode=disable", p.port)
}

func (p *soakPostgres) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	// fsync off: the soak crashes PostgreSQL (immediate stop), never the machine, so the page
	// cache keeps every commit, and the shared disk is spared.
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c max_connections=100", p.port)
	if out, err := p.pg("pg_ctl", "-D", p.dir, "-l", p.log, "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	return nil
}

// restart stops the cluster the way a crash does (immediate: no checkpoint, recovery on start)
// and starts it again after down.
func (p *soakPostgres) restart(down time.Duration) error {
	p.mu.Lock()
	out, err := p.pg("pg_ctl", "-D", p.dir, "-m", "immediate", "-w", "stop")
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	time.Sleep(down)
	return p.start()
}

func (p *soakPostgres) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.pg("pg_ctl", "-D", p.dir, "-m", "immediate", "-w", "stop")
	if p.base != "" {
		_ = os.RemoveAll(p.base)
	}
}

// soakReplica is one `kezekbot serve` process in webhook mode; kill and start run it again on
// the same address, as an orchestrator restarting a crashed pod would.
type soakReplica struct {
	mu    sync.Mutex
	name  string
	addr  string
	bin   string
	env   []string
	logf  *os.File
	proc  *soakProc
	logs  string
	start time.Time
}

func (r *soakReplica) run(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := startProc(r.bin, []string{"serve"}, r.env, r.logf)
	if err != nil {
		return err
	}
	r.proc = p
	r.start = time.Now()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if !p.alive() {
			return fmt.Errorf("replica %s exited at start (see %s)", r.name, r.logs)
		}
		if err := waitTCP(r.addr, 100*time.Millisecond); err == nil {
			return nil
		}
	}
	return fmt.Errorf("replica %s does not listen on %s (see %s)", r.name, r.addr, r.logs)
}

func (r *soakReplica) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.proc.kill()
}

func (r *soakReplica) up() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc != nil && r.proc.alive()
}

// panics returns the lines of the replica's log that tell of a panic or a fatal runtime error.
func soakPanics(logText string) []string {
	var out []string
	for _, l := range strings.Split(logText, "\n") {
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") || strings.Contains(l, "\"panic\"") ||
			strings.Contains(l, "runtime error:") {
			out = append(out, l)
		}
	}
	return out
}
