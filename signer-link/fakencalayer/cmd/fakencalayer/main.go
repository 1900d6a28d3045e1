// Command fakencalayer runs the fake NCALayer for the sandbox: it creates a test CA, writes
// its certificates to a trust directory for the bot's verifier, issues a test parent's AUTH
// and SIGN keys for an IIN, and serves the NCALayer protocol on a loopback WebSocket until
// interrupted. Point the bot's signing page at the printed URL. TEST KEYS, NOT REAL.
//
//	fakencalayer -trust-dir /tmp/kz-trust -iin 900506401231 -addr 127.0.0.1:13580
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/kezekbot/kezekbot/signer-link/fakencalayer"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakencalayer:", err)
		os.Exit(1)
	}
}

var modes = map[string]fakencalayer.Mode{
	"sign":     fakencalayer.Sign,
	"cancel":   fakencalayer.Cancel,
	"wrongkey": fakencalayer.WrongKey,
	"legacy":   fakencalayer.LegacyOnly,
	"silent":   fakencalayer.Silent,
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:13580", "loopback address to listen on (the real NCALayer uses 13579)")
	iin := flag.String("iin", xmlsigtest.DefaultIIN, "IIN of the test parent's keys")
	trustDir := flag.String("trust-dir", "", "write the test CA's certificates here, for the bot's trust directory (required)")
	modeName := flag.String("mode", "sign", "sign, cancel, wrongkey, legacy or silent")
	flag.Parse()
	mode, ok := modes[*modeName]
	if !ok {
		return fmt.Errorf("unknown -mode %q", *modeName)
	}
	if *trustDir == "" {
		return fmt.Errorf("-trust-dir is required: the bot must trust the CA that issues the fake keys")
	}
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*trustDir, 0o755); err != nil {
		return fmt.Errorf("create trust dir: %w", err)
	}
	if err := ca.WriteTrustDir(*trustDir); err != nil {
		return fmt.Errorf("write trust dir: %w", err)
	}
	auth, err := ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth, IIN: *iin})
	if err != nil {
		return err
	}
	sign, err := ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign, IIN: *iin})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := fakencalayer.Start(ctx, fakencalayer.Options{Auth: auth, Sign: sign, Mode: mode, Addr: *addr, Logger: log})
	if err != nil {
		return err
	}
	log.Info("fake NCALayer listening; set the signing page's NCALayer URL to it",
		slog.String("url", s.URL()), slog.String("trust_dir", *trustDir), slog.String("mode", *modeName))
	<-s.Done()
	return nil
}
