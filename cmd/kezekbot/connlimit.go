package main

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// limitServer applies the public port's header and connection limits (issue 17, finding 5):
// Go's default lets a request carry 1 MiB of headers, and nothing caps open connections, so
// 200 idle connections with large headers held ~300 MB. Headers are capped at
// KEZEKBOT_MAX_HEADER_BYTES (431 past it) and connections at KEZEKBOT_MAX_CONNS: past the cap a
// new connection gets a 503 with Retry-After and is closed at once, so memory stays bounded and
// a load balancer or Telegram retries elsewhere or later.
func limitServer(srv *http.Server, ln net.Listener, maxHeaderBytes, maxConns int, refused func()) net.Listener {
	if maxHeaderBytes <= 0 {
		maxHeaderBytes = defaultMaxHeaderBytes
	}
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	srv.MaxHeaderBytes = maxHeaderBytes
	return &shedListener{Listener: ln, max: int64(maxConns), refused: refused}
}

// shedListener counts open connections; past max it answers 503 and closes instead of
// handing the connection to the server. Unlike netutil.LimitListener it never blocks Accept:
// a waiting connection would still hold a socket and its buffers.
type shedListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused func()
}

// shed is the whole answer to a connection over the cap.
const shed = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\nContent-Length: 20\r\n\r\nserver busy, retry\r\n"

func (l *shedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &countedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		if l.refused != nil {
			l.refused()
		}
		// A fresh socket's send buffer takes these bytes without blocking; the deadline only
		// guards against a pathological peer. The request is not read: it may be anything.
		_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		_, _ = c.Write([]byte(shed))
		_ = c.Close()
	}
}

type countedConn struct {
	net.Conn
	l    *shedListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
