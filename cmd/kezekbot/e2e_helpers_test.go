package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
	"github.com/redis/go-redis/v9"

	"github.com/kezekbot/kezekbot/bot"
	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// e2eRedisDB is the Redis database number assigned to this package's tests.
const e2eRedisDB = 4

// e2eWait bounds every wait for the bot; a healthy run needs a tiny fraction of it.
const e2eWait = 20 * time.Second

// e2eToken is what the bot presents to the fake Bot API; it only has to look like a token.
const e2eToken = "123456789:E2E-test-token-not-a-real-one-xxxxxx"

// e2eClock is a settable clock shared by the dialog, the store and the signing links, so that
// a test can let the 24-hour window close. It starts at real time because the test CA's
// certificates are valid from an hour ago.
type e2eClock struct{ t atomic.Pointer[time.Time] }

func newE2EClock() *e2eClock {
	c := &e2eClock{}
	now := time.Now().Truncate(time.Second)
	c.t.Store(&now)
	return c
}

func (c *e2eClock) Now() time.Time { return *c.t.Load() }

func (c *e2eClock) Advance(d time.Duration) {
	now := c.Now().Add(d)
	c.t.Store(&now)
}

// keyPair is a demo parent's two test keys, as NCALayer would hold them.
type keyPair struct{ auth, sign *xmlsigtest.Person }

// e2eEnv is one kezekbot under test: the real app (intake, flows, signer-link, stores) over a
// fresh PostgreSQL schema with the demo data, Redis DB 4 under a key prefix of its own, the
// fake Bot API and a test CA. The HTTP side is served over TLS, as in production, so that the
// signing links are https:// and the CSRF cookie is Secure.
type e2eEnv struct {
	t        *testing.T
	tg       *telegramtest.Server
	dbURL    string
	db       *postgres.DB // the test's own handle, for assertions
	rdb      *redis.Client
	prefix   string
	clock    *e2eClock
	cat      *i18n.Catalog
	keys     []keyPair // by index into postgres.DemoParents
	gostKeys []keyPair // the same parents' GOST-2015-512 keys (NCA's one key type from now on)
	trust    *xmlsig.TrustStore
	tlsCfg   *tls.Config
	client   *http.Client // trusts the server's certificate
	addr     string       // kept across restarts, so links handed out earlier still point here
	linkKeys string
	// env are settings every start uses (city mode); workers runs the replica's background
	// workers too (notifications, the city's deliverer and change feed).
	env     map[string]string
	workers bool

	logMu sync.Mutex
	logs  bytes.Buffer

	running *e2eRun
	handled *updateLog
	cbSeq   atomic.Int64
	msgSeq  atomic.Int64
	cbMu    sync.Mutex
	cbIDs   []string // every callback query sent, to check each was answered exactly once
}

type e2eRun struct {
	app    *app
	cancel context.CancelFunc
	done   chan error
	addr   string
}

func newE2EEnv(t *testing.T) *e2eEnv { t.Helper(); return newE2EEnvSeed(t, true) }

