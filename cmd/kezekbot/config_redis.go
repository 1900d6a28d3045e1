package main

import (
	"errors"
	"net/url"

	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// redisConfig holds how Redis is reached beyond KEZEKBOT_REDIS_URL's one address (issue 12):
// Sentinel or Cluster. The URL still carries TLS, credentials, database and client options.
type redisConfig struct {
	Sentinels        []string
	Master           string
	SentinelPassword secret
	Cluster          []string
	WaitReplicas     int
}

func (r redisConfig) topology() redisstore.Topology {
	return redisstore.Topology{Sentinels: r.Sentinels, Master: r.Master, SentinelPassword: string(r.SentinelPassword), Cluster: r.Cluster}
}

func addrsField(dst func(c *Config) *[]string) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		a, err := redisstore.ParseAddrs(v)
		if err != nil {
			return err
		}
		*dst(c) = a
		return nil
	}
}

var redisConfigFields = []configField{
	{"KEZEKBOT_REDIS_SENTINELS", "redis-sentinels", "",
		"host:port of Redis Sentinels, comma-separated (with KEZEKBOT_REDIS_MASTER); the URL's host is then not dialled",
		addrsField(func(c *Config) *[]string { return &c.redis.Sentinels })},
	{"KEZEKBOT_REDIS_MASTER", "redis-master", "",
		"name of the master the Sentinels watch (sentinel monitor NAME …)",
		func(c *Config, v string) error { c.redis.Master = v; return nil }},
	{"KEZEKBOT_REDIS_SENTINEL_PASSWORD", "redis-sentinel-password", "",
		"password of the Sentinels themselves, if they require one (the master's is in the URL)",
		func(c *Config, v string) error { c.redis.SentinelPassword = secret(v); return nil }},
	{"KEZEKBOT_REDIS_CLUSTER", "redis-cluster", "",
		"host:port of some Redis Cluster nodes, comma-separated; the URL's host is then not dialled",
		addrsField(func(c *Config) *[]string { return &c.redis.Cluster })},
	{"KEZEKBOT_REDIS_WAIT_REPLICAS", "redis-wait-replicas", "0",
		"replicas that must confirm a dialog commit before the update is acknowledged (Redis WAIT; single server or Sentinel; 0: asynchronous)",
		intField(0, 16, func(c *Config) *int { return &c.redis.WaitReplicas })},
}

func init() { configFields = append(configFields, redisConfigFields...) }

// checkRedis refuses settings that contradict each other, in one line naming them.
func (c *Config) checkRedis() error {
	t := c.redis.topology()
	if err := t.Validate(); err != nil {
		return usagef("KEZEKBOT_REDIS_SENTINELS/MASTER/CLUSTER: %v", err)
	}
	if t.Mode() == "cluster" && c.redis.WaitReplicas > 0 {
		return usagef("KEZEKBOT_REDIS_WAIT_REPLICAS: works with a single server or Sentinel, not with KEZEKBOT_REDIS_CLUSTER")
	}
	if t.Mode() == "single" {
		return nil
	}
	u, err := url.Parse(string(c.RedisURL))
	if err != nil {
		return usagef("KEZEKBOT_REDIS_URL: %v", errors.New("not a URL"))
	}
	if t.Mode() == "cluster" {
		if p := u.Path; p != "" && p != "/" && p != "/0" || u.Query().Has("db") && u.Query().Get("db") != "0" {
			return usagef("KEZEKBOT_REDIS_URL: Redis Cluster has database 0 only; drop the database from the URL")
		}
	}
	return nil
}
