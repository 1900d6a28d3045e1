// Package fakencalayer is a stand-in for NCALayer, the program NCA RK's users run on their
// computers, for tests and the sandbox. It listens on a loopback WebSocket and speaks the same
// protocol as the real one (greeting, kz.gov.pki.knca.basics sign, the legacy
// kz.gov.pki.knca.commonUtils signXml), signing with test keys from xmlsigtest instead of
// asking a person for a key file and a password.
//
// The real NCALayer listens on wss://127.0.0.1:13579 with its own certificate; this one serves
// plain ws:// on a free port, so the signing page must be pointed at URL() (signerlink's
// Config.NCALayerURL). TEST KEYS, NOT REAL.
package fakencalayer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// Mode is how the fake answers a signing request.
type Mode int32

const (
	// Sign signs with the key of the requested usage, like a parent who picks the right key.
	Sign Mode = iota
	// Cancel answers as if the parent closed NCALayer's dialog.
	Cancel
	// WrongKey signs with the key of the other usage (AUTH when SIGN was asked, and the
	// reverse), like a parent who picks the wrong file — the real NCALayer lets them when the
	// filter is not applied.
	WrongKey
	// LegacyOnly answers kz.gov.pki.knca.basics as an NCALayer that does not have the module
	// and serves only commonUtils.signXml.
	LegacyOnly
	// Silent greets and then never answers, for timeout handling.
	Silent
)

// Protocol constants, as NCALayer uses them.
const (
	ModuleBasics      = "kz.gov.pki.knca.basics"
	ModuleCommonUtils = "kz.gov.pki.knca.commonUtils"
	EKUAuth           = "1.3.6.1.5.5.7.3.2"
	EKUSign           = "1.3.6.1.5.5.7.3.4"
	Version           = "1.4"
)

// Options configure a fake.
type Options struct {
	// Auth and Sign are the parent's two keys. A request for a usage whose key is nil is
	// answered as a cancel (the parent has no such key).
	Auth, Sign *xmlsigtest.Person
	// KeysFor, when set, picks the keys for each document instead of Auth and Sign: the
	// sandbox holds several demo parents and signs as the one the document was issued to.
	KeysFor func(doc string) (auth, sign *xmlsigtest.Person)
	Mode    Mode
	// Addr to listen on; "127.0.0.1:0" (a free port) when empty. Keep it on loopback.
	Addr   string
	Logger *slog.Logger
}

// Request is one request the fake received, for tests to inspect.
type Request struct {
	Module, Method string
	// Usage is the key the request asked for: from extKeyUsageOids (basics) or the key type
	// argument (commonUtils); 0 if it did not say.
	Usage  xmlsig.Usage
	Locale string
	Data   string // the XML to sign
}

// Server is a running fake. Close stops it; so does cancelling the context given to Start.
type Server struct {
	opts     Options
	mode     atomic.Int32
	ln       net.Listener
	srv      *http.Server
	log      *slog.Logger
	requests chan Request

	ctx    context.Context // cancelled by Close: ends every connection
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and wg.Add, so no connection starts after Close waits
	closed bool
	wg     sync.WaitGroup // the serve loop, the context watcher and every connection
	once   sync.Once
	err    error
	done   chan struct{} // closed when Close has finished
}

// Start listens and serves until ctx is cancelled or Close is called.
func Start(ctx context.Context, opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake NCALayer: listen: %w", err)
	}
	s := &Server{opts: opts, ln: ln, log: opts.Logger, requests: make(chan Request, 64), done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.mode.Store(int32(opts.Mode))
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveWS), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("fake NCALayer: serve", slog.Any("err", err))
		}
	}()
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// Releases the AfterFunc once the server is closed some other way.
		<-s.ctx.Done()
		stop()
	}()
	return s, nil
}

// URL is the WebSocket address to give the signing page, ws://127.0.0.1:<port>.
func (s *Server) URL() string { return "ws://" + s.ln.Addr().String() }

// SetMode changes how later requests are answered.
func (s *Server) SetMode(m Mode) { s.mode.Store(int32(m)) }

// Requests delivers every request received, in order. It is buffered; when nobody reads and
// the buffer is full, further requests are not recorded (the fake still answers them).
func (s *Server) Requests() <-chan Request { return s.requests }

// Close stops listening, ends open connections and waits for them.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.err = s.srv.Shutdown(ctx)
		s.wg.Wait()
		close(s.done)
	})
	return s.err
}

// Done is closed once the server has stopped (Close returned, or the context given to Start
// was cancelled and the shutdown finished).
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	// NCALayer accepts any origin: every web page that signs talks to it.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.CloseNow()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	c.SetReadLimit(1 << 20)
	defer c.CloseNow()
	// session only ends on an error (a closed or broken connection).
	if err := s.session(ctx, c); ctx.Err() == nil &&
		websocket.CloseStatus(err) != websocket.StatusNormalClosure && websocket.CloseStatus(err) != websocket.StatusGoingAway {
		s.log.Debug("fake NCALayer: session ended", slog.Any("err", err))
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
}

func (s *Server) session(ctx context.Context, c *websocket.Conn) error {
	if err := writeJSON(ctx, c, map[string]any{"result": map[string]any{"version": Version}}); err != nil {
		return err
	}
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			return err
		}
		reply, ok := s.handle(msg)
		if !ok {
			continue
		}
		if err := writeJSON(ctx, c, reply); err != nil {
			return err
		}
	}
}

