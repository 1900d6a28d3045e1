package postgres

import (
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultConnectTimeout bounds one connection attempt to one host when the URL sets no
// connect_timeout. pgxpool's own bound is two minutes per host: with a multi-host URL whose
// first host is gone without a reset (a dead machine, a dropped route), every new connection
// would wait that long before trying the next host, which is the failover we want to be quick.
const DefaultConnectTimeout = 5 * time.Second

// sqlstateReadOnly is read_only_sql_transaction: a write reached a server that is not (or no
// longer) a primary.
const sqlstateReadOnly = "25006"

// configureFailover makes the pool cope with a multi-host URL and a primary that moves
// (postgres://h1,h2/db?target_session_attrs=read-write):
//
//   - target_session_attrs itself is pgx's: a new connection tries the hosts in order and keeps
//     the first whose `SHOW transaction_read_only` is off, so new connections only ever land on
//     the primary;
//   - each host gets DefaultConnectTimeout unless the URL says otherwise;
//   - a connection already open to a server that has become read-only (a primary demoted
//     without a restart, or a proxy or DNS name that now leads to a standby) would otherwise
//     stay in the pool and fail every write until its lifetime ran out; the first write that
//     gets SQLSTATE 25006 closes it instead, the pool destroys it on release, and the next
//     connection goes through target_session_attrs again. The write that hit it fails (the
//     caller's retry, or Telegram's redelivery, runs it again on the new primary). Idle pings
//     cannot see this: a standby answers them.
//
// A connection to a primary that went down is closed by pgx already (FATAL errors, broken
// sockets; the pool pings a connection idle for more than a second before handing it out).
func configureFailover(cfg *pgxpool.Config) {
	cc := &cfg.ConnConfig.Config
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	prev := cc.OnPgError
	cc.OnPgError = func(c *pgconn.PgConn, e *pgconn.PgError) bool {
		if e.Code == sqlstateReadOnly {
			return false // close this connection
		}
		if prev != nil {
			return prev(c, e)
		}
		return !strings.EqualFold(e.Severity, "FATAL")
	}
}
