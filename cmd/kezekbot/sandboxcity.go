package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/kezekbot/kezekbot/city/refcity"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// sandboxCity is the reference city the sandbox runs in city mode: the demo data lives here,
// on its own port, and kezekbot reads it through the contract like a real city's.
type sandboxCity struct {
	city *refcity.City
	srv  *http.Server
	url  string
}

// startSandboxCity serves a reference city with the demo data on addr and points cfg at it.
func startSandboxCity(cfg *Config, addr string, log *slog.Logger) (*sandboxCity, error) {
	demo, err := postgres.DemoDetails(time.Now())
	if err != nil {
		return nil, fmt.Errorf("sandbox city: %w", err)
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	rc, err := refcity.New(refcity.Config{Token: token, Log: log.With("component", "reference-city")}, demo)
	if err != nil {
		return nil, fmt.Errorf("sandbox city: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usagef("-city-addr: %v", err)
	}
	sc := &sandboxCity{city: rc, url: "http://" + ln.Addr().String(),
		srv: &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := sc.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("sandbox city stopped", "err", err)
		}
	}()
	cfg.City.URL, cfg.City.Token = sc.url, secret(token)
	if cfg.CityPullInterval > 500*time.Millisecond {
		// A sandbox shows a referral issued at the city within a second.
		cfg.CityPullInterval = 500 * time.Millisecond
	}
	return sc, nil
}

func (sc *sandboxCity) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = sc.srv.Shutdown(ctx)
}