func writeJSON(ctx context.Context, c *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode reply: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, b)
}

type request struct {
	Module string          `json:"module"`
	Method string          `json:"method"`
	Args   json.RawMessage `json:"args"`
}

type basicsArgs struct {
	Format       string          `json:"format"`
	Data         json.RawMessage `json:"data"`
	Locale       string          `json:"locale"`
	SignerParams struct {
		ExtKeyUsageOids []string `json:"extKeyUsageOids"`
	} `json:"signerParams"`
}

// handle answers one message; ok is false when the fake stays silent.
func (s *Server) handle(msg []byte) (reply any, ok bool) {
	var req request
	if err := json.Unmarshal(msg, &req); err != nil {
		return legacyError("org.json.JSONException: " + err.Error()), true
	}
	mode := Mode(s.mode.Load())
	switch {
	case req.Module == ModuleBasics && req.Method == "sign":
		var a basicsArgs
		if err := json.Unmarshal(req.Args, &a); err != nil {
			return basicsError("INVOCATION_ERROR", "org.json.JSONException: "+err.Error()), true
		}
		usage := xmlsig.Usage(0)
		if slices.Contains(a.SignerParams.ExtKeyUsageOids, EKUAuth) {
			usage |= xmlsig.UsageAuth
		}
		if slices.Contains(a.SignerParams.ExtKeyUsageOids, EKUSign) {
			usage |= xmlsig.UsageSign
		}
		var data string
		if err := json.Unmarshal(a.Data, &data); err != nil {
			var many []string
			if err := json.Unmarshal(a.Data, &many); err != nil || len(many) == 0 {
				return basicsError("INVOCATION_ERROR", "data must be a string or an array of strings"), true
			}
			data = many[0]
		}
		s.record(Request{Module: req.Module, Method: req.Method, Usage: usage, Locale: a.Locale, Data: data})
		switch mode {
		case LegacyOnly:
			return legacyError("Module " + ModuleBasics + " not found"), true
		case Silent:
			return nil, false
		case Cancel:
			return map[string]any{"status": true, "body": map[string]any{}}, true
		}
		if a.Format != "xml" {
			return basicsError("INVOCATION_ERROR", "unsupported format "+a.Format), true
		}
		p := s.person(usage, mode, data)
		if p == nil {
			return map[string]any{"status": true, "body": map[string]any{}}, true
		}
		signed, err := xmlsigtest.Sign([]byte(data), p)
		if err != nil {
			return basicsError("INVOCATION_ERROR", "org.xml.sax.SAXParseException; "+err.Error()), true
		}
		return map[string]any{"status": true, "body": map[string]any{"result": []string{string(signed)}}}, true

	case req.Module == ModuleCommonUtils && req.Method == "signXml":
		var args []string
		if err := json.Unmarshal(req.Args, &args); err != nil || len(args) != 5 {
			return legacyError("java.lang.IllegalArgumentException: argument type mismatch. Method: signXml"), true
		}
		var usage xmlsig.Usage
		switch args[1] {
		case "AUTHENTICATION":
			usage = xmlsig.UsageAuth
		case "SIGNATURE":
			usage = xmlsig.UsageSign
		}
		s.record(Request{Module: req.Module, Method: req.Method, Usage: usage, Data: args[2]})
		switch mode {
		case Silent:
			return nil, false
		case Cancel:
			return legacyError("action.canceled"), true
		}
		p := s.person(usage, mode, args[2])
		if p == nil {
			return legacyError("action.canceled"), true
		}
		signed, err := xmlsigtest.Sign([]byte(args[2]), p)
		if err != nil {
			return legacyError("org.xml.sax.SAXParseException; " + err.Error()), true
		}
		return map[string]any{"code": "200", "responseObject": string(signed)}, true

	case req.Module == ModuleCommonUtils && req.Method == "getActiveTokens":
		return map[string]any{"code": "200", "responseObject": []string{}}, true
	}
	if req.Module == ModuleBasics {
		return basicsError("MODULE_ERROR", "unknown method "+req.Method), true
	}
	return legacyError("unknown module or method " + req.Module + "." + req.Method), true
}

// person picks the key the "parent" chooses: the requested one, or the other in WrongKey
// mode. A request that names no usage gets the SIGN key, as most parents would pick.
func (s *Server) person(u xmlsig.Usage, mode Mode, doc string) *xmlsigtest.Person {
	auth := u&xmlsig.UsageAuth != 0 && u&xmlsig.UsageSign == 0
	if mode == WrongKey {
		auth = !auth
	}
	a, sg := s.opts.Auth, s.opts.Sign
	if s.opts.KeysFor != nil {
		a, sg = s.opts.KeysFor(doc)
	}
	if auth {
		return a
	}
	return sg
}

func (s *Server) record(r Request) {
	select {
	case s.requests <- r:
	default:
	}
}

func legacyError(msg string) map[string]any {
	return map[string]any{"code": "500", "message": msg}
}

func basicsError(code, msg string) map[string]any {
	return map[string]any{"status": false, "code": code, "message": msg}
}
