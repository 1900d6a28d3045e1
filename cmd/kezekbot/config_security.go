package main

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	signerlink "github.com/kezekbot/kezekbot/signer-link"
)

// securityConfig holds the limits of the public doors (issue 17). Its fields are registered
// with the other settings (init below), so they follow the same env/flag/default rules.
type securityConfig struct {
	SignRateClient   signerlink.Rate
	SignRateLink     signerlink.Rate
	SignRateGlobal   signerlink.Rate
	TrustedProxies   []netip.Prefix
	MaxHeaderBytes   int
	MaxConns         int
	PprofAllowRemote bool
	AdminRate        signerlink.Rate // doorlimit.go
	CityPushRate     signerlink.Rate // doorlimit.go
}

// minWebhookSecret is the shortest webhook secret serve accepts: 32 characters of
// A-Z a-z 0-9 _ - carry about 190 bits, out of reach of guessing over the network.
const minWebhookSecret = 32

// Defaults of the HTTP server's limits. Telegram's webhook requests carry a handful of short
// headers; the signing page's requests carry the CSRF cookie and browser headers: 8 KiB is
// several times either, and 1,024 connections per replica are far more than Telegram's
// max_connections (40) plus the parents signing at once.
const (
	defaultMaxHeaderBytes = 8 << 10
	defaultMaxConns       = 1024
)

func rateField(dst func(c *Config) *signerlink.Rate) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		r, err := signerlink.ParseRate(v)
		if err != nil {
			return err
		}
		*dst(c) = r
		return nil
	}
}

func intField(lo, hi int, dst func(c *Config) *int) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want a number from %d to %d, got %q", lo, hi, v)
		}
		*dst(c) = n
		return nil
	}
}

var securityConfigFields = []configField{
	{"KEZEKBOT_SIGN_RATE_CLIENT", "sign-rate-client", signerlink.DefaultSignRateClient,
		"signature submissions per client address (IPv6: per /64): N/DURATION,BURST or off",
		rateField(func(c *Config) *signerlink.Rate { return &c.security.SignRateClient })},
	{"KEZEKBOT_SIGN_RATE_LINK", "sign-rate-link", signerlink.DefaultSignRateLink,
		"signature submissions per signing link: N/DURATION,BURST or off",
		rateField(func(c *Config) *signerlink.Rate { return &c.security.SignRateLink })},
	{"KEZEKBOT_SIGN_RATE_GLOBAL", "sign-rate-global", signerlink.DefaultSignRateGlobal,
		"signature submissions over all replicas together: N/DURATION,BURST or off",
		rateField(func(c *Config) *signerlink.Rate { return &c.security.SignRateGlobal })},
	{"KEZEKBOT_TRUSTED_PROXIES", "trusted-proxies", "",
		"addresses or CIDRs of the reverse proxies whose X-Forwarded-For is believed (empty: none; the TCP peer is the client)",
		func(c *Config, v string) error {
			p, err := signerlink.ParseTrustedProxies(v)
			if err != nil {
				return err
			}
			c.security.TrustedProxies = p
			return nil
		}},
	{"KEZEKBOT_MAX_HEADER_BYTES", "max-header-bytes", strconv.Itoa(defaultMaxHeaderBytes),
		"largest request header block the HTTP server reads (bytes)",
		intField(1<<10, 1<<20, func(c *Config) *int { return &c.security.MaxHeaderBytes })},
	{"KEZEKBOT_MAX_CONNS", "max-conns", strconv.Itoa(defaultMaxConns),
		"open connections the HTTP server holds at once; past it new ones get 503 and are closed",
		intField(8, 1_000_000, func(c *Config) *int { return &c.security.MaxConns })},
	{"KEZEKBOT_PPROF_ALLOW_REMOTE", "pprof-allow-remote", "false",
		"allow KEZEKBOT_PPROF_ADDR on a non-loopback address (profiles reveal memory contents: keep them private)",
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			c.security.PprofAllowRemote = b
			return nil
		}},
}

func init() { configFields = append(configFields, securityConfigFields...) }

// checkSecurity refuses settings that open a door, whatever the subcommand.
func (c *Config) checkSecurity() error {
	if c.PprofAddr != "" && !c.security.PprofAllowRemote && !loopbackAddr(c.PprofAddr) {
		return usagef("KEZEKBOT_PPROF_ADDR: %q is not a loopback address; pprof exposes the process's memory and must stay private (use 127.0.0.1:PORT, or set KEZEKBOT_PPROF_ALLOW_REMOTE=true if a firewall guards it)", c.PprofAddr)
	}
	return nil
}

// checkServeSecrets is serve's stricter check of secrets.
func (c *Config) checkServeSecrets() error {
	if c.WebhookSecret != "" && len(c.WebhookSecret) < minWebhookSecret {
		return usagef("KEZEKBOT_WEBHOOK_SECRET: too short (%d characters); use at least %d, e.g. `openssl rand -hex 32`", len(c.WebhookSecret), minWebhookSecret)
	}
	return nil
}

// loopbackAddr reports whether host:port listens on loopback only. An empty host or a name
// other than localhost is not loopback: ":6060" listens on every interface.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// signLimits are the limits the signer-link applies.
func (c *Config) signLimits() signerlink.SignLimits {
	return signerlink.SignLimits{
		Client:         c.security.SignRateClient,
		Link:           c.security.SignRateLink,
		Global:         c.security.SignRateGlobal,
		TrustedProxies: c.security.TrustedProxies,
	}
}
