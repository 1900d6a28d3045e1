package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	citysync "github.com/kezekbot/kezekbot/city/sync"
	signerlink "github.com/kezekbot/kezekbot/signer-link"
)

// Config is everything serve and sandbox need. Every field has an environment variable and a
// flag; a flag given on the command line wins over the environment, which wins over the
// default. Defaults work on a developer's machine.
type Config struct {
	Mode           string // polling | webhook
	Token          secret
	APIURL         string
	WebhookSecret  secret
	WebhookPath    string
	HTTPAddr       string
	DatabaseURL    secret // may carry a password
	RedisURL       secret
	PublicURL      string
	TrustDir       string
	CRLDir         string
	LinkKeys       secret
	LinkTTL        time.Duration
	AdminToken     secret
	StateTTL       time.Duration
	Concurrency    int
	LogFormat      string
	LogLevel       string
	Migrate        bool
	ShutdownGrace  time.Duration
	PprofAddr      string
	WorkerName     string
	BroadcastRate  float64
	ReminderBefore time.Duration
	City           CityConfig // cityconfig.go
	EGov           string     // on | off | "" (off for serve, on in the sandbox)
	EGovOrgKK      string
	EGovOrgRU      string
	EGovOrgEN      string
	EGovBIN        string
	EGovAuthType   string
	EGovLauncher   string
	security       securityConfig  // config_security.go
	retention      retentionConfig // config_retention.go

	// The city's change feed into the mirror (KEZEKBOT_QUEUE=city; cmd/kezekbot/citysync.go).
	CityPushSecrets  secret // empty: the push endpoint is off
	CityPushMaxBody  int64
	CityPullInterval time.Duration
}

// secret is a string that does not print itself.
type secret string

func (s secret) String() string {
	if s == "" {
		return ""
	}
	return "***"
}

func (s secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// usageError is a wrong or missing setting: main prints it as one line and exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

type configField struct {
	env, flag, def, help string
	set                  func(c *Config, v string) error
}

func durationField(dst func(c *Config) *time.Duration) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration like 30m, got %q", v)
		}
		*dst(c) = d
		return nil
	}
}

