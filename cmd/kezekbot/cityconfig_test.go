package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCityConfig(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "c.pem")
	if err := os.WriteFile(pem, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := map[string]string{"KEZEKBOT_TELEGRAM_TOKEN": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij", "KEZEKBOT_TRUST_DIR": dir}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range serve {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	city := func(extra map[string]string) map[string]string {
		m := with(map[string]string{"KEZEKBOT_QUEUE": "city", "KEZEKBOT_CITY_URL": "https://queue.example.kz/api", "KEZEKBOT_CITY_TOKEN": "t0ken"})
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "embedded by default", env: serve, check: func(t *testing.T, c *Config) {
			if c.City.Queue != "embedded" || c.City.ReadTimeout != 1500*time.Millisecond || c.City.FeedMode != "pull" || c.City.GiveUpNotice != 30*time.Minute {
				t.Errorf("%+v", c.City)
			}
		}},
		{name: "city with a token", env: city(nil), check: func(t *testing.T, c *Config) {
			if c.City.Queue != "city" || c.City.URL != "https://queue.example.kz/api" || string(c.City.Token) != "t0ken" {
				t.Errorf("%+v", c.City)
			}
		}},
		{name: "city with mutual TLS", env: city(map[string]string{"KEZEKBOT_CITY_TOKEN": "", "KEZEKBOT_CITY_CERT": pem, "KEZEKBOT_CITY_KEY": pem, "KEZEKBOT_CITY_CA": pem})},
		{name: "city read timeout", env: city(map[string]string{"KEZEKBOT_CITY_READ_TIMEOUT": "800ms"}), check: func(t *testing.T, c *Config) {
			if c.City.ReadTimeout != 800*time.Millisecond {
				t.Errorf("%v", c.City.ReadTimeout)
			}
		}},
		{name: "push with secrets", env: city(map[string]string{"KEZEKBOT_CITY_MODE": "both", "KEZEKBOT_CITY_PUSH_SECRETS": "0123456789abcdef0123456789abcdef"})},
		{name: "bad queue", env: with(map[string]string{"KEZEKBOT_QUEUE": "remote"}), wantErr: "KEZEKBOT_QUEUE"},
		{name: "city without url", env: city(map[string]string{"KEZEKBOT_CITY_URL": ""}), wantErr: "KEZEKBOT_CITY_URL"},
		{name: "city url not http", env: city(map[string]string{"KEZEKBOT_CITY_URL": "ftp://x"}), wantErr: "KEZEKBOT_CITY_URL"},
		{name: "city url with credentials", env: city(map[string]string{"KEZEKBOT_CITY_URL": "https://kezek:t0ken@queue.example.kz"}), wantErr: "credentials"},
		{name: "city plain http off loopback", env: city(map[string]string{"KEZEKBOT_CITY_URL": "http://queue.example.kz"}), wantErr: "https"},
		{name: "city plain http on loopback", env: city(map[string]string{"KEZEKBOT_CITY_URL": "http://127.0.0.1:9090"})},
		{name: "city without credentials", env: city(map[string]string{"KEZEKBOT_CITY_TOKEN": ""}), wantErr: "KEZEKBOT_CITY_TOKEN"},
		{name: "cert without key", env: city(map[string]string{"KEZEKBOT_CITY_CERT": pem}), wantErr: "KEZEKBOT_CITY_KEY"},
		{name: "missing cert file", env: city(map[string]string{"KEZEKBOT_CITY_CERT": "/nonexistent.pem"}), wantErr: "KEZEKBOT_CITY_CERT"},
		{name: "token with a newline", env: city(map[string]string{"KEZEKBOT_CITY_TOKEN": "a\nb"}), wantErr: "KEZEKBOT_CITY_TOKEN"},
		{name: "bad read timeout", env: city(map[string]string{"KEZEKBOT_CITY_READ_TIMEOUT": "0s"}), wantErr: "KEZEKBOT_CITY_READ_TIMEOUT"},
		{name: "bad feed mode", env: city(map[string]string{"KEZEKBOT_CITY_MODE": "webhook"}), wantErr: "KEZEKBOT_CITY_MODE"},
		{name: "push without secrets", env: city(map[string]string{"KEZEKBOT_CITY_MODE": "push"}), wantErr: "KEZEKBOT_CITY_PUSH_SECRETS"},
		{name: "short push secret", env: city(map[string]string{"KEZEKBOT_CITY_MODE": "push", "KEZEKBOT_CITY_PUSH_SECRETS": "short"}), wantErr: "KEZEKBOT_CITY_PUSH_SECRETS"},
		{name: "bad give-up notice", env: city(map[string]string{"KEZEKBOT_CITY_GIVE_UP_NOTICE": "soon"}), wantErr: "KEZEKBOT_CITY_GIVE_UP_NOTICE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, func(k string) string { return tt.env[k] })
			if err == nil {
				err = c.validateServe()
			}
			if tt.wantErr != "" {
				var u *usageError
				if err == nil || !errors.As(err, &u) || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want a one-line usage error mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "t0ken") {
					t.Errorf("error quotes the token: %v", err)
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
