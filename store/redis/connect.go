package redisstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Topology says how to reach Redis beyond the URL's one address. The zero Topology is the
// single server of the URL. With Sentinels (and Master) or Cluster set, the URL still supplies
// the scheme (rediss:// = TLS, the certificate of every node checked against the URL's host
// name), user, password, database and client options; its host is not dialled.
type Topology struct {
	// Sentinels are host:port addresses of Redis Sentinels watching Master; the client asks
	// them for the current master and follows a failover.
	Sentinels []string
	// Master is the name the Sentinels know the master by (sentinel monitor <name> …).
	Master string
	// SentinelPassword authenticates to the Sentinels (their requirepass), if they need one.
	SentinelPassword string
	// Cluster are host:port addresses of some Redis Cluster nodes (seeds); the client learns
	// the rest of the cluster from them.
	Cluster []string
}

// Mode names the topology: "single", "sentinel" or "cluster".
func (t Topology) Mode() string {
	switch {
	case len(t.Cluster) > 0:
		return "cluster"
	case len(t.Sentinels) > 0 || t.Master != "":
		return "sentinel"
	}
	return "single"
}

// Validate refuses contradictory settings, with a one-line reason.
func (t Topology) Validate() error {
	switch {
	case len(t.Cluster) > 0 && (len(t.Sentinels) > 0 || t.Master != ""):
		return errors.New("cluster and sentinel addresses exclude each other (a cluster fails over by itself)")
	case len(t.Sentinels) > 0 && t.Master == "":
		return errors.New("sentinel addresses need the master's name")
	case t.Master != "" && len(t.Sentinels) == 0:
		return errors.New("a master name needs sentinel addresses")
	case t.SentinelPassword != "" && len(t.Sentinels) == 0:
		return errors.New("a sentinel password needs sentinel addresses")
	}
	for _, a := range append(append([]string(nil), t.Sentinels...), t.Cluster...) {
		if err := checkAddr(a); err != nil {
			return err
		}
	}
	return nil
}

func checkAddr(a string) error {
	h, p, err := net.SplitHostPort(a)
	if err != nil || h == "" || p == "" {
		return fmt.Errorf("want host:port, got %q", a)
	}
	return nil
}

// ParseAddrs splits a comma-separated list of host:port addresses; "" is none.
func ParseAddrs(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []string
	for a := range strings.SplitSeq(v, ",") {
		a = strings.TrimSpace(a)
		if err := checkAddr(a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Connect builds the client for rawURL and t without talking to Redis: a plain client, a
// Sentinel failover client or a Cluster client, all behind redis.UniversalClient.
func Connect(rawURL string, t Topology) (redis.UniversalClient, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, password included; keep only the cause.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("parse url: %w", err)
	}
	opt.Dialer = plainConnDialer(redis.NewDialer(opt))
	mode := t.Mode()
	if mode == "single" {
		return redis.NewClient(opt), nil
	}
	if opt.Network == "unix" {
		return nil, fmt.Errorf("a unix socket URL cannot name a %s's nodes", mode)
	}
	u := universal(opt)
	if mode == "cluster" {
		if opt.DB != 0 {
			return nil, fmt.Errorf("redis cluster has database 0 only, the URL names %d", opt.DB)
		}
		u.Addrs = t.Cluster
		return redis.NewClusterClient(u.Cluster()), nil
	}
	u.Addrs, u.MasterName, u.SentinelPassword = t.Sentinels, t.Master, t.SentinelPassword
	return redis.NewFailoverClient(u.Failover()), nil
}

// universal carries the URL's client settings over to the Sentinel and Cluster clients.
func universal(o *redis.Options) *redis.UniversalOptions {
	return &redis.UniversalOptions{
		ClientName:            o.ClientName,
		DB:                    o.DB,
		Dialer:                o.Dialer,
		OnConnect:             o.OnConnect,
		Protocol:              o.Protocol,
		Username:              o.Username,
		Password:              o.Password,
		MaxRetries:            o.MaxRetries,
		MinRetryBackoff:       o.MinRetryBackoff,
		MaxRetryBackoff:       o.MaxRetryBackoff,
		DialTimeout:           o.DialTimeout,
		ReadTimeout:           o.ReadTimeout,
		WriteTimeout:          o.WriteTimeout,
		ContextTimeoutEnabled: o.ContextTimeoutEnabled,
		PoolFIFO:              o.PoolFIFO,
		PoolSize:              o.PoolSize,
		PoolTimeout:           o.PoolTimeout,
		MinIdleConns:          o.MinIdleConns,
		MaxIdleConns:          o.MaxIdleConns,
		MaxActiveConns:        o.MaxActiveConns,
		ConnMaxIdleTime:       o.ConnMaxIdleTime,
		ConnMaxLifetime:       o.ConnMaxLifetime,
		TLSConfig:             o.TLSConfig,
		DisableIdentity:       o.DisableIdentity,
		IdentitySuffix:        o.IdentitySuffix,
	}
}
