package redisstore

import (
	"net/url"
	"os"
	"strconv"
)

// TestURLEnv names the environment variable that points tests at a Redis server.
const TestURLEnv = "KEZEKBOT_TEST_REDIS_URL"

// TestURL returns the Redis URL other packages' tests should use: the server (and credentials)
// of $KEZEKBOT_TEST_REDIS_URL, default redis://127.0.0.1:6379, with database db, so each
// package can own a DB number (this package's own tests use DB 1).
func TestURL(db int) string {
	raw := os.Getenv(TestURLEnv)
	if raw == "" {
		raw = "redis://127.0.0.1:6379"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw // let redis.ParseURL report it where the test opens the store
	}
	u.Path = "/" + strconv.Itoa(db)
	return u.String()
}
