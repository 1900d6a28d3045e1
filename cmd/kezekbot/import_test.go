package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/citytest"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

func jsonLine(t testing.TB, a city.Application) string {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestImport(t *testing.T) {
	url := pgtest.URL(t)
	badIIN := citytest.Snapshot(5, 1)
	badBirth := citytest.Snapshot(6, 1)
	badBirth.Child.BirthDate = "2019-01-01"
	clash := citytest.Snapshot(7, 1)
	clash.Number = citytest.Snapshot(0, 1).Number // another application's number
	lines := []string{
		jsonLine(t, citytest.Snapshot(0, 1)), // 1
		`{"id": 3, "revision": `,             // 2: malformed
		strings.Replace(jsonLine(t, badIIN), badIIN.Applicant.IIN.Digits(), "123456789012", 1), // 3
		"",                                   // 4: empty, skipped
		jsonLine(t, citytest.Snapshot(1, 1)), // 5
		jsonLine(t, badBirth),                // 6
		`{"id": 9, "number": "` + strings.Repeat("x", 5000) + `"}`, // 7: too long
		jsonLine(t, clash), // 8: refused by the database
		`{"id": "nine"}`,   // 9: wrong type
		jsonLine(t, citytest.Snapshot(2, 1)) + "\r\n" + jsonLine(t, citytest.Snapshot(3, 1)), // 10, 11 (no final newline)
	}
	file := filepath.Join(t.TempDir(), "apps.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"import", "-database-url=" + url, file, "-max-line", "4096", "-batch", "2"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, &out, &errb)
	}
	report := errb.String()
	t.Logf("report:\n%s", report)
	for _, want := range []string{"line 2: not a JSON object", "line 3: invalid IIN", "line 6: application 7: bad child.birth_date",
		"line 7: longer than 4096 bytes", "line 8: ", "line 9: field id has the wrong type"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if n := strings.Count(report, "\n"); n != 6 {
		t.Errorf("%d report lines, want 6:\n%s", n, report)
	}
	for _, secret := range []string{badIIN.Applicant.IIN.Digits(), "123456789012", "Тестов", "Тестова", badBirth.Child.IIN.Digits()} {
		if strings.Contains(report, secret) || strings.Contains(out.String(), secret) {
			t.Fatalf("a personal value in the output:\n%s\n%s", &out, report)
		}
	}
	if !strings.Contains(out.String(), "11 lines, 4 applications written, 0 unchanged (not newer), 6 bad") {
		t.Fatalf("summary: %s", &out)
	}

	// Again: nothing changes.
	out.Reset()
	errb.Reset()
	code = run(ctx, []string{"import", file, "-database-url=" + url, "-max-line=4096"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "0 applications written, 4 unchanged") {
		t.Fatalf("second import: exit %d: %s %s", code, &out, &errb)
	}

	// Only good lines, from stdin: exit 0.
	good := filepath.Join(t.TempDir(), "good.jsonl")
	if err := os.WriteFile(good, []byte(jsonLine(t, citytest.Snapshot(4, 2))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(good)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdin := os.Stdin
	os.Stdin = f
	code = run(ctx, []string{"import", "-", "-database-url=" + url}, &out, &errb)
	os.Stdin = stdin
	if code != 0 {
		t.Fatalf("good file: exit %d: %s", code, &errb)
	}
}

func TestImportUsage(t *testing.T) {
	for _, args := range [][]string{
		{"import"},
		{"import", "a.jsonl", "b.jsonl"},
		{"import", filepath.Join(t.TempDir(), "missing.jsonl")},
		{"import", "-", "-batch", "0"},
		{"import", "-", "-max-line=10"},
		{"import", "-", "-no-such-flag"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, &errb)
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"help", "import"}, &out, io.Discard); code != 0 || !strings.Contains(out.String(), "JSON Lines") {
		t.Fatalf("help import: %d %s", code, &out)
	}
}

// TestImportMillion imports 1,000,000 generated applications through a pipe (no file on disk)
// and reports lines/s and the peak heap. It takes minutes: run it with KEZEKBOT_BIG=1.
func TestImportMillion(t *testing.T) {
	if os.Getenv("KEZEKBOT_BIG") != "1" {
		t.Skip("set KEZEKBOT_BIG=1 to import 1,000,000 applications")
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("KEZEKBOT_BIG_N")); err == nil && v > 0 {
		n = v // a shorter run while tuning
	}
	db := pgtest.New(t)
	pr, pw := io.Pipe()
	go func() {
		bw := bufioWriter(pw)
		for i := 0; i < n; i++ {
			b, _ := json.Marshal(citytest.Snapshot(i, 1))
			bw.Write(b)
			bw.WriteByte('\n')
		}
		bw.Flush()
		pw.Close()
	}()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	var report bytes.Buffer
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	st, err := importSnapshots(context.Background(), db, pr, importOptions{Batch: importBatch, MaxLine: importMaxLine, Report: &report})
	close(stop)
	<-sampled
	if err != nil || st.Bad != 0 || st.Written != n {
		t.Fatalf("%+v, %v\n%s", st, err, report.String())
	}
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	pgCPU := backendCPU(t, db)
	var load string
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	// The generator runs in this process too: its CPU is part of cpu.
	t.Logf("imported %d applications in %v: %.0f lines/s, peak heap in use %.1f MiB; this process's CPU %v (generator included), PostgreSQL backends' CPU %v; load average %s",
		n, st.Elapsed.Round(time.Second), st.rate(), float64(peak.Load())/(1<<20), cpu.Round(100*time.Millisecond), pgCPU.Round(100*time.Millisecond), load)
}

func bufioWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 1<<16) }

// backendCPU sums the CPU time of the pool's PostgreSQL backends since they started (from
// /proc: the server runs on this machine in tests); 0 when it cannot be read.
func backendCPU(t *testing.T, db interface{ Pool() *pgxpool.Pool }) time.Duration {
	conns := db.Pool().AcquireAllIdle(context.Background())
	var total time.Duration
	for _, c := range conns {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Conn().PgConn().PID()))
		c.Release()
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.Atoi(f[11])                          // utime, field 14 of stat
		st, _ := strconv.Atoi(f[12])                          // stime
		total += time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
	}
	return total
}
