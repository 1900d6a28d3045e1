package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/store/postgres"
)

func init() {
	commands["import"] = command{"load the city's applications into the mirror from JSON Lines (FILE or - for stdin)", runImport}
}

// Defaults of kezekbot import.
const (
	importBatch   = 1000
	importMaxLine = 1 << 20
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	batch := fs.Int("batch", importBatch, "applications written per transaction (1-10000)")
	maxLine := fs.Int("max-line", importMaxLine, "longest line accepted, in bytes; a longer line is a bad line")
	noProgress := fs.Bool("no-progress", false, "no progress line on stderr even when it is a terminal")
	if wantsHelp(args) {
		return printFlags(fs, stdout, `kezekbot import FILE|- [flags]: load city application snapshots (JSON Lines, one
application a line in the shape of api/queue.yaml's Application, with its referrals, history
and documents) into the mirror. Idempotent: a snapshot not newer than the stored revision
changes nothing. Bad lines are reported by number on stderr and skipped; the good ones are
applied. Exit 0: all lines good; 1: some line was bad (or the database failed); 2: usage.`)
	}
	file, rest, err := splitFileArg(args, map[string]bool{"migrate": true, "no-progress": true})
	if err != nil {
		return exitCode(stderr, "import", err)
	}
	cfg, err := loadConfig(fs, rest, os.Getenv)
	if err != nil {
		return exitCode(stderr, "import", err)
	}
	if *batch < 1 || *batch > 10000 {
		return exitCode(stderr, "import", usagef("-batch: want 1 to 10000, got %d", *batch))
	}
	if *maxLine < 1024 || *maxLine > 64<<20 {
		return exitCode(stderr, "import", usagef("-max-line: want 1024 to %d bytes, got %d", 64<<20, *maxLine))
	}
	in := io.Reader(os.Stdin)
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return exitCode(stderr, "import", usagef("cannot open %s: %v", file, errors.Unwrap(err)))
		}
		defer f.Close()
		in = f
	}
	db, err := postgres.Open(ctx, string(cfg.DatabaseURL))
	if err != nil {
		return exitCode(stderr, "import", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return exitCode(stderr, "import", err)
	}
	opts := importOptions{Batch: *batch, MaxLine: *maxLine, Report: stderr}
	if !*noProgress && isTerminal(stderr) {
		opts.Progress = stderr
	}
	st, err := importSnapshots(ctx, db, in, opts)
	fmt.Fprintf(stdout, "import: %d lines, %d applications written, %d unchanged (not newer), %d bad, %.0f lines/s\n",
		st.Lines, st.Written, st.Unchanged, st.Bad, st.rate())
	if err != nil {
		fmt.Fprintf(stderr, "kezekbot import: stopped after line %d: %v\n", st.Lines, err)
		return 1
	}
	if st.Bad > 0 {
		return 1
	}
	return 0
}

// splitFileArg takes the one positional argument (FILE or -) out of args, wherever it is
// among the flags. bools names the flags that take no value.
func splitFileArg(args []string, bools map[string]bool) (string, []string, error) {
	var file string
	found := false
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-" || !strings.HasPrefix(a, "-") {
			if found {
				return "", nil, usagef("one FILE (or - for stdin) is expected, got %q too", a)
			}
			file, found = a, true
			continue
		}
		rest = append(rest, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && !bools[name] && i+1 < len(args) {
			rest = append(rest, args[i+1]) // the flag's value
			i++
		}
	}
	if !found {
		return "", nil, usagef("FILE (or - for stdin) is required; see kezekbot help import")
	}
	return file, rest, nil
}

// snapshotWriter is what import needs of the store (*postgres.DB).
type snapshotWriter interface {
	UpsertSnapshots(ctx context.Context, snaps []city.Application, syncedAt time.Time) (int, error)
}

type importOptions struct {
	Batch   int
	MaxLine int
	// Report gets one line per bad line: its number and what was wrong, never a value.
	Report io.Writer
	// Progress, when set, gets a progress line redrawn in place (a terminal).
	Progress io.Writer
	// Now is the mirror's synced_at for the imported rows; default time.Now.
	Now func() time.Time
}

type importStats struct {
	Lines, Written, Unchanged, Bad int
	Elapsed                        time.Duration
}

func (s importStats) rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Lines) / s.Elapsed.Seconds()
}

// badLine is a line's number and what was wrong with it.
type badLine struct {
	line int
	msg  string
}

// parsedBatch is a batch of good snapshots with their line numbers, and the bad lines met
// while reading it (reported in order with the batch).
type parsedBatch struct {
	snaps []city.Application
	lines []int
	bad   []badLine
	upTo  int // lines read up to the end of this batch
}

