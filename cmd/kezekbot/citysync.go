package main

import (
	"log/slog"
	"net/http"

	"github.com/kezekbot/kezekbot/city"
	citysync "github.com/kezekbot/kezekbot/city/sync"
	"github.com/kezekbot/kezekbot/metrics"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// The city's change feed in serve and sandbox (KEZEKBOT_QUEUE=city). Wiring, for the code that
// builds the app:
//
//	feed := metrics.NewCityFeed(a.reg)
//	if h, err := cfg.cityPushHandler(db, log, feed); err != nil { … } else if h != nil {
//		mux.Handle("POST "+cityPushPath, h)
//	}
//	puller := cfg.cityPuller(db, client, log, feed) // client: *city.Client
//	background = append(background, puller.Run)    // stops on ctx cancel, returns nil
//
// Applied change ids are forgotten by the purge (KEZEKBOT_RETAIN_CHANGES; purge.go).
//
// Push and pull may both run; change ids make a change delivered both ways count once.

// cityPushPath is where the city pushes changes.
const cityPushPath = city.PushPath

// cityPushHandler returns the push endpoint, or nil when KEZEKBOT_CITY_PUSH_SECRETS is empty
// (push off: the city is pulled from).
func (c *Config) cityPushHandler(db *postgres.DB, log *slog.Logger, m *metrics.CityFeed) (http.Handler, error) {
	if c.CityPushSecrets == "" {
		return nil, nil
	}
	secrets, err := citysync.ParseSecrets(string(c.CityPushSecrets))
	if err != nil {
		return nil, usagef("KEZEKBOT_CITY_PUSH_SECRETS: %v", err)
	}
	h, err := citysync.NewPushHandler(db, citysync.PushConfig{
		Secrets: secrets, MaxBody: c.CityPushMaxBody, Log: log, Metrics: m,
	})
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return h, nil
}

// cityPuller returns the pull worker of the city's change feed into db.
func (c *Config) cityPuller(db *postgres.DB, feed citysync.Feed, log *slog.Logger, m *metrics.CityFeed) *citysync.Puller {
	return citysync.NewPuller(db, feed, citysync.PullConfig{Interval: c.CityPullInterval, Log: log, Metrics: m})
}
