package main

import (
	"context"
	"fmt"
	"io"
	"sort"
)

// citySubcommands are the `kezekbot city …` subcommands, filled by the files that implement
// them (citystatus.go: status), like commands.
var citySubcommands = map[string]command{}

func init() {
	commands["city"] = command{"the city's queue system: status (and the other city tools)", runCity}
}

func runCity(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	names := make([]string, 0, len(citySubcommands))
	for n := range citySubcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || wantsHelp(args[:1]) {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprintln(w, "Usage: kezekbot city <subcommand> [flags]\n\nSubcommands:")
		for _, n := range names {
			fmt.Fprintf(w, "  %-8s %s\n", n, citySubcommands[n].summary)
		}
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := citySubcommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "kezekbot city: unknown subcommand %q; try `kezekbot city -h`\n", args[0])
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}
