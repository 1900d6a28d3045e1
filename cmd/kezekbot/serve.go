package main

import (
	"context"
	"flag"
	"io"
	"net"
	"os"
)

func init() {
	commands["serve"] = command{"run the bot (polling or webhook), the signing pages, /healthz, /readyz and /metrics", runServe}
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if wantsHelp(args) {
		return printFlags(fs, stdout, "kezekbot serve [flags]: run the bot against Telegram. Needs a token and a trust dir; see README.md.")
	}
	cfg, err := loadConfig(fs, args, os.Getenv)
	if err == nil {
		err = cfg.validateServe()
	}
	if err != nil {
		return exitCode(stderr, "serve", err)
	}
	tuneGC(os.Getenv)
	log := cfg.logger(stderr)
	a, err := newApp(ctx, appOptions{cfg: cfg, log: log})
	if err != nil {
		return exitCode(stderr, "serve", err)
	}
	defer a.close()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return exitCode(stderr, "serve", usagef("KEZEKBOT_HTTP_ADDR: %v", err))
	}
	if err := a.run(ctx, ln, a.workers()...); err != nil {
		return exitCode(stderr, "serve", err)
	}
	return 0
}

// workers are the background jobs of a replica besides taking updates (broadcast delivery,
// notifications, progress messages); each stops when its context ends.
func (a *app) workers() []func(context.Context) error {
	return append(a.replica.Workers(), a.background...)
}
