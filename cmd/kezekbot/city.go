package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/conformance"
	"github.com/kezekbot/kezekbot/city/refcity"
	"github.com/kezekbot/kezekbot/store/postgres"
)

func init() {
	commands["city"] = command{"the city's queue system: serve the reference city, check a city endpoint against the contract", runCity}
}

// citySubcommands are the verbs of `kezekbot city`; other files add theirs (status).
var citySubcommands = map[string]struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}{
	"serve": {"run the reference city (a fake of the city's queue system, demo data, fault injection)", runCityServe},
	"check": {"run the contract's conformance kit against a city endpoint", runCityCheck},
}

func cityUsage() string {
	var b strings.Builder
	b.WriteString("usage: kezekbot city <subcommand> [flags]\n\nThe city's queue system (contract: api/queue.yaml).\n\nSubcommands:\n")
	names := make([]string, 0, len(citySubcommands))
	for n := range citySubcommands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-8s %s\n", n, citySubcommands[n].summary)
	}
	b.WriteString("\n`kezekbot city <subcommand> -h` lists its flags.")
	return b.String()
}

func runCity(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, cityUsage())
		return 2
	}
	if wantsHelp(args[:1]) || args[0] == "help" {
		fmt.Fprintln(stdout, cityUsage())
		return 0
	}
	sub, ok := citySubcommands[args[0]]
	if !ok {
		return cliFail(stderr, "city", usagef("unknown subcommand %q; try `kezekbot help city`", args[0]))
	}
	return sub.run(ctx, args[1:], stdout, stderr)
}

// envFlag registers a string flag whose default comes from env (the flag wins).
func envFlag(fs *flag.FlagSet, name, env, def, help string) *string {
	if v := os.Getenv(env); v != "" {
		def = v
	}
	return fs.String(name, def, help+" ($"+env+")")
}

func parseCityFlags(fs *flag.FlagSet, args []string, stdout io.Writer, usage string) (help bool, err error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usage)
			fmt.Fprintln(stdout)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return true, nil
		}
		return false, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return false, usagef("unexpected argument %q", fs.Arg(0))
	}
	return false, nil
}

func rate(name, v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, usagef("--%s: want a probability from 0 to 1, got %q", name, v)
	}
	return f, nil
}

func duration(name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, usagef("--%s: want a duration like 200ms, got %q", name, v)
	}
	return d, nil
}

const cityServeUsage = `usage: kezekbot city serve [flags]

Serves the reference city: the contract of api/queue.yaml over HTTP from memory, loaded with the
same demo data as ` + "`kezekbot seed --demo`" + ` (referral times relative to now), with the city's
rules (only the applicant sees an application; revocable while active and within 24 hours;
a revoked application returns to the queue at its place; idempotency keys replay the first
answer). It records every revocation with its signed XML and does NOT verify signatures.

Staff and test helpers (same token):
  POST /_ref/referrals {"application_id":N[,"kindergarten_id":K]}  issue a referral (referral_issued)
  GET|POST /_ref/faults  {"latency":"200ms","jitter":"50ms","error_rate":0.1,"timeout_rate":0,
                          "malformed_rate":0,"lost_answer_rate":0,"duplicate_rate":0,"out_of_order_rate":0}
  GET /_ref/revocations  every accepted revocation, signed XML byte for byte

With --push-url it pushes its changes to kezekbot's /city/changes, signed with --push-secret.
`

func runCityServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "city serve"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	addr := envFlag(fs, "addr", "KEZEKBOT_REFCITY_ADDR", "127.0.0.1:8091", "address to listen on")
	token := envFlag(fs, "token", "KEZEKBOT_REFCITY_TOKEN", "", "bearer token every request must carry (empty: none)")
	certFile := envFlag(fs, "tls-cert", "KEZEKBOT_REFCITY_TLS_CERT", "", "serve HTTPS with this certificate (PEM)")
	keyFile := envFlag(fs, "tls-key", "KEZEKBOT_REFCITY_TLS_KEY", "", "and its key (PEM)")
	clientCA := envFlag(fs, "client-ca", "KEZEKBOT_REFCITY_CLIENT_CA", "", "require client certificates from this CA (PEM): mutual TLS")
	pushURL := envFlag(fs, "push-url", "KEZEKBOT_REFCITY_PUSH_URL", "", "kezekbot's base URL to push changes to (empty: pull only)")
	pushSecret := envFlag(fs, "push-secret", "KEZEKBOT_REFCITY_PUSH_SECRET", "", "HMAC secret of pushes (one of kezekbot's KEZEKBOT_CITY_PUSH_SECRETS)")
	latency := fs.String("latency", "0s", "added to every answer")
	jitter := fs.String("jitter", "0s", "plus a random part up to this")
	errorRate := fs.String("error-rate", "0", "probability of a 503")
	timeoutRate := fs.String("timeout-rate", "0", "probability of never answering")
	malformedRate := fs.String("malformed-rate", "0", "probability of a broken JSON answer")
	lostRate := fs.String("lost-answer-rate", "0", "probability that a revocation is applied and answered 502")
	dupRate := fs.String("duplicate-rate", "0", "probability of delivering changes twice (pull and push)")
	reorderRate := fs.String("out-of-order-rate", "0", "probability of delivering changes out of order (pull and push)")
	seed := fs.Uint64("seed", 0, "seed of the fault dice (0: random)")
	if help, err := parseCityFlags(fs, args, stdout, cityServeUsage); help || err != nil {
		return cliFail2(stderr, name, err)
	}
	var f refcity.Faults
	var err error
	for _, p := range []struct {
		flag, v string
		dst     *float64
	}{{"error-rate", *errorRate, &f.ErrorRate}, {"timeout-rate", *timeoutRate, &f.TimeoutRate}, {"malformed-rate", *malformedRate, &f.MalformedRate},
		{"lost-answer-rate", *lostRate, &f.LostAnswerRate}, {"duplicate-rate", *dupRate, &f.DuplicateRate}, {"out-of-order-rate", *reorderRate, &f.OutOfOrderRate}} {
		if *p.dst, err = rate(p.flag, p.v); err != nil {
			return cliFail(stderr, name, err)
		}
	}
	var d time.Duration
	if d, err = duration("latency", *latency); err != nil {
		return cliFail(stderr, name, err)
	}
	f.Latency = refcity.Duration(d)
	if d, err = duration("jitter", *jitter); err != nil {
		return cliFail(stderr, name, err)
	}
	f.Jitter = refcity.Duration(d)
	if _, port, err := net.SplitHostPort(*addr); err != nil || port == "" {
		return cliFail(stderr, name, usagef("--addr: want host:port, got %q", *addr))
	}
	if (*certFile == "") != (*keyFile == "") {
		return cliFail(stderr, name, usagef("--tls-cert and --tls-key go together"))
	}
	if *clientCA != "" && *certFile == "" {
		return cliFail(stderr, name, usagef("--client-ca needs --tls-cert and --tls-key (mutual TLS is TLS)"))
	}
	if *pushURL != "" {
		if _, err := parseHTTPURL(*pushURL); err != nil {
			return cliFail(stderr, name, usagef("--push-url: %v", err))
		}
		if *pushSecret == "" {
			return cliFail(stderr, name, usagef("--push-url needs --push-secret"))
		}
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	demo, err := postgres.DemoDetails(time.Now())
	if err != nil {
		return cliFail(stderr, name, err)
	}
	rc, err := refcity.New(refcity.Config{Token: *token, Faults: f, Seed: *seed, PushURL: *pushURL, PushSecret: []byte(*pushSecret), Log: log}, demo)
	if err != nil {
		return cliFail(stderr, name, usagef("%v", err))
	}
	srv := &http.Server{Addr: *addr, Handler: rc, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if *certFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if *clientCA != "" {
			pem, err := os.ReadFile(*clientCA)
			if err != nil {
				return cliFail(stderr, name, usagef("--client-ca: %v", err))
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return cliFail(stderr, name, usagef("--client-ca: no PEM certificate in %s", *clientCA))
			}
			tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
		srv.TLSConfig = tc
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	scheme := "http"
	if *certFile != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "reference city on %s://%s: %d demo applications, token %s, mutual TLS %s, push %s\n",
		scheme, ln.Addr(), len(demo), onOff(*token != ""), onOff(*clientCA != ""), onOff(*pushURL != ""))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pushDone := make(chan error, 1)
	go func() { pushDone <- rc.RunPusher(ctx) }()
	served := make(chan error, 1)
	go func() {
		if *certFile != "" {
			served <- srv.ServeTLS(ln, *certFile, *keyFile)
		} else {
			served <- srv.Serve(ln)
		}
	}()
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	cancel()
	shut, stop := context.WithTimeout(context.Background(), 3*time.Second)
	defer stop()
	if serr := srv.Shutdown(shut); serr != nil {
		_ = srv.Close() // requests hanging on purpose (timeout faults) end here
	}
	<-pushDone
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return cliFail(stderr, name, err)
	}
	return 0
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// cliFail2 is cliFail for a parse result: nil after help is exit 0.
func cliFail2(stderr io.Writer, name string, err error) int {
	if err == nil {
		return 0
	}
	return cliFail(stderr, name, err)
}

const cityCheckUsage = `usage: kezekbot city check --url URL [--token T | --cert F --key F] [--ca F] --iin IIN --test-application N [--test-referral M]

Runs the contract (api/queue.yaml) against a city endpoint with kezekbot's own client and prints
a pass/fail table: the search, one application, a made-up id and another applicant's view
(404 not_found), the change feed (a page, the same page again, the walk to its end), a
revocation of the test application's referral, its replay with the same idempotency key (the
first answer), the same key with another body (422 invalid_request), revoking it again
(not_active), an unknown referral (not_found), and the revocation in the change feed.

THE REVOCATION IS REAL: use a test applicant and application kept for this, with a referral
issued less than 24 hours ago. The document sent is an unsigned test document that says so; a
city that verifies signatures needs --signed-xml (with --cert-serial and --cert-issuer).

Exit status: 0 every check passed, 1 a check failed, 2 usage error.
`

func runCityCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "city check"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	url := envFlag(fs, "url", "KEZEKBOT_CITY_URL", "", "base URL of the city's contract (required)")
	token := envFlag(fs, "token", "KEZEKBOT_CITY_TOKEN", "", "bearer token")
	certFile := envFlag(fs, "cert", "KEZEKBOT_CITY_CERT", "", "client certificate (PEM) for mutual TLS")
	keyFile := envFlag(fs, "key", "KEZEKBOT_CITY_KEY", "", "its private key (PEM)")
	caFile := envFlag(fs, "ca", "KEZEKBOT_CITY_CA", "", "CA (PEM) the city's server certificate chains to (default: the system's)")
	iinFlag := fs.String("iin", "", "the test applicant's IIN (required)")
	appFlag := fs.Int64("test-application", 0, "the test application's id (required)")
	refFlag := fs.Int64("test-referral", 0, "the referral to revoke (default: the application's active one)")
	signedXML := fs.String("signed-xml", "", "a signed test document to send instead of the unsigned one (file)")
	certSerial := fs.String("cert-serial", "", "its certificate's serial (with --signed-xml)")
	certIssuer := fs.String("cert-issuer", "", "its certificate's issuer (with --signed-xml)")
	timeout := fs.Duration("timeout", 10*time.Second, "deadline of each request")
	if help, err := parseCityFlags(fs, args, stdout, cityCheckUsage); help || err != nil {
		return cliFail2(stderr, name, err)
	}
	switch {
	case *url == "":
		return cliFail(stderr, name, usagef("--url is required"))
	case *iinFlag == "":
		return cliFail(stderr, name, usagef("--iin is required"))
	case *appFlag <= 0:
		return cliFail(stderr, name, usagef("--test-application must be a positive id"))
	case *refFlag < 0:
		return cliFail(stderr, name, usagef("--test-referral must be a positive id"))
	case *timeout <= 0:
		return cliFail(stderr, name, usagef("--timeout must be positive"))
	case *signedXML != "" && (*certSerial == "" || *certIssuer == ""):
		return cliFail(stderr, name, usagef("--signed-xml needs --cert-serial and --cert-issuer"))
	}
	if _, err := parseHTTPURL(*url); err != nil {
		return cliFail(stderr, name, usagef("--url: %v", err))
	}
	iin, err := kezekbot.ParseIIN(*iinFlag)
	if err != nil {
		return cliFail(stderr, name, usagef("--iin: %s", kezekbot.ErrorMessage(err)))
	}
	opts := conformance.Options{IIN: iin, Application: *appFlag, Referral: *refFlag, CertSerial: *certSerial, CertIssuer: *certIssuer}
	if *signedXML != "" {
		b, err := readLimited(*signedXML, 64<<10+1)
		if err != nil {
			return cliFail(stderr, name, usagef("--signed-xml: %v", err))
		}
		if len(b) > 64<<10 {
			return cliFail(stderr, name, usagef("--signed-xml: larger than 64 KiB"))
		}
		opts.SignedXML = string(b)
	}
	client, err := city.NewClient(city.Config{BaseURL: *url, Token: *token, CertFile: *certFile, KeyFile: *keyFile, CAFile: *caFile})
	if err != nil {
		return cliFail(stderr, name, usagef("%s", kezekbot.ErrorMessage(err)))
	}
	rows := conformance.Run(ctx, deadlineClient{client, *timeout}, opts)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	passed := 0
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Check, r.Result, r.Detail)
		if r.Result == conformance.Pass {
			passed++
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(stdout, "\n%d of %d checks passed (contract %s)\n", passed, len(rows), city.Version)
	if conformance.Failed(rows) {
		return 1
	}
	return 0
}

// deadlineClient gives each request of the kit its own deadline (the client's read default,
// 1.5 s, is the card's budget, not an integrator's).
type deadlineClient struct {
	c *city.Client
	d time.Duration
}

func (d deadlineClient) Applications(ctx context.Context, iin kezekbot.IIN) ([]city.Application, error) {
	ctx, cancel := context.WithTimeout(ctx, d.d)
	defer cancel()
	return d.c.Applications(ctx, iin)
}

func (d deadlineClient) Application(ctx context.Context, iin kezekbot.IIN, id int64) (city.Application, error) {
	ctx, cancel := context.WithTimeout(ctx, d.d)
	defer cancel()
	return d.c.Application(ctx, iin, id)
}

func (d deadlineClient) Revoke(ctx context.Context, req city.RevokeRequest) (city.RevokeAccepted, error) {
	ctx, cancel := context.WithTimeout(ctx, d.d)
	defer cancel()
	return d.c.Revoke(ctx, req)
}

func (d deadlineClient) Changes(ctx context.Context, after string, limit int) (city.ChangePage, error) {
	ctx, cancel := context.WithTimeout(ctx, d.d)
	defer cancel()
	return d.c.Changes(ctx, after, limit)
}
