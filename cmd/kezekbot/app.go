package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot/models"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/bot"
	"github.com/kezekbot/kezekbot/bot/render"
	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
	"github.com/kezekbot/kezekbot/metrics"
	signerlink "github.com/kezekbot/kezekbot/signer-link"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/store/postgres"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// appOptions are what serve and sandbox differ in.
type appOptions struct {
	cfg *Config
	log *slog.Logger
	// trust replaces KEZEKBOT_TRUST_DIR (the sandbox trusts its own test CA, and only it).
	trust *xmlsig.TrustStore
	// ncaLayerURL replaces the real wss://127.0.0.1:13579 (the sandbox's fake NCALayer).
	ncaLayerURL string
	// routes mounts extra handlers (the sandbox's chat page and fake Bot API).
	routes func(mux *http.ServeMux)
	// now replaces the clock of the dialog, the store and the signing links, so that tests can
	// let the 24-hour window close; nil means time.Now.
	now func() time.Time
	// redisPrefix replaces the default Redis key prefix, so that tests sharing a Redis
	// database keep their keys apart; "" means the store's default.
	redisPrefix string
	// egovDefault is whether eGov mobile is on when KEZEKBOT_EGOV is not set (on in the
	// sandbox, off for serve).
	egovDefault bool
	// egovSandbox is the sandbox's fake eGov mobile endpoint, shown on signing pages as a
	// «sandbox eGov mobile» button; "" outside the sandbox.
	egovSandbox string
}

// app is one running kezekbot: stores, the bot, the signing pages and the HTTP server. It is
// built by newApp, run by run, and released by close.
type app struct {
	cfg     *Config
	log     *slog.Logger
	db      *postgres.DB
	rdb     *redisstore.Store
	sender  *bot.Sender
	intake  *bot.Intake
	handler bot.Handler // the intake with metrics around it
	signer  *signerlink.Service
	metrics *metrics.Metrics
	reg     *prometheus.Registry
	mux     *http.ServeMux
	replica *broadcast.Replica
	// background are jobs of the app itself (CRL reloading) that run next to the workers.
	background []func(context.Context) error
	// city is set in city mode (KEZEKBOT_QUEUE=city): citywire.go.
	city *cityParts
}