// importSnapshots streams JSON Lines from r into w: one goroutine reads and checks lines while
// the caller's writes the previous batch, so parsing and the database overlap. Memory is
// bounded by MaxLine and three batches, whatever the input's length. A database error that is
// not about one snapshot (a connection lost) stops the import; one that is (a number clash
// with another application) is narrowed down to its lines by writing the batch one by one.
func importSnapshots(ctx context.Context, w snapshotWriter, r io.Reader, o importOptions) (importStats, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	start := time.Now()
	var st importStats
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan parsedBatch, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- readBatches(ctx, r, o, batches)
	}()
	var lastDraw time.Time
	for b := range batches {
		bad := b.bad
		if len(b.snaps) > 0 {
			n, err := w.UpsertSnapshots(ctx, b.snaps, o.Now())
			if err != nil && kezekbot.ErrorCode(err) == kezekbot.EINTERNAL {
				st.Lines, st.Elapsed = b.upTo-len(b.snaps), time.Since(start)
				return st, err
			}
			refused := 0
			if err != nil {
				n = 0
				for i, a := range b.snaps {
					k, err := w.UpsertSnapshots(ctx, []city.Application{a}, o.Now())
					switch {
					case err != nil && kezekbot.ErrorCode(err) == kezekbot.EINTERNAL:
						st.Lines, st.Elapsed = b.lines[i]-1, time.Since(start)
						return st, err
					case err != nil:
						refused++
						bad = append(bad, badLine{b.lines[i], "refused by the database: " + kezekbot.ErrorMessage(err)})
					default:
						n += k
					}
				}
			}
			st.Written += n
			st.Unchanged += len(b.snaps) - n - refused
		}
		slices.SortFunc(bad, func(x, y badLine) int { return x.line - y.line })
		for _, l := range bad {
			fmt.Fprintf(o.Report, "line %d: %s\n", l.line, l.msg)
		}
		st.Bad += len(bad)
		st.Lines = b.upTo
		if o.Progress != nil && time.Since(lastDraw) > 200*time.Millisecond {
			lastDraw = time.Now()
			el := time.Since(start).Seconds()
			fmt.Fprintf(o.Progress, "\r%12d lines %10.0f lines/s %8d bad ", st.Lines, float64(st.Lines)/el, st.Bad)
		}
	}
	if o.Progress != nil {
		fmt.Fprintln(o.Progress)
	}
	st.Elapsed = time.Since(start)
	if err := <-readErr; err != nil {
		return st, err
	}
	return st, nil
}

// readBatches reads lines into batches of good snapshots and reports of bad lines.
func readBatches(ctx context.Context, r io.Reader, o importOptions, out chan<- parsedBatch) error {
	br := bufio.NewReaderSize(r, o.MaxLine)
	b := parsedBatch{}
	send := func() bool {
		select {
		case out <- b:
			b = parsedBatch{snaps: make([]city.Application, 0, o.Batch), lines: make([]int, 0, o.Batch)}
			return true
		case <-ctx.Done():
			return false
		}
	}
	line := 0
	for {
		raw, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read line %d: %w", line+1, err)
		}
		if raw == nil && !tooLong && errors.Is(err, io.EOF) {
			break
		}
		line++
		b.upTo = line
		if tooLong {
			b.bad = append(b.bad, badLine{line, fmt.Sprintf("longer than %d bytes", o.MaxLine)})
		} else if len(bytes.TrimSpace(raw)) > 0 {
			a, problem := parseSnapshot(raw)
			if problem != "" {
				b.bad = append(b.bad, badLine{line, problem})
			} else {
				b.snaps, b.lines = append(b.snaps, a), append(b.lines, line)
			}
		}
		if (len(b.snaps) >= o.Batch || len(b.bad) >= o.Batch) && !send() {
			return ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if (len(b.snaps) > 0 || len(b.bad) > 0 || b.upTo > 0) && !send() {
		return ctx.Err()
	}
	return nil
}

// readLine returns the next line without its newline. A line longer than the reader's
// buffer is skipped to its end and reported as tooLong, so memory stays bounded. At the end
// of input it returns io.EOF (with the last line, if it had no newline).
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, true, err
		}
		return nil, true, err
	}
	if len(line) == 0 && err != nil {
		return nil, false, err
	}
	return bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'}), false, err
}

// parseSnapshot decodes and checks one line; problem says what is wrong without quoting a
// value.
func parseSnapshot(raw []byte) (city.Application, string) {
	var a city.Application
	if err := json.Unmarshal(raw, &a); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		var ke *kezekbot.Error
		switch {
		case errors.As(err, &te):
			return a, "field " + te.Field + " has the wrong type"
		case errors.As(err, &se):
			return a, "not a JSON object (malformed JSON)"
		case errors.As(err, &ke):
			return a, "invalid IIN" // ParseIIN's message may quote a digit
		}
		return a, "not an application snapshot"
	}
	if _, err := postgres.CheckSnapshot(a); err != nil {
		var ke *kezekbot.Error
		if errors.As(err, &ke) {
			return a, ke.Message
		}
		return a, err.Error()
	}
	return a, ""
}
