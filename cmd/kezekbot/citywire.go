package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/adapter"
	citysync "github.com/kezekbot/kezekbot/city/sync"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/metrics"
	signerlink "github.com/kezekbot/kezekbot/signer-link"
)

// systemOfRecord is what the dialog and the signing pages read and write through: the
// embedded store (*postgres.DB) or, in city mode, the city adapter. Neither side knows which.
type systemOfRecord interface {
	flows.Data
	flows.MuteStore
	signerlink.Store
}

// cityParts are the pieces city mode adds to a replica.
type cityParts struct {
	client    *city.Client
	record    *adapter.Record
	deliverer *adapter.Deliverer
	puller    *citysync.Puller
	push      http.Handler
}

// newCity builds city mode: the client of the city's contract, the adapter the dialog reads
// through, the deliverer of revocations (telling chats through resume) and the change feed
// (pulled, pushed to /city/changes, or both).
func (a *app) newCity(cfg *Config, resume signerlink.Resumer, now func() time.Time) (*cityParts, error) {
	cc := cfg.City
	client, err := city.NewClient(city.Config{
		BaseURL: cc.URL, Token: string(cc.Token), CertFile: cc.CertFile, KeyFile: cc.KeyFile, CAFile: cc.CAFile,
		Metrics: a.metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("city client: %w", err)
	}
	p := &cityParts{client: client}
	cmdMetrics := metrics.NewCityCommands(a.reg)
	p.deliverer = &adapter.Deliverer{
		Commands: a.db, City: client, Snapshots: a.db, Resumer: resume, Owner: cfg.WorkerName,
		GiveUpNotice: cc.GiveUpNotice, Metrics: cmdMetrics, Log: a.log.With("component", "city-commands"), Now: now,
	}
	p.record = &adapter.Record{
		City: client, Mirror: a.db, Store: a.db, ReadTimeout: cc.ReadTimeout,
		Enqueued: p.deliverer.Wake, Log: a.log.With("component", "city-reads"), Now: now,
		ReadResult: cmdMetrics.CityRead,
	}
	feed := metrics.NewCityFeed(a.reg)
	feedLog := a.log.With("component", "city-feed")
	if cc.FeedMode == "pull" || cc.FeedMode == "both" {
		p.puller = cfg.cityPuller(a.db, client, feedLog, feed)
	}
	if cc.FeedMode == "push" || cc.FeedMode == "both" {
		if p.push, err = cfg.cityPushHandler(a.db, feedLog, feed); err != nil {
			return nil, err
		}
	}
	// Applied change ids are forgotten by the purge (KEZEKBOT_RETAIN_CHANGES, purge.go).
	a.background = append(a.background, p.deliverer.Run, p.record.RunRefresher)
	if p.puller != nil {
		a.background = append(a.background, p.puller.Run)
	}
	return p, nil
}

// cityRoutes mounts the push endpoint of the change feed.
func (a *app) cityRoutes() {
	if a.city != nil && a.city.push != nil {
		a.mux.Handle("POST "+cityPushPath, a.limitClients("city_push", a.cfg.security.CityPushRate, a.city.push))
	}
}