// newE2EEnvSeed is newE2EEnv with the demo data in kezekbot's database (embedded mode) or not
// (city mode: the demo lives at the reference city).
func newE2EEnvSeed(t *testing.T, seed bool) *e2eEnv {
	t.Helper()
	e := &e2eEnv{t: t, clock: newE2EClock(), handled: newUpdateLog()}
	var err error
	if e.cat, err = i18n.New(); err != nil {
		t.Fatalf("catalogs: %v", err)
	}
	e.tg = telegramtest.New()
	t.Cleanup(e.tg.Close)

	e.dbURL = pgtest.URL(t)
	e.db = pgtest.Open(t, e.dbURL)
	e.db.Now = e.clock.Now
	if seed {
		if err := e.db.Seed(context.Background(), e.clock.Now()); err != nil {
			t.Fatalf("seed demo data: %v", err)
		}
	}

	var b [6]byte
	_, _ = rand.Read(b[:])
	e.prefix = "e2e" + hex.EncodeToString(b[:]) + ":"
	opt, err := redis.ParseURL(redisstore.TestURL(e2eRedisDB))
	if err != nil {
		t.Fatalf("redis URL: %v", err)
	}
	e.rdb = redis.NewClient(opt)
	t.Cleanup(func() {
		// Only this test's keys: other packages' tests share the server.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := e.rdb.Scan(ctx, 0, e.prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			e.rdb.Del(ctx, iter.Val())
		}
		_ = e.rdb.Close()
	})

	ca, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatalf("test CA: %v", err)
	}
	gostCA, err := xmlsigtest.NewGOSTCA()
	if err != nil {
		t.Fatalf("GOST test CA: %v", err)
	}
	// One trust store with both, as a real KEZEKBOT_TRUST_DIR holds NCA's RSA and GOST CAs.
	e.trust = xmlsigtest.TrustStoreOf(ca, gostCA)
	for i, p := range postgres.DemoParents {
		for _, c := range []struct {
			ca   *xmlsigtest.CA
			keys *[]keyPair
		}{{ca, &e.keys}, {gostCA, &e.gostKeys}} {
			var k keyPair
			if k.auth, err = c.ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth, IIN: p.IIN}); err != nil {
				t.Fatalf("key of demo parent %d: %v", i, err)
			}
			if k.sign, err = c.ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign, IIN: p.IIN}); err != nil {
				t.Fatalf("key of demo parent %d: %v", i, err)
			}
			*c.keys = append(*c.keys, k)
		}
	}
	e.tlsCfg, e.client = selfSignedTLS(t)
	var lk [32]byte
	_, _ = rand.Read(lk[:])
	// Fixed link keys, as in webhook mode: a link handed out before a restart still works.
	e.linkKeys = "1:" + base64.StdEncoding.EncodeToString(lk[:])
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			e.logMu.Lock()
			t.Logf("kezekbot log:\n%s", e.logs.String())
			e.logMu.Unlock()
		}
	})
	return e
}

// selfSignedTLS returns a server configuration for 127.0.0.1 and a client that trusts it.
func selfSignedTLS(t *testing.T) (*tls.Config, *http.Client) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kezekbot e2e"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(72 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	srv := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}
	client := &http.Client{Timeout: e2eWait, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return srv, client
}

func (e *e2eEnv) Write(p []byte) (int, error) {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.logs.Write(p)
}

// config builds the app's configuration the way the binary does, from settings, so that the
// test goes through the same validation.
func (e *e2eEnv) config(extra map[string]string) *Config {
	e.t.Helper()
	env := map[string]string{
		"KEZEKBOT_MODE":             "polling",
		"KEZEKBOT_TELEGRAM_TOKEN":   e2eToken,
		"KEZEKBOT_TELEGRAM_API_URL": e.tg.URL,
		"KEZEKBOT_HTTP_ADDR":        e.addr,
		"KEZEKBOT_DATABASE_URL":     e.dbURL,
		"KEZEKBOT_REDIS_URL":        redisstore.TestURL(e2eRedisDB),
		"KEZEKBOT_PUBLIC_URL":       "https://" + e.addr,
		"KEZEKBOT_LINK_KEYS":        e.linkKeys,
		"KEZEKBOT_LOG_LEVEL":        "debug",
		"KEZEKBOT_SHUTDOWN_GRACE":   "10s",
	}
	for k, v := range e.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := loadConfig(flag.NewFlagSet("e2e", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	if err != nil {
		e.t.Fatalf("config: %v", err)
	}
	return cfg
}

// start builds and runs a new app on the environment's stores (a fresh process, as far as the
// bot can tell) and waits until its poller is waiting for updates.
func (e *e2eEnv) start() {
	e.t.Helper()
	if e.running != nil {
		e.t.Fatal("start: the app is already running")
	}
	addr := e.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	e.running = e.launch(addr, func(actual string) map[string]string {
		e.addr = actual
		return nil
	})
	wctx, wcancel := context.WithTimeout(context.Background(), e2eWait)
	defer wcancel()
	if err := e.tg.WaitPolling(wctx); err != nil {
		e.t.Fatalf("the bot does not poll: %v", err)
	}
}

// launch listens on addr, builds an app with the environment's settings plus what settings
// returns for the address actually bound, and runs it over TLS.
func (e *e2eEnv) launch(addr string, settings func(actual string) map[string]string) *e2eRun {
	e.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		e.t.Fatalf("listen: %v", err)
	}
	cfg := e.config(settings(ln.Addr().String()))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, appOptions{
		cfg:         cfg,
		log:         slog.New(slog.NewTextHandler(e, &slog.HandlerOptions{Level: slog.LevelDebug})),
		trust:       e.trust,
		now:         e.clock.Now,
		redisPrefix: e.prefix,
	})
	if err != nil {
		cancel()
		_ = ln.Close()
		e.t.Fatalf("new app: %v", err)
	}
	// The poller hands updates to a.handler: wrap it to learn when each one is done. (The
	// webhook route was mounted with the handler before; a webhook answers after handling.)
	a.handler = &handledUpdates{h: a.handler, log: e.handled}
	r := &e2eRun{app: a, cancel: cancel, done: make(chan error, 1), addr: ln.Addr().String()}
	var bg []func(context.Context) error
	if e.workers {
		bg = a.workers()
	}
	go func() { r.done <- a.run(ctx, tls.NewListener(ln, e.tlsCfg), bg...) }()
	return r
}

