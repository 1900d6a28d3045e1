package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/audience"
	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/store/postgres"
)

func init() {
	commands["broadcast"] = command{"create, follow, stop and resume staff broadcasts; import events", runBroadcast}
	commands["staff"] = command{"add, remove and list staff (Telegram users allowed to broadcast)", runStaff}
}

const broadcastUsage = `usage:
  kezekbot broadcast create [audience] (--text-ru TEXT | --text-kk TEXT ...) [--paid] [--dry-run] [--wait]
      audience (all bound parents when none is given; several are combined):
        --kindergarten ID   parents with an active or used referral to this kindergarten
        --status STATUS     queued, referral_issued, enrolled or removed
        --birth-years Y[-Y] the children's birth year(s)
        --apps N1,N2,...    application numbers; --apps-file FILE reads them from a file (- = stdin)
  kezekbot broadcast list [--limit N]
  kezekbot broadcast show|stop|resume ID
  kezekbot broadcast wait ID          follow the progress until it is done or stopped
  kezekbot broadcast events FILE|-    import events (a JSON array or {"events": [...]}) for notification

The database is KEZEKBOT_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test). Running
bot replicas deliver the broadcast; this command only creates and watches it.`

// cliDB opens the database named by KEZEKBOT_DATABASE_URL.
func cliDB(ctx context.Context) (*postgres.DB, error) {
	url := cmp.Or(os.Getenv("KEZEKBOT_DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/test")
	db, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// cliFail prints one line and returns the exit code: 2 for bad input, 1 otherwise.
func cliFail(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "kezekbot %s: %v\n", name, err)
	var u *usageError
	if errors.As(err, &u) || kezekbot.ErrorCode(err) == kezekbot.EINVALID {
		return 2
	}
	return 1
}

func runBroadcast(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, broadcastUsage)
		return 2
	}
	if wantsHelp(args[:1]) {
		fmt.Fprintln(stdout, broadcastUsage)
		return 0
	}
	sub, rest := args[0], args[1:]
	name := "broadcast " + sub
	switch sub {
	case "create":
		return broadcastCreate(ctx, rest, stdout, stderr)
	case "list":
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		limit := fs.Int("limit", 20, "how many, newest first")
		if err := fs.Parse(rest); err != nil || fs.NArg() != 0 || *limit < 1 || *limit > 1000 {
			return cliFail(stderr, name, usagef("usage: kezekbot broadcast list [--limit 1..1000]"))
		}
		return withDB(ctx, stderr, name, func(db *postgres.DB) error {
			bs, err := db.ListBroadcasts(ctx, *limit)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-6s %-8s %-7s %8s %8s %7s %8s  %s\n", "ID", "STATE", "SOURCE", "TOTAL", "SENT", "FAILED", "BLOCKED", "AUDIENCE")
			for _, b := range bs {
				fmt.Fprintf(stdout, "%-6d %-8s %-7s %8d %8d %7d %8d  %s\n", b.ID, b.State, b.Source, b.Total, b.Sent, b.Failed, b.Blocked, b.Audience)
			}
			return nil
		})
	case "show", "stop", "resume", "wait":
		if len(rest) != 1 {
			return cliFail(stderr, name, usagef("usage: kezekbot broadcast %s ID", sub))
		}
		id, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil || id <= 0 {
			return cliFail(stderr, name, usagef("broadcast id must be a positive number, got %q", rest[0]))
		}
		return withDB(ctx, stderr, name, func(db *postgres.DB) error {
			var b postgres.Broadcast
			var err error
			switch sub {
			case "show":
				b, err = db.GetBroadcast(ctx, id)
			case "stop":
				b, err = db.StopBroadcast(ctx, id)
			case "resume":
				b, err = db.ResumeBroadcast(ctx, id)
			case "wait":
				return follow(ctx, db, id, stdout)
			}
			if err != nil {
				return err
			}
			return printJSON(stdout, b)
		})
	case "events":
		if len(rest) != 1 {
			return cliFail(stderr, name, usagef("usage: kezekbot broadcast events FILE|-"))
		}
		body, err := readInput(rest[0])
		if err != nil {
			return cliFail(stderr, name, err)
		}
		evs, err := broadcast.ParseEvents(body)
		if err != nil {
			return cliFail(stderr, name, err)
		}
		return withDB(ctx, stderr, name, func(db *postgres.DB) error {
			n, err := db.ImportEvents(ctx, evs)
			if err == nil {
				fmt.Fprintf(stdout, "imported %d events\n", n)
			}
			return err
		})
	}
	return cliFail(stderr, "broadcast", usagef("unknown subcommand %q; try `kezekbot broadcast -h`", sub))
}

func withDB(ctx context.Context, stderr io.Writer, name string, f func(*postgres.DB) error) int {
	db, err := cliDB(ctx)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	defer db.Close()
	if err := f(db); err != nil {
		return cliFail(stderr, name, err)
	}
	return 0
}

