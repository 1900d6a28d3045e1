package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot"
)

func init() {
	commands["webhook"] = command{
		summary: "register, remove or show the Telegram webhook (set|delete|info)",
		run:     runWebhook,
	}
}

// webhookAllowedUpdates are the update types serve handles. Asking Telegram for only these
// keeps it from sending (and us from acknowledging) updates nobody reads; it must match what
// the bot package dispatches.
var webhookAllowedUpdates = []string{"message", "edited_message", "callback_query", "my_chat_member"}

// webhookPorts are the only ports Telegram delivers webhooks to
// (https://core.telegram.org/bots/api#setwebhook); anything else is refused by Telegram with
// a less helpful message, so we refuse it first.
var webhookPorts = map[string]bool{"": true, "443": true, "80": true, "88": true, "8443": true}

const webhookUsage = `Usage: kezekbot webhook set|delete|info [flags]

  set     register KEZEKBOT_PUBLIC_URL + KEZEKBOT_WEBHOOK_PATH (or -url) with Telegram, with
          secret_token = KEZEKBOT_WEBHOOK_SECRET and allowed_updates = message,
          edited_message, callback_query, my_chat_member
  delete  remove the webhook (the bot can then be run in polling mode)
  info    print getWebhookInfo as JSON (pending updates, last error)

The token and the webhook secret are read only from KEZEKBOT_TELEGRAM_TOKEN and
KEZEKBOT_WEBHOOK_SECRET, never from flags, so that they do not show up in ps or shell history.

Flags (a flag wins over its environment variable):
`

// webhookOpts is what one run of the webhook command needs, resolved from flags and env.
type webhookOpts struct {
	action         string
	token          string
	apiURL         string
	url            string // set only
	secret         string // set only
	maxConnections int
	dropPending    bool
	timeout        time.Duration
}

// runWebhook implements `kezekbot webhook set|delete|info`. Exit codes: 0 done, 1 the Bot API
// call failed, 2 a missing or invalid setting or flag.
func runWebhook(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWebhookEnv(ctx, args, stdout, stderr, os.Getenv)
}

func runWebhookEnv(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	o, err := parseWebhookArgs(args, stdout, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return exitCode(stderr, "webhook", err)
	}
	return exitCode(stderr, "webhook "+o.action, redact(o.run(ctx, stdout, stderr), o.token))
}

func parseWebhookArgs(args []string, stdout io.Writer, getenv func(string) string) (*webhookOpts, error) {
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		apiURL    = fs.String("telegram-api-url", "", "Bot API base URL ($KEZEKBOT_TELEGRAM_API_URL, default https://api.telegram.org)")
		publicURL = fs.String("public-url", "", "public base URL of the bot ($KEZEKBOT_PUBLIC_URL)")
		path      = fs.String("webhook-path", "", "webhook path on the bot ($KEZEKBOT_WEBHOOK_PATH, default /telegram/webhook)")
		fullURL   = fs.String("url", "", "set: the whole webhook URL, instead of public URL + path")
		maxConn   = fs.Int("max-connections", 40, "set: most simultaneous webhook connections Telegram opens (1-100)")
		drop      = fs.Bool("drop-pending", false, "set, delete: drop the updates Telegram holds for the bot")
		timeout   = fs.Duration("timeout", 30*time.Second, "how long to wait for the Bot API")
	)
	printUsage := func() {
		fmt.Fprint(stdout, webhookUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}

	if len(args) == 0 {
		return nil, usagef("missing action: want set, delete or info (see kezekbot webhook -h)")
	}
	action := args[0]
	switch action {
	case "-h", "-help", "--help", "help":
		printUsage()
		return nil, flag.ErrHelp
	case "set", "delete", "info":
	default:
		return nil, usagef("unknown action %q: want set, delete or info", action)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage()
			return nil, err
		}
		return nil, usagef("%v (see kezekbot webhook -h)", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	pick := func(flagVal, env, def string) string {
		if flagVal != "" {
			return flagVal
		}
		if v := getenv(env); v != "" {
			return v
		}
		return def
	}

	o := &webhookOpts{action: action, dropPending: *drop, timeout: *timeout}
	if *timeout <= 0 {
		return nil, usagef("-timeout: want a positive duration, got %s", *timeout)
	}
	if given["drop-pending"] && action == "info" {
		return nil, usagef("-drop-pending: only set and delete drop pending updates")
	}

	o.token = getenv("KEZEKBOT_TELEGRAM_TOKEN")
	switch {
	case o.token == "":
		return nil, usagef("KEZEKBOT_TELEGRAM_TOKEN: not set; the bot token from @BotFather is required")
	case !tokenRe.MatchString(o.token):
		// The value is not echoed: a malformed token is still most of a token.
		return nil, usagef("KEZEKBOT_TELEGRAM_TOKEN: does not look like a bot token (<digits>:<20-100 of A-Z a-z 0-9 _ ->)")
	}
	u, err := parseHTTPURL(pick(*apiURL, "KEZEKBOT_TELEGRAM_API_URL", "https://api.telegram.org"))
	if err != nil {
		return nil, usagef("KEZEKBOT_TELEGRAM_API_URL (-telegram-api-url): %v", err)
	}
	// The library appends "/bot<token>/<method>" to the base; a trailing slash would double it.
	o.apiURL = strings.TrimRight(u.String(), "/")

	if action != "set" {
		if given["url"] || given["public-url"] || given["webhook-path"] || given["max-connections"] {
			return nil, usagef("-url, -public-url, -webhook-path and -max-connections apply to set only")
		}
		return o, nil
	}

	if *maxConn < 1 || *maxConn > 100 {
		return nil, usagef("-max-connections: Telegram accepts 1-100, got %d", *maxConn)
	}
	o.maxConnections = *maxConn

	o.secret = getenv("KEZEKBOT_WEBHOOK_SECRET")
	switch {
	case o.secret == "":
		return nil, usagef("KEZEKBOT_WEBHOOK_SECRET: not set; serve rejects webhook requests without it, so set it to the value the bots run with")
	case !webhookSecretRe.MatchString(o.secret):
		return nil, usagef("KEZEKBOT_WEBHOOK_SECRET: must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule for secret_token)")
	case len(o.secret) < minWebhookSecret: // serve refuses it too
		return nil, usagef("KEZEKBOT_WEBHOOK_SECRET: too short (%d characters); use at least %d, e.g. `openssl rand -hex 32`", len(o.secret), minWebhookSecret)
	}

	target := *fullURL
	source := "-url"
	if target == "" {
		base := pick(*publicURL, "KEZEKBOT_PUBLIC_URL", "")
		if base == "" {
			return nil, usagef("KEZEKBOT_PUBLIC_URL: not set; the webhook URL is the public URL plus KEZEKBOT_WEBHOOK_PATH (or give -url)")
		}
		p := pick(*path, "KEZEKBOT_WEBHOOK_PATH", "/telegram/webhook")
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " ?#") {
			return nil, usagef("KEZEKBOT_WEBHOOK_PATH (-webhook-path): want an absolute path like /telegram/webhook, got %q", p)
		}
		target = strings.TrimRight(base, "/") + p
		source = "KEZEKBOT_PUBLIC_URL (-public-url)"
	}
	wu, err := parseHTTPURL(target)
	switch {
	case err != nil:
		return nil, usagef("%s: %v", source, err)
	case wu.Scheme != "https":
		return nil, usagef("%s: Telegram delivers webhooks over HTTPS only, got %q", source, target)
	case !webhookPorts[wu.Port()]:
		return nil, usagef("%s: Telegram delivers webhooks to ports 443, 80, 88 and 8443 only, got %s", source, wu.Port())
	case wu.RawQuery != "" || wu.Fragment != "" || wu.User != nil:
		return nil, usagef("%s: want a URL without user info, query or fragment, got %q", source, target)
	}
	o.url = wu.String()
	return o, nil
}