var configFields = []configField{
	{"KEZEKBOT_MODE", "mode", "polling", "how updates arrive: polling or webhook", func(c *Config, v string) error {
		if v != "polling" && v != "webhook" {
			return fmt.Errorf("want polling or webhook, got %q", v)
		}
		c.Mode = v
		return nil
	}},
	{"KEZEKBOT_TELEGRAM_TOKEN", "telegram-token", "", "bot token from @BotFather", func(c *Config, v string) error {
		if v != "" && !tokenRe.MatchString(v) {
			return errors.New("does not look like a bot token (<digits>:<35+ characters>)")
		}
		c.Token = secret(v)
		return nil
	}},
	{"KEZEKBOT_TELEGRAM_API_URL", "telegram-api-url", "https://api.telegram.org", "Bot API base URL (a self-hosted Bot API server or a test server)", func(c *Config, v string) error {
		u, err := parseHTTPURL(v)
		if err != nil {
			return err
		}
		c.APIURL = strings.TrimRight(u.String(), "/")
		return nil
	}},
	{"KEZEKBOT_WEBHOOK_SECRET", "webhook-secret", "", "secret_token Telegram sends with every webhook request (1-256 of A-Z a-z 0-9 _ -)", func(c *Config, v string) error {
		if v != "" && !webhookSecretRe.MatchString(v) {
			return errors.New("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
		}
		c.WebhookSecret = secret(v)
		return nil
	}},
	{"KEZEKBOT_WEBHOOK_PATH", "webhook-path", "/telegram/webhook", "path of the webhook on the HTTP server", func(c *Config, v string) error {
		if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " ?#") {
			return fmt.Errorf("want an absolute path like /telegram/webhook, got %q", v)
		}
		c.WebhookPath = v
		return nil
	}},
	{"KEZEKBOT_HTTP_ADDR", "http-addr", "127.0.0.1:8080", "address of the HTTP server (webhook, signing pages, health, metrics)", func(c *Config, v string) error {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return fmt.Errorf("want host:port, got %q", v)
		}
		c.HTTPAddr = v
		return nil
	}},
	{"KEZEKBOT_DATABASE_URL", "database-url", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL URL", func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return errors.New("want a postgres:// URL")
		}
		c.DatabaseURL = secret(v)
		return nil
	}},
	{"KEZEKBOT_REDIS_URL", "redis-url", "redis://127.0.0.1:6379/0", "Redis URL", func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			return errors.New("want a redis:// or rediss:// URL")
		}
		c.RedisURL = secret(v)
		return nil
	}},
	{"KEZEKBOT_PUBLIC_URL", "public-url", "", "base URL of the links we hand out (default: http://<http-addr>)", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		u, err := parseHTTPURL(v)
		if err != nil {
			return err
		}
		c.PublicURL = strings.TrimRight(u.String(), "/")
		return nil
	}},
	{"KEZEKBOT_TRUST_DIR", "trust-dir", "", "directory of trusted NCA root and intermediate certificates (PEM or DER)", func(c *Config, v string) error {
		if v != "" {
			st, err := os.Stat(v)
			if err != nil || !st.IsDir() {
				return fmt.Errorf("%q is not a readable directory", v)
			}
		}
		c.TrustDir = v
		return nil
	}},
	{"KEZEKBOT_CRL_DIR", "crl-dir", "", "if set, refuse signatures by revoked certificates: CRLs of the trusted CAs (PEM/DER), re-read every 10 minutes", func(c *Config, v string) error {
		if v != "" {
			st, err := os.Stat(v)
			if err != nil || !st.IsDir() {
				return fmt.Errorf("%q is not a readable directory", v)
			}
		}
		c.CRLDir = v
		return nil
	}},
	{"KEZEKBOT_LINK_KEYS", "link-keys", "", "HMAC keys of signing links, newest first: id:base64[,id:base64…]", func(c *Config, v string) error {
		if v != "" {
			if _, err := signerlink.ParseKeys(v); err != nil {
				return err
			}
		}
		c.LinkKeys = secret(v)
		return nil
	}},
	{"KEZEKBOT_LINK_TTL", "link-ttl", "15m", "how long a signing link works", durationField(func(c *Config) *time.Duration { return &c.LinkTTL })},
	{"KEZEKBOT_ADMIN_TOKEN", "admin-token", "", "bearer token of the admin API (empty: admin API off)", func(c *Config, v string) error {
		if v != "" && len(v) < 16 {
			return errors.New("must be at least 16 characters")
		}
		c.AdminToken = secret(v)
		return nil
	}},
	{"KEZEKBOT_STATE_TTL", "state-ttl", "30m", "how long an idle dialog keeps its state", durationField(func(c *Config) *time.Duration { return &c.StateTTL })},
	{"KEZEKBOT_CONCURRENCY", "concurrency", "64", "updates handled at once (different chats)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return fmt.Errorf("want a number from 1 to 10000, got %q", v)
		}
		c.Concurrency = n
		return nil
	}},
	{"KEZEKBOT_LOG_FORMAT", "log-format", "text", "log format: text or json", func(c *Config, v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("want text or json, got %q", v)
		}
		c.LogFormat = v
		return nil
	}},
	{"KEZEKBOT_LOG_LEVEL", "log-level", "info", "debug, info, warn or error", func(c *Config, v string) error {
		var l slog.Level
		if err := l.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("want debug, info, warn or error, got %q", v)
		}
		c.LogLevel = v
		return nil
	}},
	{"KEZEKBOT_PPROF_ADDR", "pprof-addr", "", "if set, serve net/http/pprof on this separate address (keep it on loopback)", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return fmt.Errorf("want host:port, got %q", v)
		}
		c.PprofAddr = v
		return nil
	}},
	{"KEZEKBOT_WORKER_NAME", "worker-name", "", "this replica's stable name in broadcast leases (default: the host name)", func(c *Config, v string) error {
		if v == "" {
			h, err := os.Hostname()
			if err != nil || h == "" {
				h = "kezekbot"
			}
			v = h
		}
		if len(v) > 128 {
			return errors.New("at most 128 characters")
		}
		c.WorkerName = v
		return nil
	}},
	{"KEZEKBOT_BROADCAST_RATE", "broadcast-rate", "30", "bulk messages per second over the whole bot, shared by replicas (up to 1000 for paid broadcasts)", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1000 {
			return fmt.Errorf("want a number above 0 and at most 1000, got %q", v)
		}
		c.BroadcastRate = f
		return nil
	}},
	{"KEZEKBOT_REMINDER_BEFORE", "reminder-before", "2h", "how long before the 24-hour revocation window closes parents are reminded", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d >= 24*time.Hour {
			return fmt.Errorf("want a duration between 0 and 24h, got %q", v)
		}
		c.ReminderBefore = d
		return nil
	}},
	{"KEZEKBOT_CITY_PUSH_SECRETS", "city-push-secrets", "", "HMAC secrets of the city's pushes to POST /city/changes, newest first, comma-separated, ≥ 32 characters each (empty: push off)", func(c *Config, v string) error {
		if v != "" {
			if _, err := citysync.ParseSecrets(v); err != nil {
				return err
			}
		}
		c.CityPushSecrets = secret(v)
		return nil
	}},
	{"KEZEKBOT_CITY_PUSH_MAX_BODY", "city-push-max-body", "1048576", "largest pushed body accepted, in bytes (larger: 413)", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 || n > 64<<20 {
			return fmt.Errorf("want a number of bytes from 1024 to %d, got %q", 64<<20, v)
		}
		c.CityPushMaxBody = n
		return nil
	}},
	{"KEZEKBOT_CITY_PULL_INTERVAL", "city-pull-interval", "2s", "how often the city's change feed is polled when it had nothing new", durationField(func(c *Config) *time.Duration { return &c.CityPullInterval })},
	{"KEZEKBOT_SHUTDOWN_GRACE", "shutdown-grace", "25s", "how long SIGTERM waits for in-flight updates", durationField(func(c *Config) *time.Duration { return &c.ShutdownGrace })},
	{"KEZEKBOT_EGOV", "egov", "", "eGov mobile signing (QR code and phone) on the signing pages: on or off (default: off for serve until the domain is on eGov mobile's allow-list, on in the sandbox)", func(c *Config, v string) error {
		if v != "" && v != "on" && v != "off" {
			return fmt.Errorf("want on or off, got %q", v)
		}
		c.EGov = v
		return nil
	}},
	{"KEZEKBOT_EGOV_ORG_KK", "egov-org-kk", "kezekbot — Астана балабақшаларының кезегі", "organisation name eGov mobile shows, in Kazakh", egovOrgField(func(c *Config) *string { return &c.EGovOrgKK })},
	{"KEZEKBOT_EGOV_ORG_RU", "egov-org-ru", "kezekbot — очередь в детские сады Астаны", "organisation name eGov mobile shows, in Russian", egovOrgField(func(c *Config) *string { return &c.EGovOrgRU })},
	{"KEZEKBOT_EGOV_ORG_EN", "egov-org-en", "kezekbot — Astana kindergarten queue", "organisation name eGov mobile shows, in English", egovOrgField(func(c *Config) *string { return &c.EGovOrgEN })},
	{"KEZEKBOT_EGOV_BIN", "egov-bin", "", "BIN (12 digits) of the organisation eGov mobile shows; required when eGov mobile is on in serve", func(c *Config, v string) error {
		if v != "" && !binRe.MatchString(v) {
			return fmt.Errorf("want 12 digits, got %q", v)
		}
		c.EGovBIN = v
		return nil
	}},
	{"KEZEKBOT_EGOV_AUTH_TYPE", "egov-auth-type", signerlink.EGovAuthToken, "auth_type of API №1: Token (the eGov spec) or Bearer (seen in public integrations)", func(c *Config, v string) error {
		if v != signerlink.EGovAuthToken && v != signerlink.EGovAuthBearer {
			return fmt.Errorf("want %s or %s, got %q", signerlink.EGovAuthToken, signerlink.EGovAuthBearer, v)
		}
		c.EGovAuthType = v
		return nil
	}},
	{"KEZEKBOT_EGOV_LAUNCHER", "egov-launcher", signerlink.DefaultEGovLauncher, "same-device eGov mobile link; {link} is replaced by the escaped API №1 URL", func(c *Config, v string) error {
		if err := signerlink.ValidateLauncher(v); err != nil {
			return errors.New("want an http(s) URL with {link} at most once")
		}
		c.EGovLauncher = v
		return nil
	}},
}

