package main

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

type noFeed struct{}

func (noFeed) Changes(context.Context, string, int) (city.ChangePage, error) {
	return city.ChangePage{}, nil
}

func TestCitySyncConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	long := strings.Repeat("s", 32)
	for _, tt := range []struct {
		env     map[string]string
		wantErr string
	}{
		{map[string]string{"KEZEKBOT_CITY_PUSH_SECRETS": long + ",short"}, "KEZEKBOT_CITY_PUSH_SECRETS"},
		{map[string]string{"KEZEKBOT_CITY_PUSH_MAX_BODY": "10"}, "KEZEKBOT_CITY_PUSH_MAX_BODY"},
		{map[string]string{"KEZEKBOT_CITY_PULL_INTERVAL": "0s"}, "KEZEKBOT_CITY_PULL_INTERVAL"},
	} {
		_, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, env(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), long) {
			t.Errorf("%v: %v", tt.env, err)
		}
	}
	db := pgtest.New(t)
	c, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.CityPullInterval != 2*time.Second || c.CityPushMaxBody != 1<<20 {
		t.Fatalf("defaults: %v %v", c.CityPullInterval, c.CityPushMaxBody)
	}
	if h, err := c.cityPushHandler(db, nil, nil); h != nil || err != nil {
		t.Fatalf("push without secrets: %v, %v", h, err)
	}
	c.CityPushSecrets = secret(long)
	if h, err := c.cityPushHandler(db, nil, nil); h == nil || err != nil {
		t.Fatalf("push with a secret: %v, %v", h, err)
	}
	if cityPushPath != "/city/changes" {
		t.Fatalf("push path %s", cityPushPath)
	}
	if p := c.cityPuller(db, noFeed{}, nil, nil); p == nil {
		t.Fatal("no puller")
	}
}
