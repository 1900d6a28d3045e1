package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// CityConfig is the system of record's settings (issue 10): embedded (kezekbot's own tables,
// the default) or the city's queue system over its contract.
type CityConfig struct {
	Queue        string // embedded | city
	URL          string
	Token        secret
	CertFile     string
	KeyFile      string
	CAFile       string
	ReadTimeout  time.Duration
	FeedMode     string // pull | push | both
	GiveUpNotice time.Duration
	// The push secrets, the push body limit and the pull interval are Config's CityPush*,
	// CityPullInterval (config.go, next to the change feed's helpers in citysync.go).
}

// Queue modes.
const (
	queueEmbedded = "embedded"
	queueCity     = "city"
)

func init() {
	configFields = append(configFields, cityConfigFields...)
}

func fileField(dst func(c *Config) *string) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		if v != "" {
			if st, err := os.Stat(v); err != nil || st.IsDir() {
				return fmt.Errorf("not a readable file")
			}
		}
		*dst(c) = v
		return nil
	}
}

var cityConfigFields = []configField{
	{"KEZEKBOT_QUEUE", "queue", queueEmbedded, "system of record: embedded (kezekbot's own tables) or city (the city's queue system over api/queue.yaml)", func(c *Config, v string) error {
		if v != queueEmbedded && v != queueCity {
			return fmt.Errorf("want embedded or city, got %q", v)
		}
		c.City.Queue = v
		return nil
	}},
	{"KEZEKBOT_CITY_URL", "city-url", "", "base URL of the city's queue system (city mode), e.g. https://queue.astana.kz/kezek", func(c *Config, v string) error {
		if v != "" {
			// Not quoted back: a URL may carry credentials by mistake.
			u, err := parseHTTPURL(v)
			if err != nil {
				return fmt.Errorf("want an http(s) URL")
			}
			if u.User != nil {
				return fmt.Errorf("must not carry credentials (use KEZEKBOT_CITY_TOKEN or a client certificate)")
			}
		}
		c.City.URL = strings.TrimRight(v, "/")
		return nil
	}},
	{"KEZEKBOT_CITY_TOKEN", "city-token", "", "bearer token for the city (or use a client certificate)", func(c *Config, v string) error {
		if strings.ContainsAny(v, " \t\r\n") {
			return fmt.Errorf("must be one word")
		}
		c.City.Token = secret(v)
		return nil
	}},
	{"KEZEKBOT_CITY_CERT", "city-cert", "", "client certificate (PEM) for mutual TLS with the city", fileField(func(c *Config) *string { return &c.City.CertFile })},
	{"KEZEKBOT_CITY_KEY", "city-key", "", "its private key (PEM)", fileField(func(c *Config) *string { return &c.City.KeyFile })},
	{"KEZEKBOT_CITY_CA", "city-ca", "", "CA certificates (PEM) the city's server certificate must chain to (default: the system's)", fileField(func(c *Config) *string { return &c.City.CAFile })},
	{"KEZEKBOT_CITY_READ_TIMEOUT", "city-read-timeout", "1.5s", "how long a card waits for the city before it shows kezekbot's mirror («данные на 14:05»)", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Minute {
			return fmt.Errorf("want a duration above 0 and at most 1m, got %q", v)
		}
		c.City.ReadTimeout = d
		return nil
	}},
	{"KEZEKBOT_CITY_MODE", "city-feed", "pull", "how the city's changes arrive: pull (kezekbot asks GET /v1/changes), push (the city posts to /city/changes) or both", func(c *Config, v string) error {
		if v != "pull" && v != "push" && v != "both" {
			return fmt.Errorf("want pull, push or both, got %q", v)
		}
		c.City.FeedMode = v
		return nil
	}},
	{"KEZEKBOT_CITY_GIVE_UP_NOTICE", "city-give-up-notice", "30m", "after how long without the city's answer a parent is told their revocation is still queued", durationField(func(c *Config) *time.Duration { return &c.City.GiveUpNotice })},
}

// validateCity checks the combinations of the city settings. The sandbox fills URL and Token
// itself (its reference city), so they are only required by serve (requireURL).
func (c *Config) validateCity(requireURL bool) error {
	cc := &c.City
	if cc.Queue != queueCity {
		return nil
	}
	if (cc.CertFile == "") != (cc.KeyFile == "") {
		return usagef("KEZEKBOT_CITY_CERT and KEZEKBOT_CITY_KEY: mutual TLS needs both the certificate and its key")
	}
	if (cc.FeedMode == "push" || cc.FeedMode == "both") && c.CityPushSecrets == "" {
		return usagef("KEZEKBOT_CITY_PUSH_SECRETS: required when KEZEKBOT_CITY_MODE=%s, so that only the city can push changes", cc.FeedMode)
	}
	if !requireURL {
		return nil
	}
	if cc.URL == "" {
		return usagef("KEZEKBOT_CITY_URL: required when KEZEKBOT_QUEUE=city")
	}
	if cc.Token == "" && cc.CertFile == "" {
		return usagef("KEZEKBOT_CITY_TOKEN or KEZEKBOT_CITY_CERT/_KEY: the city needs to know it is kezekbot (bearer token or mutual TLS)")
	}
	if strings.HasPrefix(cc.URL, "http://") && !loopbackURL(cc.URL) {
		return usagef("KEZEKBOT_CITY_URL: must be https:// (personal data and signed documents travel on it); http:// only on loopback")
	}
	return nil
}

func loopbackURL(u string) bool {
	p, err := parseHTTPURL(u)
	if err != nil {
		return false
	}
	h := p.Hostname()
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}
