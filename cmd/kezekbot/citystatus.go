package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/kezekbot/kezekbot/city"
	citysync "github.com/kezekbot/kezekbot/city/sync"
	"github.com/kezekbot/kezekbot/store/postgres"
)

func init() {
	citySubcommands["status"] = command{"revocations waiting for the city, change-feed lag, whether the city answers; exit 1 when something is wrong", runCityStatus}
}

// cityStatus is what `kezekbot city status` found.
type cityStatus struct {
	queue     postgres.CommandQueue
	lastApply time.Time
	cursor    string
	reachErr  error // nil: the city answered
	checked   bool  // the city was asked (a URL is configured)
}

// runCityStatus prints the revocations not yet answered by the city (with their age and last
// error), the change feed's lag and the city's reachability. It exits 1 when a revocation is
// older than KEZEKBOT_CITY_GIVE_UP_NOTICE or the city does not answer.
func runCityStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("city status", flag.ContinueOnError)
	limit := fs.Int("limit", 20, "how many waiting revocations to list")
	if wantsHelp(args) {
		return printFlags(fs, stdout, "kezekbot city status [flags]: the revocations waiting for the city, the change feed's lag and whether the city answers.\nExit 0 when all is well, 1 when a revocation waits longer than KEZEKBOT_CITY_GIVE_UP_NOTICE or the city does not answer.")
	}
	cfg, err := loadConfig(fs, args, os.Getenv)
	if err != nil {
		return exitCode(stderr, "city status", err)
	}
	db, err := postgres.Open(ctx, string(cfg.DatabaseURL))
	if err != nil {
		return exitCode(stderr, "city status", fmt.Errorf("open PostgreSQL: %w", err))
	}
	defer db.Close()
	st, err := gatherCityStatus(ctx, cfg, db, *limit)
	if err != nil {
		return exitCode(stderr, "city status", err)
	}
	if ok := printCityStatus(stdout, st, cfg.City.GiveUpNotice, time.Now()); !ok {
		return 1
	}
	return 0
}

func gatherCityStatus(ctx context.Context, cfg *Config, db *postgres.DB, limit int) (cityStatus, error) {
	var st cityStatus
	var err error
	if st.queue, err = db.OpenCommands(ctx, limit); err != nil {
		return st, err
	}
	if st.lastApply, err = db.LastChangeAt(ctx); err != nil {
		return st, err
	}
	if st.cursor, err = db.Cursor(ctx, citysync.DefaultSource); err != nil {
		return st, err
	}
	if cfg.City.URL == "" {
		return st, nil
	}
	client, err := city.NewClient(city.Config{BaseURL: cfg.City.URL, Token: string(cfg.City.Token),
		CertFile: cfg.City.CertFile, KeyFile: cfg.City.KeyFile, CAFile: cfg.City.CAFile})
	if err != nil {
		return st, usagef("KEZEKBOT_CITY_URL: %v", err)
	}
	// Reading one change after the stored cursor is the one request that carries no personal
	// input and changes nothing.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, st.reachErr = client.Changes(cctx, st.cursor, 1)
	st.checked = true
	return st, nil
}

// printCityStatus writes the report and returns whether all is well.
func printCityStatus(w io.Writer, st cityStatus, giveUp time.Duration, now time.Time) bool {
	ok := true
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	switch {
	case !st.checked:
		fmt.Fprintln(tw, "city\tnot configured (KEZEKBOT_CITY_URL)")
	case st.reachErr == nil:
		fmt.Fprintln(tw, "city\treachable")
	default:
		ok = false
		fmt.Fprintf(tw, "city\tNOT REACHABLE: %s\n", cityErrText(st.reachErr))
	}
	if st.lastApply.IsZero() {
		fmt.Fprintln(tw, "change feed\tno change applied yet")
	} else {
		fmt.Fprintf(tw, "change feed\tlast change applied %s ago\n", now.Sub(st.lastApply).Round(time.Second))
	}
	fmt.Fprintf(tw, "revocations waiting\t%d\n", st.queue.Depth)
	if st.queue.Depth > 0 {
		age := now.Sub(st.queue.Oldest)
		fmt.Fprintf(tw, "oldest waiting\t%s\n", age.Round(time.Second))
		if age > giveUp {
			ok = false
		}
	}
	_ = tw.Flush()
	if len(st.queue.Open) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "COMMAND\tSTATE\tAGE\tATTEMPTS\tLAST ERROR")
		for _, c := range st.queue.Open {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", c.ID, c.State, now.Sub(c.CreatedAt).Round(time.Second), c.Attempts, c.LastError)
		}
		_ = tw.Flush()
	}
	if ok {
		fmt.Fprintln(w, "\nOK")
	} else {
		fmt.Fprintln(w, "\nNOT OK")
	}
	return ok
}

func cityErrText(err error) string {
	if u, ok := errors.AsType[*city.Unavailable](err); ok {
		return u.Error()
	}
	return err.Error()
}