// stop shuts the running app down the way SIGTERM does and releases its stores.
func (e *e2eEnv) stop() {
	r := e.running
	if r == nil {
		return
	}
	e.running = nil
	e.halt(r)
}

// halt shuts one app down the way SIGTERM does and releases its stores.
func (e *e2eEnv) halt(r *e2eRun) {
	e.t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			e.t.Errorf("app run: %v", err)
		}
	case <-time.After(e2eWait):
		e.t.Errorf("the app did not stop within %v", e2eWait)
	}
	r.app.close()
}

// checkAnswered fails the test unless every callback query sent so far was answered exactly
// once: a client shows a spinner until it is, and a second answer is an error at Telegram.
func (e *e2eEnv) checkAnswered() {
	e.t.Helper()
	n := map[string]int{}
	for _, c := range e.tg.CallsOf("answerCallbackQuery") {
		n[c.Params["callback_query_id"]]++
	}
	e.cbMu.Lock()
	defer e.cbMu.Unlock()
	for _, id := range e.cbIDs {
		if n[id] != 1 {
			e.t.Errorf("callback query %s answered %d times, want exactly once", id, n[id])
		}
	}
}

// checkLogs fails the test if the app's log carries what it must never log in clear: an IIN,
// a child's name, a signing link or signed XML.
func (e *e2eEnv) checkLogs() {
	e.t.Helper()
	e.logMu.Lock()
	logs := e.logs.String()
	e.logMu.Unlock()
	if !strings.Contains(logs, "signing link issued") && !strings.Contains(logs, "kezekbot serving") {
		e.t.Fatalf("the app's log is empty; nothing to check")
	}
	secrets := []string{"/s/", "SignatureValue", "X509Certificate", e2eToken}
	for _, p := range postgres.DemoParents {
		secrets = append(secrets, p.IIN, p.Name)
	}
	rows, err := e.db.Pool().Query(context.Background(), `SELECT iin, name FROM children`)
	if err != nil {
		e.t.Fatalf("children: %v", err)
	}
	for rows.Next() {
		var iin, name string
		if err := rows.Scan(&iin, &name); err != nil {
			e.t.Fatalf("children: %v", err)
		}
		secrets = append(secrets, iin, name)
	}
	rows.Close()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			e.t.Errorf("the app's log carries %q in clear", s)
		}
	}
}

// deliver hands updates to the bot through getUpdates and waits until each one was handled
// and its turn committed.
func (e *e2eEnv) deliver(upds ...models.Update) {
	e.t.Helper()
	ids := make([]int64, 0, len(upds))
	for _, u := range upds {
		ids = append(ids, e.tg.EnqueueUpdate(u))
	}
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	if err := e.handled.wait(ctx, ids...); err != nil {
		// Methods and chats only: the texts carry links and (demo) personal data.
		for _, c := range e.tg.Calls() {
			e.t.Logf("call %d %s chat %d failed %v", c.Seq, c.Method, c.ChatID(), c.Failed())
		}
		e.t.Fatalf("updates %v not handled: %v", ids, err)
	}
}

// updateLog records the updates the bot finished with, across restarts of the app.
type updateLog struct {
	mu      sync.Mutex
	done    map[int64]bool
	changed chan struct{}
}

func newUpdateLog() *updateLog {
	return &updateLog{done: map[int64]bool{}, changed: make(chan struct{})}
}

func (l *updateLog) add(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done[id] = true
	close(l.changed)
	l.changed = make(chan struct{})
}