var binRe = regexp.MustCompile(`^[0-9]{12}$`)

func egovOrgField(dst func(c *Config) *string) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" || len(v) > 300 {
			return errors.New("want 1-300 characters")
		}
		*dst(c) = v
		return nil
	}
}

// egovOn reports whether the signing pages serve eGov mobile; def is the command's default.
func (c *Config) egovOn(def bool) bool {
	switch c.EGov {
	case "on":
		return true
	case "off":
		return false
	}
	return def
}

var (
	tokenRe         = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$`)
	webhookSecretRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

func parseHTTPURL(v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("want an http(s) URL, got %q", v)
	}
	return u, nil
}

// loadConfig reads the environment, then the flags in args. Extra flags can be registered on
// fs before the call (subcommand-specific ones). Settings named in unused (by their
// environment variable, or "migrate") are neither flags nor read from the environment: the
// subcommand sets them itself, so `help` does not list them and a bad value in the
// environment is no reason to refuse.
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string, unused ...string) (*Config, error) {
	c := &Config{}
	vals := make(map[string]*string, len(configFields))
	for _, f := range configFields {
		v := f.def
		if slices.Contains(unused, f.env) {
			vals[f.env] = &v
			continue
		}
		if e := getenv(f.env); e != "" {
			v = e
		}
		vals[f.env] = fs.String(f.flag, v, f.help+" ($"+f.env+")")
	}
	if !slices.Contains(unused, "migrate") {
		fs.BoolVar(&c.Migrate, "migrate", false, "run database migrations before serving")
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		hint := ""
		if strings.Contains(err.Error(), "-port") && fs.Lookup("http-addr") != nil {
			hint = "the port is part of -http-addr, e.g. -http-addr 127.0.0.1:8081; "
		}
		return nil, usagef("%v (%ssee `kezekbot help %s`)", err, hint, fs.Name())
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	for _, f := range configFields {
		if err := f.set(c, *vals[f.env]); err != nil {
			return nil, usagef("%s (-%s): %v", f.env, f.flag, err)
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.HTTPAddr
	}
	if err := c.validateCity(false); err != nil {
		return nil, err
	}
	if err := c.checkSecurity(); err != nil {
		return nil, err
	}
	return c, nil
}

// validateServe checks what serve needs beyond well-formed values.
func (c *Config) validateServe() error {
	if c.Token == "" {
		return usagef("KEZEKBOT_TELEGRAM_TOKEN: required to talk to Telegram (or run `kezekbot sandbox`, which needs none)")
	}
	if c.Mode == "webhook" && c.WebhookSecret == "" {
		return usagef("KEZEKBOT_WEBHOOK_SECRET: required in webhook mode, so that only Telegram can post updates")
	}
	if c.TrustDir == "" {
		return usagef("KEZEKBOT_TRUST_DIR: required to verify ЭЦП signatures (a directory with the NCA root and intermediate certificates)")
	}
	if c.Mode == "webhook" && c.LinkKeys == "" {
		return usagef("KEZEKBOT_LINK_KEYS: required in webhook mode, so that every replica accepts the same signing links")
	}
	if c.egovOn(false) {
		if c.EGovBIN == "" {
			return usagef("KEZEKBOT_EGOV_BIN: required when KEZEKBOT_EGOV=on (the BIN the eGov mobile app shows the parent)")
		}
		if !strings.HasPrefix(c.PublicURL, "https://") {
			return usagef("KEZEKBOT_PUBLIC_URL: eGov mobile calls the signing API over https only; set an https URL or KEZEKBOT_EGOV=off")
		}
	}
	if err := c.validateCity(true); err != nil {
		return err
	}
	return c.checkServeSecrets()
}

// linkKeys returns the configured keys, or one random key for a single local process (links
// then die with the process, which is fine on a laptop and refused in webhook mode).
func (c *Config) linkKeys() (keys signerlink.Keys, random bool, err error) {
	if c.LinkKeys != "" {
		k, err := signerlink.ParseKeys(string(c.LinkKeys))
		return k, false, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return signerlink.Keys{}, false, fmt.Errorf("generate a link key: %w", err)
	}
	k2, err := signerlink.ParseKeys("1:" + base64.StdEncoding.EncodeToString(k))
	return k2, true, err
}

func (c *Config) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
