package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kezekbot/kezekbot/store/postgres"
)

func init() {
	commands["seed"] = command{"load demo data (--demo): Astana kindergartens, parents, applications, referrals", runSeed}
}

func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	demo := fs.Bool("demo", false, "load the demo data set (required; it is the only one)")
	if wantsHelp(args) {
		return printFlags(fs, stdout, "kezekbot seed --demo [flags]: migrate, then load (or refresh) the demo data. Referral times are relative to now.")
	}
	cfg, err := loadConfig(fs, args, os.Getenv)
	if err != nil {
		return exitCode(stderr, "seed", err)
	}
	if !*demo {
		return exitCode(stderr, "seed", usagef("--demo is required: it is the only data set, and it replaces earlier demo rows"))
	}
	// A running sandbox owns its demo data: refreshing it underneath would bring back what the
	// sandbox's user revoked.
	lock, err := lockSandbox(ctx, string(cfg.DatabaseURL))
	if err != nil {
		return exitCode(stderr, "seed", err)
	}
	defer lock.release()
	n, err := seedDemo(ctx, string(cfg.DatabaseURL), time.Now())
	if err != nil {
		return exitCode(stderr, "seed", err)
	}
	fmt.Fprintf(stdout, "demo data loaded: %d parents; try `make run` and /start as one of them\n", n)
	return 0
}

func seedDemo(ctx context.Context, url string, now time.Time) (int, error) {
	db, err := postgres.Open(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return 0, err
	}
	if err := db.Seed(ctx, now); err != nil {
		return 0, err
	}
	return len(postgres.DemoParents), nil
}
