package main

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	signerlink "github.com/kezekbot/kezekbot/signer-link"
)

// The admin API and the city's push endpoint are authenticated (a bearer token, an HMAC), but a
// stranger can still knock: each knock reads a body and, for the push, computes an HMAC over
// it. These limits cap what one client address can make a replica do, before any of that work.
// The webhook has none: only Telegram calls it, from few addresses and at the rate updates
// come; its secret is checked in constant time before the body is read.
const (
	defaultAdminRate    = "10/1s,20"
	defaultCityPushRate = "20/1s,40" // 20 pushes of up to 1 MiB a second: far above 10,000 changes/s
)

var doorLimitFields = []configField{
	{"KEZEKBOT_ADMIN_RATE", "admin-rate", defaultAdminRate,
		"admin API requests per client address (IPv6: per /64): N/DURATION,BURST or off",
		rateField(func(c *Config) *signerlink.Rate { return &c.security.AdminRate })},
	{"KEZEKBOT_CITY_PUSH_RATE", "city-push-rate", defaultCityPushRate,
		"pushes to POST /city/changes per client address: N/DURATION,BURST or off",
		rateField(func(c *Config) *signerlink.Rate { return &c.security.CityPushRate })},
}

func init() { configFields = append(configFields, doorLimitFields...) }

// limitClients answers 429 with Retry-After to a client address past rate, before next does
// any work. The buckets are the signature limits' (Redis in serve, shared by the replicas). A
// limiter outage lets the request through, logged: the door's own authentication still stands.
func limitClients(door string, rate signerlink.Rate, lim signerlink.RateLimiter, trusted []netip.Prefix,
	refused func(door, scope string), log *slog.Logger, next http.Handler) http.Handler {
	if rate.Off() || lim == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := door + ":client:" + signerlink.ClientKey(signerlink.ClientAddr(r, trusted))
		ok, retry, err := lim.Allow(r.Context(), key, rate.PerSecond, rate.Burst)
		switch {
		case err != nil:
			log.WarnContext(r.Context(), "rate limit unavailable; request let through", "door", door, "err", err)
		case !ok:
			if refused != nil {
				refused(door, "client")
			}
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int((retry+time.Second-1)/time.Second))))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"code":"rate_limited","message":"too many requests from this address; retry after the Retry-After seconds"}` + "\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
