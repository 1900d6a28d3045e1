package main

// TestSoak is the chaos soak (`make soak`): two real `kezekbot serve` replicas in webhook mode
// on a PostgreSQL and a Redis of the soak's own, mixed traffic from the fake Bot API while
// replicas are SIGKILLed and restarted and Redis and PostgreSQL are restarted at random, then
// the invariants. It runs only with KEZEKBOT_SOAK=1; KEZEKBOT_SOAK_DURATION sets the length.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
	"github.com/kezekbot/kezekbot/store/postgres"
)

const (
	soakSecret     = "soak-webhook-secret_0123456789abcdefgh"
	soakAdminToken = "soak-admin-token-0123456789abcdef"
	soakDialogBase = 910000 // unbound chats: /start and its buttons
	soakBoundBase  = 920000 // one chat per demo parent, bound through the signing page
	soakFanBase    = 930000 // bindings written straight into the database: broadcast audience
	soakFanChats   = 150
	soakDialogs    = 16
	soakBcastRate  = 60
	soakBcastSends = 6 // the engine's concurrent sends at soakBcastRate: max(rate/10, 4)
)

// soakUpdate is one update as the fake Telegram saw it.
type soakUpdate struct {
	id       int64
	chat     int64
	cbID     string // callback query id, for a press
	seq      int    // calls recorded before its first push
	acked    bool   // some push got 200
	attempts int
}

type soak struct {
	t       *testing.T
	tg      *telegramtest.Server
	cat     *i18n.Catalog
	reps    []*soakReplica
	redis   *soakRedis
	pg      *soakPostgres
	rdb     *redis.Client
	keys    []keyPair
	public  string
	client  *http.Client
	nextID  atomic.Int64
	cbSeq   atomic.Int64
	msgSeq  atomic.Int64
	mu      sync.Mutex
	updates []*soakUpdate

	kills, redisRestarts, pgRestarts atomic.Int64
	binds, bindTries                 atomic.Int64
	revokeOK, revokeRefused          atomic.Int64
	revokeTries                      atomic.Int64
	broadcasts                       []int64
	events                           atomic.Int64
	unacked                          atomic.Int64
}