// wait blocks until every one of ids was handled, or ctx is done.
func (l *updateLog) wait(ctx context.Context, ids ...int64) error {
	for {
		l.mu.Lock()
		missing := slices.ContainsFunc(ids, func(id int64) bool { return !l.done[id] })
		ch := l.changed
		l.mu.Unlock()
		if !missing {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// handledUpdates is the app's update handler with a note of each update it is done with. An
// update whose handling failed is delivered again by the poller, so only nil counts.
type handledUpdates struct {
	h   bot.Handler
	log *updateLog
}

func (x *handledUpdates) Handle(ctx context.Context, upd *models.Update) error {
	err := x.h.Handle(ctx, upd)
	if err == nil {
		x.log.add(upd.ID)
	}
	return err
}

// stateRaw returns the dialog state of a chat as Redis holds it ("" when there is none).
func (e *e2eEnv) stateRaw(chatID int64) string {
	e.t.Helper()
	s, err := e.rdb.HGet(context.Background(), e.prefix+"{"+strconv.FormatInt(chatID, 10)+"}:d", "s").Result()
	if errors.Is(err, redis.Nil) {
		return ""
	}
	if err != nil {
		e.t.Fatalf("read state: %v", err)
	}
	return s
}

func (e *e2eEnv) state(chatID int64) flows.State {
	e.t.Helper()
	var st flows.State
	raw := e.stateRaw(chatID)
	if raw == "" {
		return st
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		e.t.Fatalf("state of chat %d is not JSON: %v", chatID, err)
	}
	return st
}

// expireState deletes a chat's dialog state, which is what its TTL running out does.
func (e *e2eEnv) expireState(chatID int64) {
	e.t.Helper()
	if err := e.rdb.Del(context.Background(), e.prefix+"{"+strconv.FormatInt(chatID, 10)+"}:d").Err(); err != nil {
		e.t.Fatalf("expire state: %v", err)
	}
}

// tr is a catalog text, as the parent reads it.
func (e *e2eEnv) tr(lang, key string, args map[string]any) string { return e.cat.T(lang, key, args) }

// ---- a chat ----

// chat is one parent's private chat with the bot.
type chat struct {
	e    *e2eEnv
	id   int64
	lang string // Telegram language_code, and the catalog language
	// parent is the index into postgres.DemoParents whose keys this parent holds.
	parent int
	// gost: the parent's keys are GOST-2015-512 ones (e.gostKeys), not RSA.
	gost bool
}

// keyPair returns the keys this chat's parent signs with.
func (c *chat) keyPair() keyPair {
	if c.gost {
		return c.e.gostKeys[c.parent]
	}
	return c.e.keys[c.parent]
}

func (e *e2eEnv) chat(id int64, lang string, parent int) *chat {
	return &chat{e: e, id: id, lang: lang, parent: parent}
}

func (c *chat) user() models.User {
	return models.User{ID: c.id, FirstName: "Тест", LanguageCode: c.lang}
}

// screen is what the chat shows after an update: the bot's message calls, and the callback
// answer when the update was a press.
type screen struct {
	Answer  *telegramtest.Call
	Shows   []telegramtest.Call // sendMessage / editMessageText to this chat, in order
	Text    string              // plain text of the last show
	MsgID   int
	Buttons [][]models.InlineKeyboardButton
}

// result collects what the bot did for this chat since seq.
func (c *chat) result(seq int, cbID string) screen {
	var s screen
	for _, call := range c.e.tg.CallsSince(seq) {
		switch call.Method {
		case "answerCallbackQuery":
			if cbID != "" && call.Params["callback_query_id"] == cbID {
				call := call
				s.Answer = &call
			}
		case "sendMessage", "editMessageText":
			if call.ChatID() != c.id || call.Failed() {
				continue
			}
			s.Shows = append(s.Shows, call)
			s.Text = plain(call.Params["text"])
			s.MsgID = call.MessageID()
			if s.MsgID == 0 {
				s.MsgID, _ = strconv.Atoi(call.Params["message_id"])
			}
			s.Buttons = nil
			if m := call.Params["reply_markup"]; m != "" {
				var kb models.InlineKeyboardMarkup
				if err := json.Unmarshal([]byte(m), &kb); err != nil {
					c.e.t.Fatalf("reply_markup is not JSON: %v", err)
				}
				s.Buttons = kb.InlineKeyboard
			}
		}
	}
	return s
}

var tags = regexp.MustCompile(`<[^>]*>`)

// plain strips the HTML the renderer adds, leaving the text a parent reads.
func plain(s string) string { return html.UnescapeString(tags.ReplaceAllString(s, "")) }

// send sends a text message and returns what the bot answered.
func (c *chat) send(text string) screen {
	c.e.t.Helper()
	seq := len(c.e.tg.Calls())
	c.e.deliver(c.textUpdate(text))
	return c.result(seq, "")
}

// textUpdate is a text message from the parent.
func (c *chat) textUpdate(text string) models.Update {
	return models.Update{Message: &models.Message{
		ID:   int(c.e.msgSeq.Add(1)),
		Date: int(time.Now().Unix()),
		Chat: models.Chat{ID: c.id, Type: models.ChatTypePrivate},
		From: ptr(c.user()),
		Text: text,
	}}
}

func ptr[T any](v T) *T { return &v }

// callback builds a callback query update for a button on message msgID.
func (c *chat) callback(msgID int, data string) (models.Update, string) {
	id := fmt.Sprintf("cb%d-%d", c.id, c.e.cbSeq.Add(1))
	c.e.cbMu.Lock()
	c.e.cbIDs = append(c.e.cbIDs, id)
	c.e.cbMu.Unlock()
	return models.Update{CallbackQuery: &models.CallbackQuery{
		ID:           id,
		From:         c.user(),
		ChatInstance: "ci" + strconv.FormatInt(c.id, 10),
		Data:         data,
		Message: models.MaybeInaccessibleMessage{
			Type: models.MaybeInaccessibleMessageTypeMessage,
			Message: &models.Message{
				ID:   msgID,
				Date: int(time.Now().Unix()),
				Chat: models.Chat{ID: c.id, Type: models.ChatTypePrivate},
			},
		},
	}}, id
}

// pressData presses a button with this callback data on message msgID.
func (c *chat) pressData(msgID int, data string) screen {
	c.e.t.Helper()
	seq := len(c.e.tg.Calls())
	upd, id := c.callback(msgID, data)
	c.e.deliver(upd)
	s := c.result(seq, id)
	if s.Answer == nil {
		c.e.t.Fatalf("callback %q was not answered", data)
	}
	return s
}

// live returns the chat's current message (the one screens are edited into) and its buttons.
func (c *chat) live() (int, string, [][]models.InlineKeyboardButton) {
	c.e.t.Helper()
	id, text, markup, ok := c.e.tg.LastMessage(c.id)
	if !ok {
		c.e.t.Fatalf("chat %d has no message", c.id)
	}
	var kb models.InlineKeyboardMarkup
	if markup != "" {
		if err := json.Unmarshal([]byte(markup), &kb); err != nil {
			c.e.t.Fatalf("reply_markup is not JSON: %v", err)
		}
	}
	return id, plain(text), kb.InlineKeyboard
}

// findButton returns the button of the live message whose label contains label.
func (c *chat) findButton(label string) (msgID int, b models.InlineKeyboardButton, ok bool) {
	c.e.t.Helper()
	id, _, rows := c.live()
	for _, row := range rows {
		for _, b := range row {
			if strings.Contains(b.Text, label) {
				return id, b, true
			}
		}
	}
	return id, models.InlineKeyboardButton{}, false
}

// press presses the live message's button whose label contains label.
func (c *chat) press(label string) screen {
	c.e.t.Helper()
	id, b, ok := c.findButton(label)
	if !ok {
		_, text, rows := c.live()
		c.e.t.Fatalf("no button %q on the live message %q; buttons: %s", label, text, labels(rows))
	}
	if b.CallbackData == "" {
		c.e.t.Fatalf("button %q is not a callback button", label)
	}
	return c.pressData(id, b.CallbackData)
}

// pressKey presses the button labelled with catalog key key.
func (c *chat) pressKey(key string) screen { return c.press(c.e.tr(c.lang, key, nil)) }

// linkOf returns the URL of the live message's button labelled with catalog key key.
func (c *chat) linkOf(key string) string {
	c.e.t.Helper()
	label := c.e.tr(c.lang, key, nil)
	_, b, ok := c.findButton(label)
	if !ok {
		_, text, rows := c.live()
		c.e.t.Fatalf("no link button %q on the live message %q; buttons: %s", label, text, labels(rows))
	}
	if b.URL == "" {
		c.e.t.Fatalf("button %q has no URL", label)
	}
	return b.URL
}

func labels(rows [][]models.InlineKeyboardButton) string {
	var out []string
	for _, row := range rows {
		for _, b := range row {
			out = append(out, fmt.Sprintf("%q", b.Text))
		}
	}
	return strings.Join(out, ", ")
}

// wantText fails unless s's text contains every one of want.
func (c *chat) wantText(s screen, want ...string) {
	c.e.t.Helper()
	for _, w := range want {
		if !strings.Contains(s.Text, w) {
			c.e.t.Fatalf("chat %d: want %q in the screen, got:\n%s", c.id, w, s.Text)
		}
	}
}

// wantAnswer fails unless the press was answered with the catalog text of key ("" = silent).
func (c *chat) wantAnswer(s screen, key string) {
	c.e.t.Helper()
	want := ""
	if key != "" {
		want = c.e.tr(c.lang, key, nil)
	}
	if s.Answer == nil {
		c.e.t.Fatal("the press was not answered")
	}
	if got := s.Answer.Params["text"]; got != want {
		c.e.t.Fatalf("callback answer %q, want %q (%s)", got, want, key)
	}
}

// bind goes through «Войти через ЭЦП» end to end: /start, the bind button, the signing page,
// the AUTH signature, and the "bound" message in the chat.
func (c *chat) bind() screen {
	c.e.t.Helper()
	c.send("/start")
	c.pressKey("btn.bind")
	link := c.linkOf("btn.sign_auth")
	linkMsg, _, _ := c.live()
	seq := len(c.e.tg.Calls())
	b := c.e.browser()
	b.open(link)
	res := b.post(c.e.sign(b.document(), c.keyPair().auth))
	if !res.OK {
		c.e.t.Fatalf("bind POST: %d %s (%s)", res.Status, res.Reason, res.Message)
	}
	s := c.result(seq, "")
	c.wantText(s, c.e.tr(c.lang, "bound.title", nil))
	// The spent link's message keeps no «Подписать ↗» / «Отмена».
	if markup, ok := c.e.tg.MessageMarkup(c.id, linkMsg); !ok || markup != "" {
		c.e.t.Fatalf("the used bind link's message still has buttons: %q (exists %v)", markup, ok)
	}
	return s
}

// ---- the parent's browser on a signing page ----

type browser struct {
	e    *e2eEnv
	c    *http.Client
	link string
	csrf string
	page string
}

var csrfAttr = regexp.MustCompile(`data-csrf="([^"]+)"`)

func (e *e2eEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, Timeout: e2eWait, Transport: e.client.Transport}}
}

// open GETs the signing page and keeps its CSRF value.
func (b *browser) open(link string) {
	b.e.t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "https" || u.Host != b.e.addr {
		b.e.t.Fatalf("signing link %q does not point at this server (https://%s)", link, b.e.addr)
	}
	b.link = link
	resp, err := b.c.Get(link)
	if err != nil {
		b.e.t.Fatalf("GET signing page: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.page = string(body)
	if resp.StatusCode != http.StatusOK {
		b.e.t.Fatalf("GET signing page: %d\n%s", resp.StatusCode, body)
	}
	m := csrfAttr.FindStringSubmatch(b.page)
	if m == nil {
		b.e.t.Fatalf("signing page has no CSRF value:\n%s", body)
	}
	b.csrf = m[1]
}

// document GETs the XML the page's script would hand to NCALayer.
func (b *browser) document() []byte {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.link+"/document", nil)
	req.Header.Set("X-CSRF-Token", b.csrf)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatalf("GET document: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.e.t.Fatalf("GET document: %d %s", resp.StatusCode, body)
	}
	return body
}

type postResult struct {
	Status  int
	OK      bool   `json:"ok"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// post sends the signed document the way the page's script does.
func (b *browser) post(signed []byte) postResult {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.link, bytes.NewReader(signed))
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	req.Header.Set("X-CSRF-Token", b.csrf)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", "https://"+b.e.addr)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatalf("POST signature: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := postResult{Status: resp.StatusCode}
	if err := json.Unmarshal(body, &r); err != nil {
		b.e.t.Fatalf("POST answer is not JSON: %v: %s", err, body)
	}
	return r
}

// sign signs doc with p, as NCALayer would.
func (e *e2eEnv) sign(doc []byte, p *xmlsigtest.Person) []byte {
	e.t.Helper()
	signed, err := xmlsigtest.Sign(doc, p)
	if err != nil {
		e.t.Fatalf("sign: %v", err)
	}
	return signed
}
