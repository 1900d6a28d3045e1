package main

import (
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
)

// TestRedisSettings: Sentinel and Cluster settings load, and contradictory ones are refused in
// one line naming the setting (issue 12).
func TestRedisSettings(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     map[string]string
		wantErr string
		mode    string
	}{
		{"single by default", nil, "", "single"},
		{"sentinel", map[string]string{"KEZEKBOT_REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379", "KEZEKBOT_REDIS_MASTER": "kz"}, "", "sentinel"},
		{"sentinel with wait", map[string]string{"KEZEKBOT_REDIS_SENTINELS": "a:1", "KEZEKBOT_REDIS_MASTER": "kz", "KEZEKBOT_REDIS_WAIT_REPLICAS": "1"}, "", "sentinel"},
		{"cluster", map[string]string{"KEZEKBOT_REDIS_CLUSTER": "a:1,b:2,c:3"}, "", "cluster"},
		{"sentinels without master", map[string]string{"KEZEKBOT_REDIS_SENTINELS": "a:1"}, "master", ""},
		{"master without sentinels", map[string]string{"KEZEKBOT_REDIS_MASTER": "kz"}, "sentinel addresses", ""},
		{"sentinel password alone", map[string]string{"KEZEKBOT_REDIS_SENTINEL_PASSWORD": "pw"}, "sentinel", ""},
		{"cluster and sentinel", map[string]string{"KEZEKBOT_REDIS_CLUSTER": "a:1", "KEZEKBOT_REDIS_SENTINELS": "b:1", "KEZEKBOT_REDIS_MASTER": "kz"}, "exclude", ""},
		{"cluster with a database", map[string]string{"KEZEKBOT_REDIS_CLUSTER": "a:1", "KEZEKBOT_REDIS_URL": "redis://x/3"}, "database 0", ""},
		{"cluster with wait", map[string]string{"KEZEKBOT_REDIS_CLUSTER": "a:1", "KEZEKBOT_REDIS_WAIT_REPLICAS": "1"}, "KEZEKBOT_REDIS_WAIT_REPLICAS", ""},
		{"bad address", map[string]string{"KEZEKBOT_REDIS_CLUSTER": "a:1,nohost"}, "KEZEKBOT_REDIS_CLUSTER", ""},
		{"wait not a number", map[string]string{"KEZEKBOT_REDIS_WAIT_REPLICAS": "all"}, "KEZEKBOT_REDIS_WAIT_REPLICAS", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				var u *usageError
				if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want a one-line usage error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.redis.topology().Mode(); got != tt.mode {
				t.Fatalf("mode %s, want %s", got, tt.mode)
			}
			if tt.mode == "sentinel" && !slices.Contains(c.redis.Sentinels, "a:1") && !slices.Contains(c.redis.Sentinels, "10.0.0.2:26379") {
				t.Fatalf("sentinels %v", c.redis.Sentinels)
			}
		})
	}
}