func TestSoak(t *testing.T) {
	if os.Getenv("KEZEKBOT_SOAK") != "1" {
		t.Skip("the chaos soak runs with KEZEKBOT_SOAK=1 (make soak)")
	}
	dur := 90 * time.Second
	if v := os.Getenv("KEZEKBOT_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("KEZEKBOT_SOAK_DURATION=%q: want a Go duration such as 90s or 5m", v)
		}
		dur = d
	}
	dir := t.TempDir()
	// The soak's own Redis client reconnects through every restart; its pool's complaints
	// meanwhile are noise.
	redis.SetLogger(quietRedisLog{})
	s := &soak{t: t, client: &http.Client{Timeout: 10 * time.Second}}
	s.nextID.Store(100)
	var err error
	if s.cat, err = i18n.New(); err != nil {
		t.Fatal(err)
	}

	bin := filepath.Join(dir, "kezekbot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build kezekbot: %v\n%s", err, out)
	}
	if s.redis, err = newSoakRedis(dir); err != nil {
		t.Fatalf("own redis-server: %v", err)
	}
	t.Cleanup(s.redis.stop)
	if s.pg, err = newSoakPostgres(dir); err != nil {
		t.Fatalf("own PostgreSQL: %v", err)
	}
	t.Cleanup(s.pg.stop)
	if out, err := exec.Command(bin, "seed", "--demo", "-database-url="+s.pg.url()).CombinedOutput(); err != nil {
		t.Fatalf("seed --demo: %v\n%s", err, out)
	}

	ca, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	trustDir := filepath.Join(dir, "trust")
	if err := os.Mkdir(trustDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteTrustDir(trustDir); err != nil {
		t.Fatal(err)
	}
	for _, p := range postgres.DemoParents {
		var k keyPair
		if k.auth, err = ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth, IIN: p.IIN}); err != nil {
			t.Fatal(err)
		}
		if k.sign, err = ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign, IIN: p.IIN}); err != nil {
			t.Fatal(err)
		}
		s.keys = append(s.keys, k)
	}
	s.tg = telegramtest.New()
	t.Cleanup(s.tg.Close)

	ctx := context.Background()
	s.rdb = redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.redis.port), MaxRetries: -1})
	t.Cleanup(func() { _ = s.rdb.Close() })
	var lk [32]byte
	_, _ = rand.Read(lk[:])
	linkKeys := "1:" + base64.StdEncoding.EncodeToString(lk[:])
	for i, name := range []string{"a", "b"} {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if i == 0 {
			s.public = "http://" + addr // replica a's address stands in for the load balancer's
		}
		logPath := filepath.Join(dir, "replica-"+name+".log")
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = logf.Close() })
		env := append(os.Environ(),
			"KEZEKBOT_MODE=webhook",
			"KEZEKBOT_TELEGRAM_TOKEN="+e2eToken,
			"KEZEKBOT_TELEGRAM_API_URL="+s.tg.URL,
			"KEZEKBOT_WEBHOOK_SECRET="+soakSecret,
			"KEZEKBOT_HTTP_ADDR="+addr,
			"KEZEKBOT_PUBLIC_URL="+s.public,
			"KEZEKBOT_DATABASE_URL="+s.pg.url(),
			"KEZEKBOT_REDIS_URL="+s.redis.url(),
			"KEZEKBOT_TRUST_DIR="+trustDir,
			"KEZEKBOT_LINK_KEYS="+linkKeys,
			"KEZEKBOT_ADMIN_TOKEN="+soakAdminToken,
			"KEZEKBOT_WORKER_NAME=soak-"+name,
			"KEZEKBOT_BROADCAST_RATE="+strconv.Itoa(soakBcastRate),
			"KEZEKBOT_LOG_FORMAT=json",
			"KEZEKBOT_SHUTDOWN_GRACE=5s",
			"KEZEKBOT_SIGN_RATE_CLIENT=off",
			"KEZEKBOT_SIGN_RATE_LINK=off",
			"KEZEKBOT_SIGN_RATE_GLOBAL=off",
		)
		r := &soakReplica{name: name, addr: addr, bin: bin, env: env, logf: logf, logs: logPath}
		if err := r.run(ctx); err != nil {
			t.Fatal(err)
		}
		s.reps = append(s.reps, r)
		t.Cleanup(r.kill)
	}

	start := time.Now()
	trafficCtx, stopTraffic := context.WithTimeout(ctx, dur)
	defer stopTraffic()
	var wg sync.WaitGroup
	chaosDone := make(chan struct{})
	go func() { defer close(chaosDone); s.chaos(trafficCtx) }()
	for i := range soakDialogs {
		wg.Add(1)
		go func() { defer wg.Done(); s.dialogChat(trafficCtx, int64(soakDialogBase+i), []string{"ru", "kk"}[i%2]) }()
	}
	for i := range postgres.DemoParents {
		wg.Add(1)
		go func() { defer wg.Done(); s.boundChat(trafficCtx, i) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.staff(trafficCtx) }()
	<-chaosDone
	// Chaos is over: everything runs again. Let the chats finish the updates they were
	// pushing (Telegram keeps redelivering), then the engine the broadcasts.
	for _, r := range s.reps {
		if !r.up() {
			if err := r.run(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	trafficEnd := time.Since(start)
	s.settle(ctx)
	s.check(ctx, trafficEnd)
}

// push delivers one update as Telegram does: to one of the replicas, again (the same
// update_id) after an error or a non-200 answer, to whichever replica answers, until a 200.
func (s *soak) push(ctx context.Context, upd models.Update, chatID int64, cbID string) *soakUpdate {
	upd.ID = s.nextID.Add(1)
	u := &soakUpdate{id: upd.ID, chat: chatID, cbID: cbID, seq: len(s.tg.Calls())}
	s.mu.Lock()
	s.updates = append(s.updates, u)
	s.mu.Unlock()
	body, _ := json.Marshal(upd)
	deadline := time.Now().Add(90 * time.Second) // Telegram gives up after about a day; we after the settle
	backoff := 100 * time.Millisecond
	for time.Now().Before(deadline) {
		r := s.reps[mrand.IntN(len(s.reps))]
		u.attempts++
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/telegram/webhook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", soakSecret)
		resp, err := s.client.Do(req)
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				s.tg.WebhookAnswer(resp)
				_ = resp.Body.Close()
				u.acked = true
				return u
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 2*time.Second)
	}
	s.unacked.Add(1)
	return u
}

func (s *soak) textUpdate(chatID int64, lang, text string) models.Update {
	return models.Update{Message: &models.Message{ID: int(s.msgSeq.Add(1)), Date: int(time.Now().Unix()),
		Chat: models.Chat{ID: chatID, Type: models.ChatTypePrivate},
		From: &models.User{ID: chatID, FirstName: "Soak", LanguageCode: lang}, Text: text}}
}

func (s *soak) send(ctx context.Context, chatID int64, lang, text string) bool {
	return s.push(ctx, s.textUpdate(chatID, lang, text), chatID, "").acked
}

// buttons returns the callback and URL buttons of the chat's live message: the one its dialog
// state points at (a bound chat's newest message may be a broadcast or a notification), or the
// newest one while Redis is down.
func (s *soak) buttons(chatID int64) (int, []models.InlineKeyboardButton) {
	id, _, markup, ok := s.tg.LastMessage(chatID)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	raw, err := s.rdb.HGet(ctx, "kz:{"+strconv.FormatInt(chatID, 10)+"}:d", "s").Result()
	cancel()
	var st flows.State
	if err == nil && json.Unmarshal([]byte(raw), &st) == nil && st.MsgID != 0 {
		if m, found := s.tg.MessageMarkup(chatID, st.MsgID); found {
			id, markup, ok = st.MsgID, m, true
		}
	}
	if !ok || markup == "" {
		return id, nil
	}
	var kb models.InlineKeyboardMarkup
	if json.Unmarshal([]byte(markup), &kb) != nil {
		return id, nil
	}
	var out []models.InlineKeyboardButton
	for _, row := range kb.InlineKeyboard {
		out = append(out, row...)
	}
	return id, out
}

func (s *soak) pressData(ctx context.Context, chatID int64, lang string, msgID int, data string) bool {
	cbID := fmt.Sprintf("soak%d-%d", chatID, s.cbSeq.Add(1))
	upd := models.Update{CallbackQuery: &models.CallbackQuery{ID: cbID,
		From: models.User{ID: chatID, FirstName: "Soak", LanguageCode: lang}, ChatInstance: "ci" + strconv.FormatInt(chatID, 10), Data: data,
		Message: models.MaybeInaccessibleMessage{Type: models.MaybeInaccessibleMessageTypeMessage, Message: &models.Message{
			ID: msgID, Date: int(time.Now().Unix()), Chat: models.Chat{ID: chatID, Type: models.ChatTypePrivate}}}}}
	return s.push(ctx, upd, chatID, cbID).acked
}

// press presses the live message's button whose label contains one of labels; false when
// there is none or the press was never acknowledged.
func (s *soak) press(ctx context.Context, chatID int64, lang string, labels ...string) bool {
	id, bs := s.buttons(chatID)
	for _, b := range bs {
		for _, label := range labels {
			if strings.Contains(b.Text, label) && b.CallbackData != "" {
				return s.pressData(ctx, chatID, lang, id, b.CallbackData)
			}
		}
	}
	return false
}

func (s *soak) linkOf(chatID int64, label string) string {
	_, bs := s.buttons(chatID)
	for _, b := range bs {
		if strings.Contains(b.Text, label) && b.URL != "" {
			return b.URL
		}
	}
	return ""
}

// pressRandom presses a random callback button of the live message, skipping the labels in
// avoid (those that end the dialog the chat is walking).
func (s *soak) pressRandom(ctx context.Context, chatID int64, lang string, avoid ...string) {
	id, bs := s.buttons(chatID)
	var ok []models.InlineKeyboardButton
next:
	for _, b := range bs {
		if b.CallbackData == "" {
			continue
		}
		for _, a := range avoid {
			if strings.Contains(b.Text, a) {
				continue next
			}
		}
		ok = append(ok, b)
	}
	if len(ok) == 0 {
		s.send(ctx, chatID, lang, "/start")
		return
	}
	s.pressData(ctx, chatID, lang, id, ok[mrand.IntN(len(ok))].CallbackData)
}

func pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// dialogChat is an unbound parent: /start, a few presses, /help, /apps, again.
func (s *soak) dialogChat(ctx context.Context, chatID int64, lang string) {
	for ctx.Err() == nil {
		s.send(ctx, chatID, lang, "/start")
		for range 1 + mrand.IntN(4) {
			if !pause(ctx, time.Duration(50+mrand.IntN(250))*time.Millisecond) {
				return
			}
			s.pressRandom(ctx, chatID, lang)
		}
		s.send(ctx, chatID, lang, []string{"/help", "/apps", "/settings", "hello"}[mrand.IntN(4)])
	}
}

// boundChat is demo parent i: it binds through the signing page (again until it takes), then
// walks its list and cards; parent 0 revokes its revocable referral midway, posting the
// signed document to both replicas at once.
func (s *soak) boundChat(ctx context.Context, i int) {
	chatID := int64(soakBoundBase + i)
	lang := "ru"
	for ctx.Err() == nil && !s.bind(ctx, chatID, lang, i) {
		pause(ctx, 500*time.Millisecond)
	}
	revokeAt := time.Now().Add(time.Duration(5+mrand.IntN(15)) * time.Second)
	revoked := i != 0
	var avoid []string
	for _, l := range []string{"ru", "kk"} {
		avoid = append(avoid, s.tr(l, "btn.logout"), s.tr(l, "btn.revoke"), s.tr(l, "btn.confirm"), s.tr(l, "btn.bind"))
	}
	for ctx.Err() == nil {
		if !revoked && time.Now().After(revokeAt) {
			if revoked = s.revoke(ctx, chatID, lang, i); !revoked {
				pause(ctx, 300*time.Millisecond)
			}
			continue
		}
		s.send(ctx, chatID, lang, "/apps")
		for range 1 + mrand.IntN(4) {
			if !pause(ctx, time.Duration(50+mrand.IntN(250))*time.Millisecond) {
				return
			}
			s.pressRandom(ctx, chatID, lang, avoid...)
		}
	}
}

func (s *soak) tr(lang, key string) string { return s.cat.T(lang, key, nil) }

// signer is a parent's browser on a signing page, at whichever replica is up.
type signer struct {
	s    *soak
	c    *http.Client
	link string
	csrf string
}

func (s *soak) openPage(link string) (*signer, []byte, error) {
	jar, _ := cookiejar.New(nil)
	b := &signer{s: s, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	r := s.reps[mrand.IntN(len(s.reps))]
	b.link = strings.Replace(link, s.public, "http://"+r.addr, 1)
	resp, err := b.c.Get(b.link)
	if err != nil {
		return nil, nil, err
	}
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("page: %d", resp.StatusCode)
	}
	m := csrfAttr.FindSubmatch(page)
	if m == nil {
		return nil, nil, fmt.Errorf("page without CSRF value")
	}
	b.csrf = string(m[1])
	req, _ := http.NewRequest(http.MethodGet, b.link+"/document", nil)
	req.Header.Set("X-CSRF-Token", b.csrf)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = b.c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	doc, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("document: %d", resp.StatusCode)
	}
	return b, doc, nil
}

func (b *signer) post(signed []byte) (postResult, error) {
	req, _ := http.NewRequest(http.MethodPost, b.link, bytes.NewReader(signed))
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	req.Header.Set("X-CSRF-Token", b.csrf)
	req.Header.Set("Accept", "application/json")
	u, _ := url.Parse(b.link)
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	if err != nil {
		return postResult{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := postResult{Status: resp.StatusCode}
	_ = json.Unmarshal(body, &r)
	return r, nil
}

func (s *soak) bind(ctx context.Context, chatID int64, lang string, i int) bool {
	s.bindTries.Add(1)
	if !s.send(ctx, chatID, lang, "/start") || !s.press(ctx, chatID, lang, s.tr(lang, "btn.bind")) {
		return false
	}
	link := s.linkOf(chatID, s.tr(lang, "btn.sign_auth"))
	if link == "" {
		return false
	}
	b, doc, err := s.openPage(link)
	if err != nil {
		return false
	}
	signed, err := xmlsigtest.Sign(doc, s.keys[i].auth)
	if err != nil {
		s.t.Errorf("sign: %v", err)
		return false
	}
	r, err := b.post(signed)
	if err != nil || !r.OK {
		return false
	}
	s.binds.Add(1)
	return true
}

// revoke walks list → card → revoke → reason → confirm, opens the link twice (two tabs, two
// replicas) and posts the signed revocation from both at once: at most one may take.
func (s *soak) revoke(ctx context.Context, chatID int64, lang string, i int) bool {
	n := s.revokeTries.Add(1)
	fail := func(step string) bool {
		if n <= 3 || n%200 == 0 {
			_, bs := s.buttons(chatID)
			var labels []string
			for _, b := range bs {
				labels = append(labels, b.Text)
			}
			s.t.Logf("revocation attempt %d stopped at %s; live buttons %q", n, step, labels)
		}
		return s.revokedInDB(ctx)
	}
	// The walk may have switched the chat to Kazakh: a label in either language will do.
	steps := []struct {
		name   string
		labels []string
	}{
		{"the application", []string{appRevocable}},
		{"revoke", []string{s.tr("ru", "btn.revoke"), s.tr("kk", "btn.revoke")}},
		{"the reason", []string{flows.ReasonPresets[0].Text(flows.Lang("ru")), flows.ReasonPresets[0].Text(flows.Lang("kk"))}},
		{"confirm", []string{s.tr("ru", "btn.confirm"), s.tr("kk", "btn.confirm")}},
	}
	if !s.send(ctx, chatID, lang, "/apps") {
		return fail("/apps")
	}
	for _, st := range steps {
		if !s.press(ctx, chatID, lang, st.labels...) {
			return fail(st.name)
		}
	}
	link := s.linkOf(chatID, s.tr("ru", "btn.sign"))
	if link == "" {
		link = s.linkOf(chatID, s.tr("kk", "btn.sign"))
	}
	if link == "" {
		return fail("the link")
	}
	var tabs []*signer
	var docs [][]byte
	for range 2 {
		b, doc, err := s.openPage(link)
		if err != nil {
			return fail("the page: " + err.Error())
		}
		tabs, docs = append(tabs, b), append(docs, doc)
	}
	var wg sync.WaitGroup
	for k, b := range tabs {
		signed, err := xmlsigtest.Sign(docs[k], s.keys[i].sign)
		if err != nil {
			s.t.Errorf("sign: %v", err)
			return true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := b.post(signed)
			switch {
			case err == nil && r.OK:
				s.revokeOK.Add(1)
			case err == nil:
				s.revokeRefused.Add(1)
			}
		}()
	}
	wg.Wait()
	return s.revokedInDB(ctx)
}

// revokedInDB tells whether the revocable demo referral is revoked (then the chat stops trying).
func (s *soak) revokedInDB(ctx context.Context) bool {
	c, err := pgx.Connect(ctx, s.pg.url())
	if err != nil {
		return false
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'revoke'`).Scan(&n); err != nil {
		return false
	}
	return n > 0
}

// staff creates a broadcast to every bound parent and imports a batch of status events every
// few seconds, through the admin API of whichever replica answers.
func (s *soak) staff(ctx context.Context) {
	// The broadcast audience beyond the bound demo chats: chats bound to the demo parents'
	// IINs written straight into the table once the demo chats are bound through the page
	// (the dialog refuses a second chat per IIN; the engine does not care how a binding came
	// to be).
	for s.binds.Load() < int64(len(postgres.DemoParents)) {
		if !pause(ctx, 200*time.Millisecond) {
			return
		}
	}
	for !s.fanOut(ctx) {
		if !pause(ctx, 500*time.Millisecond) {
			return
		}
	}
	n := 0
	for pause(ctx, time.Duration(4+mrand.IntN(5))*time.Second) {
		n++
		body := fmt.Sprintf(`{"audience":{},"text_ru":"soak broadcast %d."}`, n)
		var out struct {
			ID int64 `json:"id"`
		}
		if s.admin(ctx, "/admin/broadcasts", body, &out) && out.ID > 0 {
			s.mu.Lock()
			s.broadcasts = append(s.broadcasts, out.ID)
			s.mu.Unlock()
		}
		var evs []string
		for k, app := range []string{appRevocable, appTooLate} {
			evs = append(evs, fmt.Sprintf(`{"kind":"queue_changed","payload":{"event_id":"soak-%d-%d","application_number":%q,"queue_number":%d,"old_queue_number":%d}}`,
				n, k, app, 100+n, 300+n))
		}
		if s.admin(ctx, "/admin/events", "["+strings.Join(evs, ",")+"]", nil) {
			s.events.Add(int64(len(evs)))
		}
	}
}

func (s *soak) fanOut(ctx context.Context) bool {
	c, err := pgx.Connect(ctx, s.pg.url())
	if err != nil {
		return false
	}
	defer c.Close(ctx)
	err = pgx.BeginTxFunc(ctx, c, pgx.TxOptions{}, func(tx pgx.Tx) error {
		for i := range soakFanChats {
			p := postgres.DemoParents[i%len(postgres.DemoParents)]
			if _, err := tx.Exec(ctx, `INSERT INTO telegram_bindings (chat_id, iin, lang, bound_at) VALUES ($1, $2, 'ru', now())
				ON CONFLICT DO NOTHING`, soakFanBase+i, p.IIN); err != nil {
				return err
			}
		}
		return nil
	})
	return err == nil
}

// admin posts to the admin API until a replica takes it (a lost answer may leave a created
// broadcast unknown to the soak; it is still checked through the database).
func (s *soak) admin(ctx context.Context, path, body string, out any) bool {
	for try := 0; try < 20 && ctx.Err() == nil; try++ {
		r := s.reps[mrand.IntN(len(s.reps))]
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+soakAdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				if out != nil {
					_ = json.Unmarshal(b, out)
				}
				return true
			}
			if resp.StatusCode/100 == 4 {
				s.t.Errorf("admin %s: %d %s", path, resp.StatusCode, b)
				return false
			}
		}
		pause(ctx, 500*time.Millisecond)
	}
	return false
}

// chaos: every 3–8 s one fault — a replica SIGKILLed and started again 0.5–2 s later (most
// often), Redis SIGKILLed and restarted, or PostgreSQL crashed (immediate stop) and restarted.
// The first three faults are one of each kind in a random order, so that a short run has them all.
func (s *soak) chaos(ctx context.Context) {
	first := mrand.Perm(3)
	for n := 0; pause(ctx, time.Duration(3000+mrand.IntN(5000))*time.Millisecond); n++ {
		down := time.Duration(500+mrand.IntN(1500)) * time.Millisecond
		x := mrand.IntN(10)
		if n < len(first) {
			x = []int{0, 6, 8}[first[n]]
		}
		switch {
		case x < 6:
			r := s.reps[mrand.IntN(len(s.reps))]
			r.kill()
			s.kills.Add(1)
			pause(context.Background(), down)
			if err := r.run(context.Background()); err != nil {
				s.t.Errorf("restart replica: %v", err)
			}
		case x < 8:
			if err := s.redis.restart(down); err != nil {
				s.t.Errorf("restart redis: %v", err)
			}
			s.redisRestarts.Add(1)
		default:
			if err := s.pg.restart(down); err != nil {
				s.t.Errorf("restart postgres: %v", err)
			}
			s.pgRestarts.Add(1)
		}
	}
}

// settle waits until every broadcast is done and every notification and outbox row handled.
func (s *soak) settle(ctx context.Context) {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		c, err := pgx.Connect(ctx, s.pg.url())
		if err == nil {
			var busy int
			err = c.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM broadcasts WHERE state = 'running') +
				(SELECT count(*) FROM outbox WHERE processed_at IS NULL) +
				(SELECT count(*) FROM notifications WHERE state IN ('pending', 'sending'))`).Scan(&busy)
			_ = c.Close(ctx)
			if err == nil && busy == 0 {
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.t.Errorf("broadcasts or notifications still not done 3 minutes after the traffic stopped")
}

type soakFigures struct {
	DurationS           float64 `json:"duration_s"`
	Updates             int     `json:"updates"`
	Acknowledged        int     `json:"acknowledged"`
	Redelivered         int     `json:"redelivered"`
	Pushes              int     `json:"pushes"`
	Unacknowledged      int64   `json:"unacknowledged"`
	LostAcknowledged    int     `json:"lost_acknowledged"`
	StaleStates         int     `json:"stale_states"`
	ReplicaKills        int64   `json:"replica_kills"`
	RedisRestarts       int64   `json:"redis_restarts"`
	PostgresRestarts    int64   `json:"postgres_restarts"`
	Binds               int64   `json:"binds"`
	BindAttempts        int64   `json:"bind_attempts"`
	Revocations         int     `json:"revocations"`
	RevokeAttempts      int64   `json:"revoke_attempts"`
	RevokePostsOK       int64   `json:"revoke_posts_ok"`
	RevokePostsRefused  int64   `json:"revoke_posts_refused"`
	MaxRevokesPerRef    int     `json:"max_revocations_per_referral"`
	Broadcasts          int     `json:"broadcasts"`
	BroadcastDeliveries int     `json:"broadcast_deliveries"`
	BroadcastDuplicates int     `json:"broadcast_duplicates"`
	DuplicateBound      int     `json:"broadcast_duplicate_bound"`
	Notifications       int     `json:"notifications"`
	NotifyDuplicates    int     `json:"notification_duplicates"`
	EventsImported      int64   `json:"events_imported"`
	RepeatedCbAnswers   int     `json:"callback_answers_repeated"`
	RepeatedReplies     int     `json:"replies_repeated"`
	Panics              int     `json:"panics"`
}

func (s *soak) check(ctx context.Context, dur time.Duration) {
	t := s.t
	f := soakFigures{DurationS: dur.Round(time.Second).Seconds(), ReplicaKills: s.kills.Load(),
		RedisRestarts: s.redisRestarts.Load(), PostgresRestarts: s.pgRestarts.Load(), Binds: s.binds.Load(),
		BindAttempts: s.bindTries.Load(), RevokePostsOK: s.revokeOK.Load(), RevokeAttempts: s.revokeTries.Load(), RevokePostsRefused: s.revokeRefused.Load(),
		EventsImported: s.events.Load(), Unacknowledged: s.unacked.Load()}
	calls := s.tg.Calls()
	c, err := pgx.Connect(ctx, s.pg.url())
	if err != nil {
		t.Fatalf("connect for the checks: %v", err)
	}
	defer c.Close(ctx)
	// What the engine sent on its own (notifications, broadcasts) is no reply to an update.
	notified := map[string]bool{}
	rows, err := c.Query(ctx, `SELECT chat_id, text FROM notifications`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var chatID int64
		var text string
		if err := rows.Scan(&chatID, &text); err != nil {
			t.Fatal(err)
		}
		notified[strconv.FormatInt(chatID, 10)+"\x00"+text] = true
	}
	rows.Close()
	engineSent := func(call telegramtest.Call) bool {
		return call.Method == "sendMessage" && (strings.Contains(call.Params["text"], "soak broadcast ") ||
			notified[strconv.FormatInt(call.ChatID(), 10)+"\x00"+call.Params["text"]])
	}

	// 1. No acknowledged update lost: a press has its callback answer, a message a reply
	// (a message sent or edited in its chat after its first push).
	answered := map[string]int{}
	lastShow := map[int64]int{} // chat → seq of its last dialog message call
	shownAfter := map[int64][]int{}
	for _, c := range calls {
		switch c.Method {
		case "answerCallbackQuery":
			answered[c.Params["callback_query_id"]]++
		case "sendMessage", "editMessageText":
			if c.Failed() || engineSent(c) {
				continue
			}
			shownAfter[c.ChatID()] = append(shownAfter[c.ChatID()], c.Seq)
			lastShow[c.ChatID()] = c.Seq
		}
	}
	s.mu.Lock()
	updates := s.updates
	s.mu.Unlock()
	for _, u := range updates {
		f.Updates++
		f.Pushes += u.attempts
		if u.attempts > 1 {
			f.Redelivered++
		}
		if !u.acked {
			continue
		}
		f.Acknowledged++
		ok := false
		if u.cbID != "" {
			ok = answered[u.cbID] > 0
			if answered[u.cbID] > 1 {
				// A redelivered press's 200 carries its silent answer again (README).
				f.RepeatedCbAnswers += answered[u.cbID] - 1
			}
		} else {
			seqs := shownAfter[u.chat]
			ok = len(seqs) > 0 && seqs[len(seqs)-1] >= u.seq
		}
		if !ok {
			f.LostAcknowledged++
			if f.LostAcknowledged <= 5 {
				t.Errorf("update %d (chat %d) was acknowledged but never answered", u.id, u.chat)
			}
		}
	}

	// Replies sent twice: within one update's window (from its first push to the next update
	// of its chat), the same message sent again. Only a redelivery after a crash mid-turn can
	// do that (at least once: the turn ran, its commit did not); counted, not failed.
	byChat := map[int64][]*soakUpdate{}
	for _, u := range updates {
		byChat[u.chat] = append(byChat[u.chat], u)
	}
	for _, us := range byChat {
		for k, u := range us {
			if u.attempts < 2 {
				continue
			}
			end := len(calls)
			if k+1 < len(us) {
				end = us[k+1].seq
			}
			seen := map[string]bool{}
			for _, call := range calls[min(u.seq, end):end] {
				if call.Method != "sendMessage" || call.Failed() || call.ChatID() != u.chat || engineSent(call) {
					continue
				}
				if seen[call.Params["text"]] {
					f.RepeatedReplies++
				}
				seen[call.Params["text"]] = true
			}
		}
	}

	// 2. No chat's state older than its last acknowledged update: an unbound dialog chat gets
	// only replies, so its state must point at the message its last reply showed.
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.redis.port)})
	defer rdb.Close()
	for i := range soakDialogs {
		chatID := int64(soakDialogBase + i)
		raw, err := rdb.HGet(ctx, "kz:{"+strconv.FormatInt(chatID, 10)+"}:d", "s").Result()
		if err != nil {
			f.StaleStates++
			t.Errorf("chat %d: no dialog state in Redis: %v", chatID, err)
			continue
		}
		var st flows.State
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			t.Errorf("chat %d: state is not JSON: %v", chatID, err)
			continue
		}
		seq, ok := lastShow[chatID]
		if !ok {
			continue
		}
		last := calls[seq]
		want := last.MessageID()
		if want == 0 {
			want, _ = strconv.Atoi(last.Params["message_id"])
		}
		if st.MsgID != want {
			f.StaleStates++
			t.Errorf("chat %d: state points at message %d, the last reply showed %d (%s)", chatID, st.MsgID, want, st.Name)
		}
	}

	// 3. At most one revocation per referral; 4. broadcasts complete, duplicates bounded;
	// notifications sent, duplicates counted.
	if err := c.QueryRow(ctx, `SELECT count(*), coalesce(max(n), 0) FROM (SELECT object, count(*) AS n FROM audit_log
		WHERE action = 'revoke' GROUP BY object) x`).Scan(&f.Revocations, &f.MaxRevokesPerRef); err != nil {
		t.Fatal(err)
	}
	if f.MaxRevokesPerRef > 1 {
		t.Errorf("a referral was revoked %d times", f.MaxRevokesPerRef)
	}

	sentTo := map[string]int{}    // chat + text → sendMessage calls that succeeded
	bcastSent := map[string]int{} // chat + "soak broadcast N." → the same, for broadcasts
	for _, call := range calls {
		if call.Method == "sendMessage" && !call.Failed() {
			text := call.Params["text"]
			sentTo[strconv.FormatInt(call.ChatID(), 10)+"\x00"+text]++
			if i := strings.Index(text, "soak broadcast "); i >= 0 {
				if j := strings.IndexByte(text[i:], '.'); j > 0 {
					bcastSent[strconv.FormatInt(call.ChatID(), 10)+"\x00"+text[i:i+j+1]]++
				}
			}
		}
	}
	rows, err = c.Query(ctx, `SELECT b.state, d.chat_id, d.state, coalesce(b.text_ru, '') FROM broadcast_deliveries d JOIN broadcasts b ON b.id = d.broadcast_id`)
	if err != nil {
		t.Fatal(err)
	}
	bcasts := map[string]bool{}
	for rows.Next() {
		var bstate, dstate, text string
		var chatID int64
		if err := rows.Scan(&bstate, &chatID, &dstate, &text); err != nil {
			t.Fatal(err)
		}
		bcasts[text] = true
		f.BroadcastDeliveries++
		if bstate != "done" || dstate != "sent" {
			t.Errorf("broadcast %q: chat %d delivery %s (broadcast %s)", text, chatID, dstate, bstate)
			continue
		}
		n := bcastSent[strconv.FormatInt(chatID, 10)+"\x00"+text]
		if n == 0 {
			t.Errorf("broadcast %q marked sent to chat %d, but the fake Bot API never got it", text, chatID)
		}
		if n > 1 {
			f.BroadcastDuplicates += n - 1
		}
	}
	rows.Close()
	f.Broadcasts = len(bcasts)
	// README: after a kill only the dead engine's in-flight sends plus one unrecorded batch can
	// go again. With this audience a batch is at most the broadcast; bound it by the sends.
	f.DuplicateBound = int(f.ReplicaKills) * (soakBcastSends + soakBcastSends)
	if f.BroadcastDuplicates > f.DuplicateBound {
		t.Errorf("%d broadcast duplicates over %d kills, more than the bound %d", f.BroadcastDuplicates, f.ReplicaKills, f.DuplicateBound)
	}
	rows, err = c.Query(ctx, `SELECT chat_id, state, text FROM notifications`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var chatID int64
		var state, text string
		if err := rows.Scan(&chatID, &state, &text); err != nil {
			t.Fatal(err)
		}
		f.Notifications++
		if state != "sent" {
			t.Errorf("notification to chat %d left %s", chatID, state)
			continue
		}
		switch n := sentTo[strconv.FormatInt(chatID, 10)+"\x00"+text]; {
		case n == 0:
			t.Errorf("a notification marked sent to chat %d never reached the fake Bot API", chatID)
		case n > 1:
			f.NotifyDuplicates += n - 1
		}
	}
	rows.Close()
	if f.NotifyDuplicates > int(f.ReplicaKills)*(soakBcastSends+soakBcastSends) {
		t.Errorf("%d notification duplicates over %d kills", f.NotifyDuplicates, f.ReplicaKills)
	}

	// 5. No panic in any log.
	for _, r := range s.reps {
		b, _ := os.ReadFile(r.logs)
		for _, l := range soakPanics(string(b)) {
			f.Panics++
			t.Errorf("replica %s: %s", r.name, l)
		}
	}
	if f.Unacknowledged > 0 {
		t.Errorf("%d updates never got a 200 within 90 s of redelivery", f.Unacknowledged)
	}
	if f.Binds == 0 {
		t.Errorf("no chat was bound through the signing page")
	}
	if f.Revocations == 0 {
		t.Errorf("the demo referral was never revoked (%d attempts)", f.RevokeAttempts)
	}

	line, _ := json.Marshal(f)
	fmt.Printf("SOAK %s\n", line)
	fmt.Printf("soak: %.0fs of traffic, two replicas, own Redis and PostgreSQL\n", f.DurationS)
	fmt.Printf("  %-34s %d sent, %d acknowledged, %d redelivered (%d pushes), %d never acknowledged\n", "updates", f.Updates, f.Acknowledged, f.Redelivered, f.Pushes, f.Unacknowledged)
	fmt.Printf("  %-34s %d lost, %d stale states, %d callback answers repeated on redelivery, %d replies sent twice\n", "acknowledged updates", f.LostAcknowledged, f.StaleStates, f.RepeatedCbAnswers, f.RepeatedReplies)
	fmt.Printf("  %-34s %d replica kills, %d Redis restarts, %d PostgreSQL restarts\n", "faults", f.ReplicaKills, f.RedisRestarts, f.PostgresRestarts)
	fmt.Printf("  %-34s %d binds in %d attempts; %d revocation(s) in %d attempts, max %d per referral (%d posts ok, %d refused)\n", "signatures", f.Binds, f.BindAttempts, f.Revocations, f.RevokeAttempts, f.MaxRevokesPerRef, f.RevokePostsOK, f.RevokePostsRefused)
	fmt.Printf("  %-34s %d broadcasts, %d deliveries, %d duplicates (bound %d)\n", "broadcasts", f.Broadcasts, f.BroadcastDeliveries, f.BroadcastDuplicates, f.DuplicateBound)
	fmt.Printf("  %-34s %d events, %d notifications, %d duplicates\n", "notifications", f.EventsImported, f.Notifications, f.NotifyDuplicates)
	fmt.Printf("  %-34s %d\n", "panics", f.Panics)
}

type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}
