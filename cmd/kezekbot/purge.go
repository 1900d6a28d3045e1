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

	"github.com/kezekbot/kezekbot/retention"
	"github.com/kezekbot/kezekbot/store/postgres"
)

func init() {
	commands["purge"] = command{"delete rows past their retention periods (--dry-run: count them)", runPurge}
}

func runPurge(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	dry := fs.Bool("dry-run", false, "count what would be deleted and show the cut-off times; change nothing")
	if wantsHelp(args) {
		return printFlags(fs, stdout, "kezekbot purge [--dry-run] [flags]: delete what is past its KEZEKBOT_RETAIN_* period, in batches, under the lease the replicas share. Exit 0 done, 1 failed or another purge is running, 2 bad settings.")
	}
	cfg, err := loadConfig(fs, args, os.Getenv)
	if err != nil {
		return exitCode(stderr, "purge", err)
	}
	db, err := postgres.Open(ctx, string(cfg.DatabaseURL))
	if err != nil {
		return exitCode(stderr, "purge", fmt.Errorf("open database: %w", err))
	}
	defer db.Close()
	if v, err := db.MigrationVersion(ctx); err != nil {
		return exitCode(stderr, "purge", err)
	} else if v < purgeMigration {
		return exitCode(stderr, "purge", fmt.Errorf("the database is at migration %d and the purge needs %d: run `kezekbot migrate` first", v, purgeMigration))
	}
	p := cfg.purger(db, nil)
	var counts []postgres.PurgeCount
	if *dry {
		counts, err = p.DryRun(ctx)
	} else {
		// A manual purge ignores the interval but not the lease: it never runs beside a
		// replica's.
		counts, err = p.Once(ctx, 0)
		if errors.Is(err, retention.ErrBusy) {
			if owner, until, herr := db.PurgeLeaseHolder(ctx); herr == nil && owner != "" {
				err = fmt.Errorf("%w (%s, until %s); try again later", err, owner, until.UTC().Format(time.RFC3339))
			}
		}
	}
	if err == nil || !*dry {
		// After a failed purge the counts say what was deleted before it failed.
		printPurge(stdout, counts, *dry, cfg.retention.Periods)
	}
	return exitCode(stderr, "purge", err)
}

// purgeMigration is the migration that made the purge's indexes and lease (00015_retention.sql).
const purgeMigration = 15

// purger is the purge as configured, on db; log may be nil.
func (c *Config) purger(db *postgres.DB, a *app) *retention.Purger {
	p := &retention.Purger{Store: db, Periods: c.retention.Periods, Batch: c.retention.PurgeBatch, Owner: c.WorkerName, Now: db.Now}
	if a != nil {
		p.Log = a.log.With("component", "purge")
	}
	return p
}

func printPurge(w io.Writer, counts []postgres.PurgeCount, dry bool, p retention.Periods) {
	if len(counts) == 0 {
		return
	}
	period := map[string]time.Duration{
		postgres.PurgeNotifications: p.Notifications, postgres.PurgeDeliveries: p.Deliveries,
		postgres.PurgeOutbox: p.Outbox, postgres.PurgeCommands: p.Commands,
		postgres.PurgeChanges: p.Changes, postgres.PurgeAudit: p.Evidence,
	}
	verb := "deleted"
	if dry {
		verb = "would delete"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "table\tkept\tolder than (UTC)\t%s\n", verb)
	var total int64
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", c.Kind, formatPeriod(period[c.Kind]), c.Cutoff.UTC().Format(time.RFC3339), c.Rows)
		total += c.Rows
	}
	_ = tw.Flush()
	if dry {
		fmt.Fprintf(w, "dry run: %d rows would go; nothing was changed\n", total)
	} else {
		fmt.Fprintf(w, "%d rows deleted\n", total)
	}
}

// formatPeriod prints d as the settings write it: years, days or a duration.
func formatPeriod(d time.Duration) string {
	switch {
	case d >= retention.Year && d%retention.Year == 0:
		return fmt.Sprintf("%dy", d/retention.Year)
	case d >= retention.Day && d%retention.Day == 0:
		return fmt.Sprintf("%dd", d/retention.Day)
	}
	return d.String()
}
