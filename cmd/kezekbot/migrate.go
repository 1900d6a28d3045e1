package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/kezekbot/kezekbot/store/postgres"
)

func init() {
	commands["migrate"] = command{"apply the database migrations (run before a rollout)", runMigrate}
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	downTo := fs.Int64("down-to", -1, fmt.Sprintf("undo the migrations newer than this version instead (rollback; ≥ %d; see deployments/README.md)", postgres.OldestDownTarget))
	if wantsHelp(args) {
		return printFlags(fs, stdout, "kezekbot migrate [flags]: apply every pending migration to KEZEKBOT_DATABASE_URL.")
	}
	cfg, err := loadConfig(fs, args, os.Getenv)
	if err != nil {
		return exitCode(stderr, "migrate", err)
	}
	if *downTo != -1 && *downTo < postgres.OldestDownTarget {
		return exitCode(stderr, "migrate", usagef("-down-to %d: refusing to go below %d (that drops the audit trail or the broadcasts; restore a backup instead)", *downTo, postgres.OldestDownTarget))
	}
	db, err := postgres.Open(ctx, string(cfg.DatabaseURL))
	if err != nil {
		return exitCode(stderr, "migrate", fmt.Errorf("open database: %w", err))
	}
	defer db.Close()
	if *downTo >= 0 {
		undone, err := db.MigrateDownTo(ctx, *downTo)
		for _, v := range undone {
			fmt.Fprintf(stdout, "undid migration %d\n", v)
		}
		if err != nil {
			return exitCode(stderr, "migrate", err)
		}
	} else if err := db.Migrate(ctx); err != nil {
		return exitCode(stderr, "migrate", err)
	}
	v, err := db.MigrationVersion(ctx)
	if err != nil {
		return exitCode(stderr, "migrate", err)
	}
	fmt.Fprintf(stdout, "database at migration %d\n", v)
	return 0
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

// printFlags prints a subcommand's usage line and every flag with its environment variable.
func printFlags(fs *flag.FlagSet, w io.Writer, usage string) int {
	if fs.Lookup("database-url") == nil {
		_, _ = loadConfig(fs, nil, func(string) string { return "" })
	}
	fmt.Fprintln(w, usage)
	fmt.Fprintln(w)
	fs.SetOutput(w)
	fs.PrintDefaults()
	return 0
}
