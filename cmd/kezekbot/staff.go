package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/kezekbot/kezekbot/store/postgres"
)

const staffUsage = `usage:
  kezekbot staff add USER_ID operator|admin [--lang kk|ru] [--note TEXT]
  kezekbot staff remove USER_ID
  kezekbot staff list

USER_ID is the staff member's numeric Telegram user id. The database is KEZEKBOT_DATABASE_URL.`

func runStaff(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, staffUsage)
		return 2
	}
	if wantsHelp(args[:1]) {
		fmt.Fprintln(stdout, staffUsage)
		return 0
	}
	sub, rest := args[0], args[1:]
	name := "staff " + sub
	switch sub {
	case "add":
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		lang := fs.String("lang", "ru", "kk or ru")
		note := fs.String("note", "", "who this is, for other admins (no IINs)")
		pos, err := parseInterspersed(fs, rest)
		if err != nil || len(pos) != 2 {
			return cliFail(stderr, name, usagef("usage: kezekbot staff add USER_ID operator|admin [--lang kk|ru] [--note TEXT]"))
		}
		id, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || id <= 0 {
			return cliFail(stderr, name, usagef("USER_ID must be a positive number, got %q", pos[0]))
		}
		if pos[1] != postgres.RoleOperator && pos[1] != postgres.RoleAdmin {
			return cliFail(stderr, name, usagef("role must be operator or admin, got %q", pos[1]))
		}
		if *lang != "kk" && *lang != "ru" {
			return cliFail(stderr, name, usagef("--lang must be kk or ru"))
		}
		return withDB(ctx, stderr, name, func(db *postgres.DB) error {
			m, err := db.AddStaff(ctx, postgres.StaffMember{UserID: id, Role: pos[1], Lang: *lang, Note: *note})
			if err == nil {
				fmt.Fprintf(stdout, "staff %d is %s (%s)\n", m.UserID, m.Role, m.Lang)
			}
			return err
		})
	case "remove":
		if len(rest) != 1 {
			return cliFail(stderr, name, usagef("usage: kezekbot staff remove USER_ID"))
		}
		id, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil || id <= 0 {
			return cliFail(stderr, name, usagef("USER_ID must be a positive number, got %q", rest[0]))
		}
		return withDB(ctx, stderr, name, func(db *postgres.DB) error {
			err := db.RemoveStaff(ctx, id)
			if err == nil {
				fmt.Fprintf(stdout, "staff %d removed\n", id)
			}
			return err
		})
	case "list":
		if len(rest) != 0 {
			return cliFail(stderr, name, usagef("usage: kezekbot staff list"))
		}
		return withDB(ctx, stderr, name, func(db *postgres.DB) error {
			ms, err := db.ListStaff(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-14s %-9s %-4s %-20s %s\n", "USER_ID", "ROLE", "LANG", "ADDED", "NOTE")
			for _, m := range ms {
				fmt.Fprintf(stdout, "%-14d %-9s %-4s %-20s %s\n", m.UserID, m.Role, m.Lang, m.AddedAt.UTC().Format("2006-01-02 15:04"), m.Note)
			}
			return nil
		})
	}
	return cliFail(stderr, "staff", usagef("unknown subcommand %q; try `kezekbot staff -h`", sub))
}

// parseInterspersed parses flags that may come before, between or after the positional
// arguments ("add 42 admin --lang kk").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
