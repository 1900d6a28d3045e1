package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // substring; "" = ok
		check   func(t *testing.T, c *Config)
	}{
		{name: "defaults", check: func(t *testing.T, c *Config) {
			if c.Mode != "polling" || c.HTTPAddr != "127.0.0.1:8080" || c.PublicURL != "http://127.0.0.1:8080" ||
				string(c.DatabaseURL) != "postgres://postgres@127.0.0.1:5432/test" || string(c.RedisURL) != "redis://127.0.0.1:6379/0" ||
				c.APIURL != "https://api.telegram.org" || c.StateTTL.Minutes() != 30 {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "flag beats env", env: map[string]string{"KEZEKBOT_MODE": "polling"}, args: []string{"-mode", "webhook"},
			check: func(t *testing.T, c *Config) {
				if c.Mode != "webhook" {
					t.Errorf("mode = %s", c.Mode)
				}
			}},
		{name: "bad mode", env: map[string]string{"KEZEKBOT_MODE": "push"}, wantErr: "KEZEKBOT_MODE"},
		{name: "bad token", env: map[string]string{"KEZEKBOT_TELEGRAM_TOKEN": "nope"}, wantErr: "KEZEKBOT_TELEGRAM_TOKEN"},
		{name: "bad secret", env: map[string]string{"KEZEKBOT_WEBHOOK_SECRET": "has space"}, wantErr: "KEZEKBOT_WEBHOOK_SECRET"},
		{name: "bad addr", env: map[string]string{"KEZEKBOT_HTTP_ADDR": "8080"}, wantErr: "KEZEKBOT_HTTP_ADDR"},
		{name: "bad db url", env: map[string]string{"KEZEKBOT_DATABASE_URL": "mysql://x"}, wantErr: "KEZEKBOT_DATABASE_URL"},
		{name: "bad redis url", env: map[string]string{"KEZEKBOT_REDIS_URL": "http://x"}, wantErr: "KEZEKBOT_REDIS_URL"},
		{name: "bad api url", env: map[string]string{"KEZEKBOT_TELEGRAM_API_URL": "ftp://x"}, wantErr: "KEZEKBOT_TELEGRAM_API_URL"},
		{name: "missing trust dir", env: map[string]string{"KEZEKBOT_TRUST_DIR": "/nonexistent/dir"}, wantErr: "KEZEKBOT_TRUST_DIR"},
		{name: "short link key", env: map[string]string{"KEZEKBOT_LINK_KEYS": "1:c2hvcnQ="}, wantErr: "KEZEKBOT_LINK_KEYS"},
		{name: "bad duration", env: map[string]string{"KEZEKBOT_STATE_TTL": "-1s"}, wantErr: "KEZEKBOT_STATE_TTL"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "nope"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected argument"},
		{name: "public url", env: map[string]string{"KEZEKBOT_PUBLIC_URL": "https://bot.example.kz/"}, check: func(t *testing.T, c *Config) {
			if c.PublicURL != "https://bot.example.kz" {
				t.Errorf("public url = %s", c.PublicURL)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), tt.args, env(tt.env))
			if tt.wantErr != "" {
				var u *usageError
				if err == nil || !errors.As(err, &u) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a usage error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// TestSandboxFlags: `help sandbox` lists only what the sandbox uses, the sandbox ignores a
// malformed token (or mode, trust dir…) in the environment it never uses, and a wrong flag
// points to `kezekbot help sandbox` (and from -port to -http-addr).
func TestSandboxFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"help", "sandbox"}, &out, &errb); code != 0 {
		t.Fatalf("help sandbox: exit %d, %s", code, errb.String())
	}
	help := out.String()
	for _, unused := range []string{"-telegram-token", "-webhook-secret", "-webhook-path", "-mode", "-telegram-api-url", "-trust-dir", "-crl-dir", "-migrate"} {
		if strings.Contains(help, unused+" ") || strings.Contains(help, unused+"\n") {
			t.Errorf("help sandbox lists %s, which the sandbox does not use:\n%s", unused, help)
		}
	}
	for _, used := range []string{"-http-addr", "-database-url", "-redis-url", "-public-url", "-no-seed", "-link-ttl", "-admin-token"} {
		if !strings.Contains(help, used) {
			t.Errorf("help sandbox lacks %s", used)
		}
	}

	env := map[string]string{"KEZEKBOT_TELEGRAM_TOKEN": "not-a-token", "KEZEKBOT_MODE": "push", "KEZEKBOT_TRUST_DIR": "/nonexistent",
		"KEZEKBOT_WEBHOOK_SECRET": "has space", "KEZEKBOT_CRL_DIR": "/nonexistent"}
	c, err := loadConfig(flag.NewFlagSet("sandbox", flag.ContinueOnError), nil, func(k string) string { return env[k] }, sandboxUnused...)
	if err != nil {
		t.Fatalf("the sandbox refused a setting it does not use: %v", err)
	}
	if c.Token != "" || c.TrustDir != "" || c.CRLDir != "" || c.Mode != "polling" || c.WebhookPath != "/telegram/webhook" {
		t.Errorf("unused settings read from the environment: %+v", c)
	}
	// serve still checks them.
	if _, err := loadConfig(flag.NewFlagSet("serve", flag.ContinueOnError), nil, func(k string) string { return env[k] }); err == nil {
		t.Error("serve accepted a malformed token")
	}

	for _, tc := range []struct{ args, want []string }{
		{[]string{"sandbox", "-port", "9090"}, []string{"-port", "-http-addr 127.0.0.1:8081", "see `kezekbot help sandbox`"}},
		{[]string{"sandbox", "-telegram-token", "1:x"}, []string{"-telegram-token", "see `kezekbot help sandbox`"}},
		{[]string{"serve", "-nope"}, []string{"see `kezekbot help serve`"}},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		msg := errb.String()
		if code != 2 || strings.Count(msg, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", tc.args, code, msg)
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: %q lacks %q", tc.args, msg, w)
			}
		}
	}
}

func TestValidateServe(t *testing.T) {
	c := &Config{Mode: "webhook"}
	for _, want := range []string{"KEZEKBOT_TELEGRAM_TOKEN", "KEZEKBOT_WEBHOOK_SECRET", "KEZEKBOT_TRUST_DIR", "KEZEKBOT_LINK_KEYS"} {
		err := c.validateServe()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("validateServe = %v, want %s", err, want)
		}
		switch want {
		case "KEZEKBOT_TELEGRAM_TOKEN":
			c.Token = "123:abc"
		case "KEZEKBOT_WEBHOOK_SECRET":
			c.WebhookSecret = "0123456789abcdef0123456789abcdef"
		case "KEZEKBOT_TRUST_DIR":
			c.TrustDir = t.TempDir()
		case "KEZEKBOT_LINK_KEYS":
			c.LinkKeys = "x"
		}
	}
	if err := c.validateServe(); err != nil {
		t.Fatal(err)
	}
}

func TestSecretsDoNotPrint(t *testing.T) {
	c := Config{Token: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ", DatabaseURL: "postgres://u:pw@h/db"}
	var b bytes.Buffer
	c.logger(&b).Info("config", "token", c.Token, "db", c.DatabaseURL)
	if strings.Contains(b.String(), "ABCDEF") || strings.Contains(b.String(), "pw@") {
		t.Fatalf("secret in log: %s", b.String())
	}
}

func TestRunUnknownSubcommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if code := run(context.Background(), nil, &out, &errb); code != 2 {
		t.Fatalf("exit %d", code)
	}
	out.Reset()
	if code := run(context.Background(), []string{"help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "Subcommands") {
		t.Fatalf("help: %d %s", code, out.String())
	}
}

func TestEGovConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		env     map[string]string
		wantErr string
	}{
		{map[string]string{"KEZEKBOT_EGOV": "yes"}, "KEZEKBOT_EGOV (-egov): want on or off"},
		{map[string]string{"KEZEKBOT_EGOV_BIN": "12345"}, "KEZEKBOT_EGOV_BIN"},
		{map[string]string{"KEZEKBOT_EGOV_ORG_KK": "  "}, "KEZEKBOT_EGOV_ORG_KK"},
		{map[string]string{"KEZEKBOT_EGOV_ORG_EN": strings.Repeat("x", 301)}, "KEZEKBOT_EGOV_ORG_EN"},
		{map[string]string{"KEZEKBOT_EGOV_AUTH_TYPE": "Eds"}, "KEZEKBOT_EGOV_AUTH_TYPE"},
		{map[string]string{"KEZEKBOT_EGOV_LAUNCHER": "mobileSign:{link}"}, "KEZEKBOT_EGOV_LAUNCHER"},
	} {
		_, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, env(tc.env))
		var u *usageError
		if err == nil || !errors.As(err, &u) || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: err = %v, want a one-line usage error with %q", tc.env, err, tc.wantErr)
		}
	}

	c, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.egovOn(false) || !c.egovOn(true) || c.EGovAuthType != "Token" || c.EGovLauncher != "https://m.egov.kz/mobileSign/?link={link}" {
		t.Errorf("defaults: on %v/%v, auth %q, launcher %q", c.egovOn(false), c.egovOn(true), c.EGovAuthType, c.EGovLauncher)
	}

	// serve with eGov mobile on needs a BIN and an https public URL.
	c.Token, c.TrustDir, c.EGov = "123:abc", t.TempDir(), "on"
	if err := c.validateServe(); err == nil || !strings.Contains(err.Error(), "KEZEKBOT_EGOV_BIN") {
		t.Errorf("validateServe = %v, want KEZEKBOT_EGOV_BIN", err)
	}
	c.EGovBIN = "210240012345"
	if err := c.validateServe(); err == nil || !strings.Contains(err.Error(), "KEZEKBOT_PUBLIC_URL") {
		t.Errorf("validateServe = %v, want KEZEKBOT_PUBLIC_URL", err)
	}
	c.PublicURL = "https://kezek.example.kz"
	if err := c.validateServe(); err != nil {
		t.Error(err)
	}
	c.EGov, c.EGovBIN, c.PublicURL = "off", "", "http://127.0.0.1:8080"
	if err := c.validateServe(); err != nil {
		t.Error(err)
	}
}