func (o *webhookOpts) run(ctx context.Context, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	// The library reports some failures (closing its request pipe) through this handler from
	// its own goroutines; write them as lines, serialised, and without the token.
	var mu sync.Mutex
	b, err := bot.New(o.token,
		bot.WithSkipGetMe(), // one call is all we make; getMe would only double the round trips
		bot.WithServerURL(o.apiURL),
		bot.WithHTTPClient(o.timeout, &http.Client{Timeout: o.timeout}),
		bot.WithErrorsHandler(func(err error) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(stderr, "kezekbot webhook %s: bot api: %v\n", o.action, redact(err, o.token))
		}),
	)
	if err != nil {
		return fmt.Errorf("create bot api client: %w", err)
	}

	switch o.action {
	case "set":
		ok, err := b.SetWebhook(ctx, &bot.SetWebhookParams{
			URL:                o.url,
			MaxConnections:     o.maxConnections,
			AllowedUpdates:     webhookAllowedUpdates,
			DropPendingUpdates: o.dropPending,
			SecretToken:        o.secret,
		})
		if err != nil {
			return fmt.Errorf("setWebhook: %w", err)
		}
		if !ok {
			return errors.New("setWebhook: Telegram answered false")
		}
		pending := "kept"
		if o.dropPending {
			pending = "dropped"
		}
		fmt.Fprintf(stdout, "webhook set: %s (max_connections %d, allowed_updates %s, pending updates %s)\n",
			o.url, o.maxConnections, strings.Join(webhookAllowedUpdates, ","), pending)
	case "delete":
		ok, err := b.DeleteWebhook(ctx, &bot.DeleteWebhookParams{DropPendingUpdates: o.dropPending})
		if err != nil {
			return fmt.Errorf("deleteWebhook: %w", err)
		}
		if !ok {
			return errors.New("deleteWebhook: Telegram answered false")
		}
		pending := "kept"
		if o.dropPending {
			pending = "dropped"
		}
		fmt.Fprintf(stdout, "webhook deleted (pending updates %s)\n", pending)
	case "info":
		info, err := b.GetWebhookInfo(ctx)
		if err != nil {
			return fmt.Errorf("getWebhookInfo: %w", err)
		}
		out, err := json.MarshalIndent(info, "", "  ")
		if err != nil {
			return fmt.Errorf("encode webhook info: %w", err)
		}
		// The info never holds the token, but redact anyway: the URL is whatever was set.
		fmt.Fprintln(stdout, strings.ReplaceAll(string(out), o.token, "***"))
	}
	return nil
}

// redactedError hides the bot token in an error's text while keeping it unwrappable. The
// library already masks the token in *url.Error, but not in every message it builds, and
// the token is a full credential for the bot.
type redactedError struct {
	err   error
	token string
}

func (e *redactedError) Error() string { return strings.ReplaceAll(e.err.Error(), e.token, "***") }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, token string) error {
	if err == nil || token == "" {
		return err
	}
	return &redactedError{err: err, token: token}
}
