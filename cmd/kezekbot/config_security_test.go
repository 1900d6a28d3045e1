package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestSecuritySettings: weak or door-opening settings are refused with one line naming the
// variable (issue 17, finding 7), and the limits' defaults load.
func TestSecuritySettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tt := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"pprof on loopback", map[string]string{"KEZEKBOT_PPROF_ADDR": "127.0.0.1:6060"}, ""},
		{"pprof on localhost", map[string]string{"KEZEKBOT_PPROF_ADDR": "localhost:6060"}, ""},
		{"pprof on ::1", map[string]string{"KEZEKBOT_PPROF_ADDR": "[::1]:6060"}, ""},
		{"pprof on every interface", map[string]string{"KEZEKBOT_PPROF_ADDR": ":6060"}, "KEZEKBOT_PPROF_ADDR"},
		{"pprof on 0.0.0.0", map[string]string{"KEZEKBOT_PPROF_ADDR": "0.0.0.0:6060"}, "KEZEKBOT_PPROF_ALLOW_REMOTE"},
		{"pprof on a LAN address", map[string]string{"KEZEKBOT_PPROF_ADDR": "10.0.0.5:6060"}, "KEZEKBOT_PPROF_ADDR"},
		{"pprof on a host name", map[string]string{"KEZEKBOT_PPROF_ADDR": "bot.internal:6060"}, "KEZEKBOT_PPROF_ADDR"},
		{"pprof remote allowed", map[string]string{"KEZEKBOT_PPROF_ADDR": "0.0.0.0:6060", "KEZEKBOT_PPROF_ALLOW_REMOTE": "true"}, ""},
		{"pprof allow not a bool", map[string]string{"KEZEKBOT_PPROF_ALLOW_REMOTE": "yes please"}, "KEZEKBOT_PPROF_ALLOW_REMOTE"},
		{"bad client rate", map[string]string{"KEZEKBOT_SIGN_RATE_CLIENT": "lots"}, "KEZEKBOT_SIGN_RATE_CLIENT"},
		{"bad link rate", map[string]string{"KEZEKBOT_SIGN_RATE_LINK": "5/1m,0"}, "KEZEKBOT_SIGN_RATE_LINK"},
		{"bad global rate", map[string]string{"KEZEKBOT_SIGN_RATE_GLOBAL": "0/1s,1"}, "KEZEKBOT_SIGN_RATE_GLOBAL"},
		{"rate off", map[string]string{"KEZEKBOT_SIGN_RATE_GLOBAL": "off"}, ""},
		{"bad trusted proxy", map[string]string{"KEZEKBOT_TRUSTED_PROXIES": "10.0.0.0/8,proxy"}, "KEZEKBOT_TRUSTED_PROXIES"},
		{"header limit too small", map[string]string{"KEZEKBOT_MAX_HEADER_BYTES": "100"}, "KEZEKBOT_MAX_HEADER_BYTES"},
		{"conns not a number", map[string]string{"KEZEKBOT_MAX_CONNS": "many"}, "KEZEKBOT_MAX_CONNS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, env(tt.env))
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
			if tt.env == nil {
				l := c.signLimits()
				if l.Client.String() != "30/1m,10" || l.Link.String() != "10/1m,5" || l.Global.String() != "100/1s,200" || len(l.TrustedProxies) != 0 {
					t.Errorf("default limits %+v", l)
				}
				if c.security.MaxHeaderBytes != 8<<10 || c.security.MaxConns != 1024 || c.security.PprofAllowRemote {
					t.Errorf("default server limits %+v", c.security)
				}
			}
		})
	}
}

// TestWebhookSecretLength: serve refuses a webhook secret shorter than 32 characters and says
// how to make one.
func TestWebhookSecretLength(t *testing.T) {
	base := Config{Mode: "webhook", Token: "123:abc", TrustDir: t.TempDir(), LinkKeys: "x"}
	for _, tt := range []struct {
		secret string
		ok     bool
	}{
		{"a", false},
		{"s3cr3t_-Token", false},
		{strings.Repeat("x", 31), false},
		{strings.Repeat("x", 32), true},
		{"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0", true},
	} {
		c := base
		c.WebhookSecret = secret(tt.secret)
		err := c.validateServe()
		if tt.ok != (err == nil) {
			t.Errorf("secret of %d characters: %v", len(tt.secret), err)
		}
		if err != nil && (!strings.Contains(err.Error(), "KEZEKBOT_WEBHOOK_SECRET") || !strings.Contains(err.Error(), "openssl rand -hex 32")) {
			t.Errorf("error does not name the variable or say how to make one: %v", err)
		}
	}
}
