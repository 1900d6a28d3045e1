package bot

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// h1Transport makes HTTP/1.1 calls on the caller's goroutine: it writes the request and reads
// the answer itself over a pooled keep-alive connection. net/http's Transport hands every call
// to two goroutines per connection (writeLoop, readLoop) and back, four goroutine switches per
// Bot API call, which on the bot's hot path cost more than the call's own work. Requests it does
// not handle (a proxy configured for the URL, a scheme other than http/https) go to fallback.
type h1Transport struct {
	fallback *http.Transport
	dialer   net.Dialer
	maxIdle  int           // idle connections kept per host
	idleFor  time.Duration // an idle connection older than this is closed, not reused

	mu   sync.Mutex
	idle map[string][]*h1Conn
}

type h1Conn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	key    string
	usedAt time.Time
}

func newH1Transport(fallback *http.Transport) *h1Transport {
	return &h1Transport{
		fallback: fallback,
		dialer:   net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle:  fallback.MaxIdleConnsPerHost,
		idleFor:  30 * time.Second,
		idle:     make(map[string][]*h1Conn),
	}
}

// CloseIdleConnections closes the pooled connections (http.Client.CloseIdleConnections).
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = make(map[string][]*h1Conn)
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			_ = c.c.Close()
		}
	}
	t.fallback.CloseIdleConnections()
}

var errPastDeadline = time.Unix(1, 0)

func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return t.fallback.RoundTrip(req)
	}
	if t.fallback.Proxy != nil {
		if p, err := t.fallback.Proxy(req); err != nil || p != nil {
			return t.fallback.RoundTrip(req)
		}
	}
	ctx := req.Context()
	key := u.Scheme + "://" + u.Host
	pc := t.get(key)
	if pc == nil {
		var err error
		if pc, err = t.dial(ctx, u.Scheme, u.Host, u.Hostname()); err != nil {
			closeBody(req)
			return nil, err
		}
		pc.key = key
	}
	dl, _ := ctx.Deadline()
	_ = pc.c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = pc.c.SetDeadline(errPastDeadline) })
	fail := func(err error) (*http.Response, error) {
		stop()
		_ = pc.c.Close()
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
		} else if !dl.IsZero() && !time.Now().Before(dl) {
			err = context.DeadlineExceeded // the socket deadline beat the context's timer
		}
		return nil, err
	}
	if err := req.Write(pc.bw); err != nil {
		return fail(err)
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(pc.br, req)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the server closed the connection without answering
		}
		return fail(err)
	}
	resp.Body = &h1Body{t: t, pc: pc, rc: resp.Body, stop: stop, reuse: !resp.Close && !req.Close}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

func (t *h1Transport) dial(ctx context.Context, scheme, hostport, host string) (*h1Conn, error) {
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		if scheme == "https" {
			hostport = net.JoinHostPort(hostport, "443")
		} else {
			hostport = net.JoinHostPort(hostport, "80")
		}
	}
	c, err := t.dialer.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	if scheme == "https" {
		cfg := &tls.Config{}
		if t.fallback.TLSClientConfig != nil {
			cfg = t.fallback.TLSClientConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(c, cfg)
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = c.Close()
			return nil, err
		}
		c = tc
	}
	return &h1Conn{c: c, br: bufio.NewReaderSize(c, 4096), bw: bufio.NewWriterSize(c, 4096)}, nil
}

func (t *h1Transport) get(key string) *h1Conn {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.idle[key]
	for len(cs) > 0 {
		pc := cs[len(cs)-1]
		cs[len(cs)-1] = nil
		cs = cs[:len(cs)-1]
		t.idle[key] = cs
		if now.Sub(pc.usedAt) < t.idleFor {
			return pc
		}
		_ = pc.c.Close()
	}
	return nil
}

func (t *h1Transport) put(pc *h1Conn) {
	pc.usedAt = time.Now()
	t.mu.Lock()
	if cs := t.idle[pc.key]; len(cs) < t.maxIdle {
		t.idle[pc.key] = append(cs, pc)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	_ = pc.c.Close()
}

// h1Body returns the connection to the pool once the answer is read to the end, or closes it
// if the caller stops early.
type h1Body struct {
	t     *h1Transport
	pc    *h1Conn
	rc    io.ReadCloser
	stop  func() bool
	reuse bool
	done  bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.finish(err == io.EOF)
	}
	return n, err
}

func (b *h1Body) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

func (b *h1Body) finish(atEOF bool) {
	b.done = true
	live := b.stop() // false: the context ended and the deadline was cut short
	if atEOF && live && b.reuse && b.pc.br.Buffered() == 0 {
		b.t.put(b.pc)
		return
	}
	_ = b.pc.c.Close()
}

// NewAPITransport returns the round tripper for the Bot API: HTTP/1.1 keep-alive calls made on
// the caller's goroutine (see h1Transport), NewTransport's settings for the rest.
func NewAPITransport() http.RoundTripper { return newH1Transport(NewTransport()) }
