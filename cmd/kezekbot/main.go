// Command kezekbot is the one binary of the kindergarten-queue bot: the Telegram bot, the
// signing pages, the staff tools and a local sandbox. Run `kezekbot help` for the subcommands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run gets the arguments after the subcommand's name and returns
// the process exit code: 0 ok, 1 failure, 2 usage or configuration error.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands is filled by the files that implement them, so that each subcommand stays in its
// own file.
var commands = map[string]command{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "kezekbot: missing subcommand; try `kezekbot help`")
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return runHelp(rest, stdout, stderr)
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "kezekbot: unknown subcommand %q; try `kezekbot help`\n", name)
		return 2
	}
	return c.run(ctx, rest, stdout, stderr)
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if _, ok := commands[args[0]]; !ok {
			fmt.Fprintf(stderr, "kezekbot: unknown subcommand %q\n", args[0])
			return 2
		}
		return commands[args[0]].run(context.Background(), []string{"-h"}, stdout, stderr)
	}
	fmt.Fprintln(stdout, "kezekbot — the kindergarten queue of Astana in Telegram.\n\nUsage: kezekbot <subcommand> [flags]\n\nSubcommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(stdout, "  %-11s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(stdout, "  help        this text; `kezekbot help <subcommand>` for its flags\n\nEvery setting is a flag and a KEZEKBOT_* environment variable; see README.md.")
	return 0
}

// exitCode maps an error from a subcommand to the process exit code and prints it as one line.
func exitCode(stderr io.Writer, name string, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "kezekbot %s: %v\n", name, err)
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}