func newApp(ctx context.Context, o appOptions) (_ *app, err error) {
	cfg := o.cfg
	a := &app{cfg: cfg, log: o.log, mux: http.NewServeMux()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.reg = metrics.NewRegistry()
	a.metrics = metrics.New(a.reg)

	if a.db, err = postgres.Open(ctx, string(cfg.DatabaseURL)); err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	if o.now != nil {
		a.db.Now = o.now
	}
	if cfg.Migrate {
		if err := a.db.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	if every := cfg.retention.PurgeEvery; every > 0 {
		// Every replica runs it; the lease in PostgreSQL lets one purge per interval.
		p := cfg.purger(a.db, a)
		a.background = append(a.background, func(ctx context.Context) error { return p.Run(ctx, every) })
	}
	if a.rdb, err = redisstore.OpenTopology(ctx, string(cfg.RedisURL), cfg.redis.topology(), redisstore.Options{StateTTL: cfg.StateTTL, Prefix: o.redisPrefix, WaitReplicas: cfg.redis.WaitReplicas}); err != nil {
		return nil, fmt.Errorf("open Redis: %w", err)
	}

	trust := o.trust
	realTrust := trust == nil // serve: NCA's certificates (the sandbox brings its own test CA)
	if trust == nil {
		if trust, err = xmlsig.LoadTrustDir(cfg.TrustDir); err != nil {
			return nil, fmt.Errorf("load trust dir: %w", err)
		}
		for _, s := range trust.Skipped {
			a.log.Warn("trust dir: certificate skipped", "file", s.File, "err", s.Err)
		}
	}
	var vopts []xmlsig.Option
	rc, rbg, err := cfg.revocationChecker(a.log, a.metrics.OCSP) // revocation.go
	if err != nil {
		return nil, err
	}
	if rc == nil && realTrust {
		// Said at every start, not only in the README: an operator who never set
		// KEZEKBOT_CRL_DIR or OCSP would otherwise accept revoked certificates unknowingly.
		a.log.Warn("certificate revocation is NOT checked: a revoked ЭЦП certificate is accepted; set KEZEKBOT_CRL_DIR (deployments/fetch-crl.sh) or KEZEKBOT_REVOCATION=ocsp")
	}
	if rc != nil {
		vopts = append(vopts, xmlsig.WithRevocation(rc))
		a.background = append(a.background, rbg...)
	}
	verifier, err := xmlsig.NewVerifier(trust, vopts...)
	if err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	keys, random, err := cfg.linkKeys()
	if err != nil {
		return nil, err
	}
	if random {
		a.log.Warn("KEZEKBOT_LINK_KEYS is not set: signing links use a random key and die with this process")
	}

	cat, err := i18n.New()
	if err != nil {
		return nil, fmt.Errorf("message catalogs: %w", err)
	}
	unreachable := func(chatID int64, reason string) {
		// A blocked parent is skipped by broadcasts from now on; the reason is Telegram's text.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.db.MarkUnreachable(ctx, chatID, reason); err != nil {
			a.log.Warn("mark chat unreachable", "chat", chatID, "err", err)
		}
	}
	a.sender, err = bot.NewSender(string(cfg.Token), bot.SenderOptions{
		APIURL:        cfg.APIURL,
		HTTPClient:    &http.Client{Transport: &apiMetrics{next: bot.NewAPITransport(), m: a.metrics}},
		OnUnreachable: unreachable,
		Log:           a.log,
	})
	if err != nil {
		return nil, fmt.Errorf("telegram sender: %w", err)
	}

	// The signer resumes dialogs through the intake, and the dialog asks the signer for links:
	// the cycle is closed after both exist.
	resume := &lateResumer{}
	var record systemOfRecord = a.db
	if cfg.City.Queue == queueCity {
		if a.city, err = a.newCity(cfg, resume, o.now); err != nil {
			return nil, err
		}
		record = a.city.record
	}
	var egov signerlink.EGov
	if cfg.egovOn(o.egovDefault) {
		bin := cfg.EGovBIN
		if bin == "" {
			bin = sandboxBIN // validateServe requires one in serve; the sandbox shows a placeholder
		}
		egov = signerlink.EGov{
			Enabled: true, OrgKK: cfg.EGovOrgKK, OrgRU: cfg.EGovOrgRU, OrgEN: cfg.EGovOrgEN, BIN: bin,
			AuthType: cfg.EGovAuthType, Launcher: cfg.EGovLauncher, Notes: a.rdb, SandboxURL: o.egovSandbox,
		}
	}
	a.signer, err = signerlink.New(signerlink.Config{
		PublicURL:   cfg.PublicURL,
		Keys:        keys,
		TTL:         cfg.LinkTTL,
		NCALayerURL: o.ncaLayerURL,
		EGov:        egov,
		Links:       a.rdb,
		Store:       revocationMetrics{Store: record, m: a.metrics},
		Verifier:    signatureMetrics{v: verifier, m: a.metrics},
		Resumer:     resume,
		// Bind phishing: the page names the account; a refused second binding alerts the
		// chats already bound (bindguard.go).
		Accounts:   telegramAccounts{b: a.sender.Bot()},
		BindAlerts: bindAlerts{db: a.db, sender: a.sender},
		// Signature limits: buckets in Redis, shared by every replica.
		RateLimiter:   a.rdb,
		SignLimits:    new(cfg.signLimits()),
		OnRateLimited: func(scope string) { a.metrics.Refused("sign", scope) },
		// Attempt limits (linklimits.go): counted in Redis with the link record.
		MaxFailedAttempts: cfg.links.MaxFailed,
		LinkIssueRate:     &cfg.links.IssueRate,
		Logger:            a.log,
		Now:               o.now,
	})
	if err != nil {
		return nil, fmt.Errorf("signer-link: %w", err)
	}
	// Notifications and broadcasts: every replica runs the engine, the outbox notifier and the
	// progress drawer; rows and the Redis pacer keep them from doing the same work twice.
	pacer := broadcast.NewRedisPacer(a.rdb.Client(), cmp.Or(o.redisPrefix, "kz:")+"bc:", broadcast.Limits{Global: cfg.BroadcastRate}, 0)
	a.replica, err = broadcast.NewReplica(a.db, broadcast.TelegramSender{B: a.sender.Bot()}, pacer,
		broadcast.Config{Owner: cfg.WorkerName, Rate: cfg.BroadcastRate, Log: a.log, Metrics: a.metrics},
		broadcast.NotifyConfig{ReminderBefore: cfg.ReminderBefore, Now: o.now, Log: a.log})
	if err != nil {
		return nil, fmt.Errorf("broadcasts: %w", err)
	}

	machine := &flows.Machine{Data: record, Links: a.signer, Now: o.now}
	rnd := render.New(cat)
	rnd.PhoneRoute = egov.Enabled // the link screens say which route fits which device
	// Staff members' /broadcast and its dialog go to the staff dialog (flows/staff), whose
	// store effects the broadcast replica carries out; everything else to the parents'.
	a.intake, err = bot.NewIntake(bot.IntakeOptions{
		Steps:         stateMetrics{s: staffRouter{parents: machine, members: a.db, effects: a.replica}, m: a.metrics},
		Render:        bot.RenderAdapter{R: rnd},
		Turns:         a.rdb,
		Send:          a.sender,
		MaxConcurrent: cfg.Concurrency,
		OnUnreachable: unreachable,
		Log:           a.log,
	})
	if err != nil {
		return nil, fmt.Errorf("intake: %w", err)
	}
	resume.set(a.intake)
	a.handler = updateMetrics{h: unblocked{h: a.intake, db: a.db}, m: a.metrics}

	a.routes(o.routes)
	return a, nil
}

func (a *app) routes(extra func(*http.ServeMux)) {
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	a.mux.HandleFunc("GET /readyz", a.ready)
	a.mux.Handle("GET /metrics", a.metrics.Handler())
	a.mux.Handle("/s/", a.signer.Handler())
	if a.cfg.AdminToken != "" {
		a.mux.Handle("/admin/", a.limitClients("admin", a.cfg.security.AdminRate, a.replica.AdminAPI(string(a.cfg.AdminToken), a.log)))
	}
	if a.cfg.Mode == "webhook" {
		a.mux.Handle("POST "+a.cfg.WebhookPath, bot.NewWebhook(a.handler, string(a.cfg.WebhookSecret), bot.DefaultMaxBody, a.log))
	}
	a.cityRoutes()
	if extra != nil {
		extra(a.mux)
	}
}

// limitClients puts a per-address limit (doorlimit.go) in front of one of the app's doors.
func (a *app) limitClients(door string, rate signerlink.Rate, next http.Handler) http.Handler {
	return limitClients(door, rate, a.rdb, a.cfg.security.TrustedProxies, a.metrics.Refused, a.log, next)
}

// ready answers 200 only when both stores answer, so that a load balancer sends no webhook to
// a replica that could not handle it.
func (a *app) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var failed []string
	if err := a.db.Ping(ctx); err != nil {
		failed = append(failed, "postgres")
	}
	if err := a.rdb.Ping(ctx); err != nil {
		failed = append(failed, "redis")
	}
	if len(failed) > 0 {
		http.Error(w, "not ready: "+strings.Join(failed, ", ")+" not answering", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// run serves HTTP and, in polling mode, polls Telegram, until ctx is done; then it stops
// taking updates, lets the ones in flight finish (up to ShutdownGrace) and returns.
func (a *app) run(ctx context.Context, ln net.Listener, background ...func(context.Context) error) error {
	srv := &http.Server{
		Handler:           a.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	ln = limitServer(srv, ln, a.cfg.security.MaxHeaderBytes, a.cfg.security.MaxConns, func() { a.metrics.Refused("http", "connections") })
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	errc := make(chan error, 2+len(background))
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	if a.cfg.Mode == "polling" {
		p := bot.NewPoller(a.sender, a.handler, bot.PollerOptions{
			AllowedUpdates: webhookAllowedUpdates,
			Log:            a.log,
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The poller gets the outer ctx: on SIGTERM it stops asking for updates and returns
			// once the batch in hand is handled and confirmed.
			if err := p.Run(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("polling: %w", err)
			}
		}()
	}
	for _, bg := range background {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := bg(workCtx); err != nil && workCtx.Err() == nil {
				errc <- err
			}
		}()
	}
	if a.cfg.PprofAddr != "" {
		// Profiles are for operators measuring a replica; they get their own listener so the
		// public port never serves them.
		pp := &http.Server{Addr: a.cfg.PprofAddr, Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := pp.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Warn("pprof server", "err", err)
			}
		}()
		defer pp.Close()
	}
	a.log.Info("kezekbot serving", "addr", ln.Addr().String(), "mode", a.cfg.Mode, "public_url", a.cfg.PublicURL)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.log.Info("shutting down: finishing the updates in flight", "grace", a.cfg.ShutdownGrace)
	shutCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	// Shutdown waits for webhook requests in flight: they answer only after handling.
	if err := srv.Shutdown(shutCtx); err != nil {
		a.log.Warn("http shutdown", "err", err)
	}
	stopWork()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-shutCtx.Done():
		a.log.Warn("shutdown grace ran out before every worker stopped")
	}
	return runErr
}

func (a *app) close() {
	if a.rdb != nil {
		_ = a.rdb.Close()
	}
	if a.db != nil {
		a.db.Close()
	}
}

func pprofMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	return m
}

// lateResumer lets the signer report to the intake that is built after it.
type lateResumer struct {
	mu sync.RWMutex
	in signerlink.Resumer
}

func (l *lateResumer) set(in signerlink.Resumer) {
	l.mu.Lock()
	l.in = in
	l.mu.Unlock()
}

func (l *lateResumer) Inject(ctx context.Context, chatID int64, ev flows.Event) error {
	l.mu.RLock()
	in := l.in
	l.mu.RUnlock()
	if in == nil {
		return errors.New("resume dialog: the bot is not running yet")
	}
	return in.Inject(ctx, chatID, ev)
}

// unblocked clears a chat's unreachable mark when its user unblocks the bot (Telegram sends
// my_chat_member with the bot a member again). The intake only reports blocking; without this
// a parent who blocked the bot once would be skipped by every broadcast and notification for
// good. A failure is returned, so that the update is delivered again.
type unblocked struct {
	h  bot.Handler
	db *postgres.DB
}

func (u unblocked) Handle(ctx context.Context, upd *models.Update) error {
	if cm := upd.MyChatMember; cm != nil && cm.Chat.Type == models.ChatTypePrivate &&
		cm.NewChatMember.Type == models.ChatMemberTypeMember && cm.OldChatMember.Type != models.ChatMemberTypeMember {
		if err := u.db.SetReachable(ctx, cm.Chat.ID); err != nil {
			return fmt.Errorf("update %d: %w", upd.ID, err)
		}
	}
	return u.h.Handle(ctx, upd)
}

// The wrappers below put metrics around the pieces without teaching those pieces about
// Prometheus.

type updateMetrics struct {
	h bot.Handler
	m *metrics.Metrics
}

func (u updateMetrics) Handle(ctx context.Context, upd *models.Update) error {
	kind := updateKind(upd)
	u.m.UpdateReceived(kind)
	start := time.Now()
	err := u.h.Handle(ctx, upd)
	u.m.UpdateHandled(kind, time.Since(start), err)
	return err
}

func updateKind(u *models.Update) string {
	switch {
	case u.Message != nil:
		return "message"
	case u.EditedMessage != nil:
		return "edited_message"
	case u.CallbackQuery != nil:
		return "callback_query"
	case u.MyChatMember != nil:
		return "my_chat_member"
	}
	return "other"
}

type stateMetrics struct {
	s bot.Stepper
	m *metrics.Metrics
}

func (s stateMetrics) Step(ctx context.Context, chatID int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error) {
	next, eff, err := s.s.Step(ctx, chatID, st, ev)
	if next.Name != st.Name {
		s.m.StateEntered(string(next.Name))
	}
	return next, eff, err
}

type signatureMetrics struct {
	v signerlink.Verifier
	m *metrics.Metrics
}

func (s signatureMetrics) Verify(ctx context.Context, doc []byte, p xmlsig.Policy) (*xmlsig.Result, error) {
	r, err := s.v.Verify(ctx, doc, p)
	if err != nil {
		s.m.Signature("rejected", string(xmlsig.ReasonOf(err)))
	} else {
		s.m.Signature("verified", "none")
	}
	return r, err
}

type revocationMetrics struct {
	signerlink.Store
	m *metrics.Metrics
}

func (r revocationMetrics) RevokeReferral(ctx context.Context, req kezekbot.RevokeRequest) (kezekbot.RevokeResult, error) {
	res, err := r.Store.RevokeReferral(ctx, req)
	result := "revoked"
	switch {
	case err != nil:
		result = kezekbot.ErrorCode(err)
	case res.Pending:
		result = "sent_to_city"
	}
	r.m.Revocation(result)
	return res, err
}

// apiMetrics counts Bot API calls by method and result as they leave the process.
type apiMetrics struct {
	next http.RoundTripper
	m    *metrics.Metrics
}

func (t *apiMetrics) RoundTrip(r *http.Request) (*http.Response, error) {
	method := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	resp, err := t.next.RoundTrip(r)
	switch {
	case err != nil:
		t.m.APICall(method, "network_error")
	case resp.StatusCode == http.StatusOK:
		t.m.APICall(method, "ok")
	default:
		t.m.APICall(method, strconv.Itoa(resp.StatusCode))
	}
	return resp, err
}