func readInput(path string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("%v", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, broadcast.MaxAPIBody+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > broadcast.MaxAPIBody {
		return nil, usagef("%s is larger than %d bytes", path, broadcast.MaxAPIBody)
	}
	return b, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func broadcastCreate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "broadcast create"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		kg       = fs.Int64("kindergarten", 0, "kindergarten id")
		status   = fs.String("status", "", "application status")
		years    = fs.String("birth-years", "", "birth year or range")
		apps     = fs.String("apps", "", "application numbers, comma separated")
		appsFile = fs.String("apps-file", "", "file with application numbers (- = stdin)")
		textRU   = fs.String("text-ru", "", "text in Russian")
		textKK   = fs.String("text-kk", "", "text in Kazakh")
		paid     = fs.Bool("paid", false, "send with allow_paid_broadcast (up to 1000/s, billed in Stars)")
		dryRun   = fs.Bool("dry-run", false, "only count the recipients")
		wait     = fs.Bool("wait", false, "follow the progress until done")
		_        = fs.Bool("all", false, "all bound parents (the default)")
	)
	if err := fs.Parse(args); err != nil {
		return cliFail(stderr, name, usagef("%v; try `kezekbot broadcast -h`", err))
	}
	if fs.NArg() != 0 {
		return cliFail(stderr, name, usagef("unexpected argument %q", fs.Arg(0)))
	}
	// Say it in this command's words: the request's own error names its JSON fields.
	if strings.TrimSpace(*textRU) == "" && strings.TrimSpace(*textKK) == "" {
		return cliFail(stderr, name, usagef("--text-ru or --text-kk is required (the message in Russian and/or Kazakh); see `kezekbot broadcast -h`"))
	}
	req := broadcast.BroadcastRequest{TextRU: *textRU, TextKK: *textKK, Paid: *paid, DryRun: *dryRun,
		Audience: audience.Audience{KindergartenID: *kg, Status: kezekbot.Status(*status)}}
	if *years != "" {
		from, to, err := audience.ParseYears(*years)
		if err != nil {
			return cliFail(stderr, name, usagef("--birth-years: %v", kezekbot.ErrorMessage(err)))
		}
		req.Audience.YearFrom, req.Audience.YearTo = from, to
	}
	list := *apps
	if *appsFile != "" {
		b, err := readInput(*appsFile)
		if err != nil {
			return cliFail(stderr, name, err)
		}
		list += "\n" + string(b)
	}
	if strings.TrimSpace(list) != "" {
		ns, err := audience.ParseNumbers(list)
		if err != nil {
			return cliFail(stderr, name, usagef("--apps: %v", kezekbot.ErrorMessage(err)))
		}
		req.Audience.Numbers = ns
	}
	if err := req.Validate(); err != nil {
		return cliFail(stderr, name, usagef("%s", kezekbot.ErrorMessage(err)))
	}
	return withDB(ctx, stderr, name, func(db *postgres.DB) error {
		if req.DryRun {
			n, err := db.CountAudience(ctx, req.Audience)
			if err == nil {
				fmt.Fprintf(stdout, "%d recipients\n", n)
			}
			return err
		}
		b, err := db.CreateBroadcast(ctx, postgres.NewBroadcast{Source: postgres.SourceCLI, Audience: req.Audience,
			TextRU: req.TextRU, TextKK: req.TextKK, Paid: req.Paid})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "broadcast %d created: %d recipients\n", b.ID, b.Total)
		if *wait {
			return follow(ctx, db, b.ID, stdout)
		}
		return nil
	})
}

// follow shows a broadcast's progress until it is done or stopped: a bar redrawn in place on
// a terminal, a line every few seconds otherwise (a log file, CI).
func follow(ctx context.Context, db *postgres.DB, id int64, w io.Writer) error {
	tty := isTerminal(w)
	every := time.Second
	if !tty {
		every = 5 * time.Second
	}
	prevAt, prevDone := time.Now(), -1
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		b, err := db.GetBroadcast(ctx, id)
		if err != nil {
			return err
		}
		now := time.Now()
		rate := 0.0
		if prevDone >= 0 {
			rate = float64(b.Done()-prevDone) / now.Sub(prevAt).Seconds()
		}
		prevAt, prevDone = now, b.Done()
		line := progressLine(b, rate)
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(w, line)
		}
		if b.State != postgres.BroadcastRunning {
			if tty {
				fmt.Fprintln(w)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(w)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

func progressLine(b postgres.Broadcast, rate float64) string {
	const width = 30
	frac := 1.0
	if b.Total > 0 {
		frac = float64(b.Done()) / float64(b.Total)
	}
	filled := int(frac * width)
	eta := "-"
	if rate > 0 && b.State == postgres.BroadcastRunning {
		eta = (time.Duration(float64(b.Remaining())/rate) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("[%s%s] %3.0f%%  sent %d  failed %d  blocked %d  remaining %d  %.1f/s  ETA %s  (%s)",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100,
		b.Sent, b.Failed, b.Blocked, b.Remaining(), rate, eta, b.State)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
