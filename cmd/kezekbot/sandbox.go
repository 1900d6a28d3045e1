package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/sandbox"
	"github.com/kezekbot/kezekbot/signer-link/fakeegov"
	"github.com/kezekbot/kezekbot/signer-link/fakencalayer"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
	"github.com/kezekbot/kezekbot/store/postgres"
)

func init() {
	commands["sandbox"] = command{"try it locally: a Telegram-like chat page, fake Bot API, demo data and test ЭЦП keys", runSandbox}
}

// sandboxToken is what the bot presents to the fake Bot API; it is not a Telegram token.
const sandboxToken = "100000001:SANDBOX-not-a-telegram-token-xxxxx"

// Sandbox chat ids: demo parents from 1001, a parent unknown to the registry, a staff member.
const (
	sandboxFirstParent = 1001
	sandboxPhone       = 1501 // the phone persona: demo parent sandboxPhoneParent on a phone
	sandboxStranger    = 1901
	sandboxStaff       = 9001
)

// sandboxPhoneParent is the demo parent the phone persona is: one with a revocable referral,
// other than the first, so the two routes can be tried side by side, and the one with GOST
// keys (sandboxGOSTParent), so the phone route runs with GOST end to end.
const sandboxPhoneParent = sandboxGOSTParent

// sandboxBIN is the placeholder BIN eGov mobile shows in the sandbox (and in serve, never:
// serve requires KEZEKBOT_EGOV_BIN when eGov mobile is on).
const sandboxBIN = "000000000000"

// sandboxEGovPath is where the signing page's «sandbox eGov mobile» button posts the link.
const sandboxEGovPath = "/sandbox/egov"

// sandboxUnused are the settings the sandbox sets itself: it has its own Telegram (so no token,
// API URL, mode or webhook), its own test CA (no trust or CRL directory) and always migrates.
var sandboxUnused = []string{"KEZEKBOT_MODE", "KEZEKBOT_TELEGRAM_TOKEN", "KEZEKBOT_TELEGRAM_API_URL", "KEZEKBOT_WEBHOOK_SECRET",
	"KEZEKBOT_WEBHOOK_PATH", "KEZEKBOT_TRUST_DIR", "KEZEKBOT_CRL_DIR", "migrate"}

func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	noSeed := fs.Bool("no-seed", false, "keep the database as it is instead of refreshing the demo data")
	embedded := fs.Bool("embedded", false, "run on kezekbot's own tables (KEZEKBOT_QUEUE=embedded) instead of in front of the reference city")
	cityAddr := fs.String("city-addr", "127.0.0.1:0", "address of the reference city the sandbox starts (city mode; :0 picks a free port)")
	if wantsHelp(args) {
		_, _ = loadConfig(fs, nil, func(string) string { return "" }, sandboxUnused...)
		return printFlags(fs, stdout, "kezekbot sandbox [flags]: everything on one machine, no Telegram token and no NCALayer needed.\nOpen http://127.0.0.1:8080/ (KEZEKBOT_HTTP_ADDR) and type /start.")
	}
	cfg, err := loadConfig(fs, args, os.Getenv, sandboxUnused...)
	if err != nil {
		return exitCode(stderr, "sandbox", err)
	}
	log := cfg.logger(stderr)
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return exitCode(stderr, "sandbox", usagef("KEZEKBOT_HTTP_ADDR: %v (is another kezekbot running?)", err))
	}
	base := "http://" + ln.Addr().String()
	// The sandbox is local by construction: its fake Telegram is part of this process.
	cfg.Mode, cfg.Token, cfg.APIURL, cfg.Migrate = "polling", sandboxToken, base+"/tg", true
	if os.Getenv("KEZEKBOT_PUBLIC_URL") == "" {
		cfg.PublicURL = base
	}

	// One sandbox per database: a second one (another port, same database) would re-seed the
	// first one's data under it. The lock lives as long as this process.
	lock, err := lockSandbox(ctx, string(cfg.DatabaseURL))
	if err != nil {
		_ = ln.Close()
		return exitCode(stderr, "sandbox", err)
	}
	defer lock.release()
	// City mode by default: the demo lives at a reference city started here, on its own port,
	// and kezekbot fronts it as it would the real one. -embedded keeps the old way.
	queueSet := os.Getenv("KEZEKBOT_QUEUE") != ""
	fs.Visit(func(f *flag.Flag) { queueSet = queueSet || f.Name == "queue" })
	var rc *sandboxCity
	if !*embedded && (!queueSet || cfg.City.Queue == queueCity) {
		cfg.City.Queue = queueCity
		if cfg.City.URL == "" {
			if rc, err = startSandboxCity(cfg, *cityAddr, log); err != nil {
				_ = ln.Close()
				return exitCode(stderr, "sandbox", err)
			}
			defer rc.close()
		}
		if err := cfg.validateCity(true); err != nil {
			_ = ln.Close()
			return exitCode(stderr, "sandbox", err)
		}
	}
	if !*noSeed && cfg.City.Queue != queueCity {
		if _, err := seedDemo(ctx, string(cfg.DatabaseURL), time.Now()); err != nil {
			_ = ln.Close()
			return exitCode(stderr, "sandbox", fmt.Errorf("load demo data (is PostgreSQL running? `make run` starts it): %w", err))
		}
	}
	signer, err := newSandboxSigner(ctx)
	if err != nil {
		_ = ln.Close()
		return exitCode(stderr, "sandbox", err)
	}
	defer signer.nca.Close()

	api := telegramtest.NewHandler()
	defer api.Close()
	personas := sandboxPersonas()
	for _, p := range personas { // the bind page names the account, as getChat tells it
		api.SetChat(models.ChatFullInfo{ID: p.ChatID, Type: models.ChatTypePrivate, FirstName: p.Name})
	}
	ui := sandbox.New(api, personas, log)
	a, err := newApp(ctx, appOptions{
		cfg:         cfg,
		log:         log,
		trust:       signer.trust,
		ncaLayerURL: signer.nca.URL(),
		egovDefault: true,
		egovSandbox: sandboxEGovPath,
		routes: func(mux *http.ServeMux) {
			mux.Handle("/tg/", http.StripPrefix("/tg", api))
			mux.Handle("POST "+sandboxEGovPath, signer.egovHandler(cfg.PublicURL, log))
			mux.Handle("GET /{$}", ui)
			mux.Handle("/sandbox/", ui)
		},
	})
	if err != nil {
		_ = ln.Close()
		return exitCode(stderr, "sandbox", err)
	}
	defer a.close()
	// The staff persona may try /broadcast: it is an operator in this database.
	if _, err := a.db.AddStaff(ctx, postgres.StaffMember{UserID: sandboxStaff, Role: postgres.RoleOperator, Lang: "ru", Note: "sandbox staff persona"}); err != nil {
		_ = ln.Close()
		return exitCode(stderr, "sandbox", fmt.Errorf("register the sandbox staff member: %w", err))
	}
	fmt.Fprintf(stdout, "\n  kezekbot sandbox: open %s/ and type /start\n  (fake Telegram, demo data, TEST ЭЦП keys — nothing here is real)\n", base)
	if rc != nil {
		fmt.Fprintf(stdout, "  city mode: the demo lives at the reference city on %s (sandbox token %s; -embedded for kezekbot's own tables)\n", rc.url, string(cfg.City.Token))
	}
	fmt.Fprintln(stdout)
	if err := a.run(ctx, ln, append(a.workers(), ui.Run)...); err != nil {
		return exitCode(stderr, "sandbox", err)
	}
	return 0
}

// sandboxGOSTParent is the demo parent whose sandbox keys are GOST 34.10-2015 512 (NCA's one
// key type for everyone from now on); the others hold RSA keys. Both kinds run the same path.
const sandboxGOSTParent = 3

// sandboxSigner is the sandbox's stand-in for NCA RK and NCALayer: an RSA and a GOST test CA
// generated at start (trusted by this process only, never by serve) and a fake NCALayer
// holding demo parents' test keys.
type sandboxSigner struct {
	trust *xmlsig.TrustStore
	nca   *fakencalayer.Server
	egov  *fakeegov.Client
}

func newSandboxSigner(ctx context.Context) (*sandboxSigner, error) {
	rsaCA, err := xmlsigtest.NewCA()
	if err != nil {
		return nil, fmt.Errorf("sandbox test CA: %w", err)
	}
	gostCA, err := xmlsigtest.NewGOSTCA()
	if err != nil {
		return nil, fmt.Errorf("sandbox GOST test CA: %w", err)
	}
	type keys struct{ auth, sign *xmlsigtest.Person }
	byChat := make(map[string]keys, len(postgres.DemoParents)+2)
	for chat, p := range sandboxKeyHolders() {
		parts := strings.Fields(strings.ToUpper(p.Name))
		var k keys
		ca := rsaCA
		if p.IIN == postgres.DemoParents[sandboxGOSTParent].IIN { // on the computer and on the phone
			ca = gostCA
		}
		for _, u := range []xmlsig.Usage{xmlsig.UsageAuth, xmlsig.UsageSign} {
			o := xmlsigtest.PersonOptions{Usage: u, IIN: p.IIN, Surname: parts[0], Name: parts[1]}
			if len(parts) > 2 {
				o.Patronymic = parts[2]
			}
			person, err := ca.Issue(o)
			if err != nil {
				return nil, fmt.Errorf("sandbox test key for chat %d: %w", chat, err)
			}
			if u == xmlsig.UsageAuth {
				k.auth = person
			} else {
				k.sign = person
			}
		}
		byChat[strconv.FormatInt(chat, 10)] = k
	}
	keysFor := func(doc string) (auth, sign *xmlsigtest.Person) {
		k := byChat[chatOfDocument(doc)]
		return k.auth, k.sign
	}
	nca, err := fakencalayer.Start(ctx, fakencalayer.Options{
		// The document names the chat it was issued for; sign as that chat's persona, the way a
		// parent at their own computer would. Every persona holds keys (sandboxKeyHolders).
		KeysFor: keysFor,
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox NCALayer: %w", err)
	}
	// The same keys in a fake eGov mobile app: the phone route signs as the same parent.
	egov := fakeegov.New(fakeegov.Options{KeysFor: keysFor})
	return &sandboxSigner{trust: xmlsigtest.TrustStoreOf(rsaCA, gostCA), nca: nca, egov: egov}, nil
}

// egovHandler is the «sandbox eGov mobile» button's endpoint: POST {"link":"mobileSign:…"}
// and the fake app does what the real one does with a scanned link — API №1, API №2, signs
// with the demo parent's TEST key, PUTs it back — and answers with the app's last answer.
// Only links of this server are followed (it must not fetch anything else on a request).
func (ss *sandboxSigner) egovHandler(publicURL string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// A cross-site form cannot send JSON without a preflight we never answer.
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			w.WriteHeader(http.StatusUnsupportedMediaType)
			_, _ = io.WriteString(w, `{"status":"error","code":"content_type"}`+"\n")
			return
		}
		var req struct {
			Link string `json:"link"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"status":"error","code":"bad_json"}`+"\n")
			return
		}
		api1, err := fakeegov.API1URL(req.Link)
		if err != nil || !strings.HasPrefix(api1, publicURL+"/s/") {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"status":"error","code":"not_our_link"}`+"\n")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		ans, err := ss.egov.SignLink(ctx, req.Link)
		if err != nil {
			log.WarnContext(ctx, "sandbox eGov mobile", "err", err)
		}
		_ = json.NewEncoder(w).Encode(ans)
	})
}

// chatOfDocument finds the text of the <chat> element of a document we issued.
func chatOfDocument(doc string) string {
	_, rest, ok := strings.Cut(doc, "<chat>")
	if !ok {
		return ""
	}
	chat, _, _ := strings.Cut(rest, "</chat>")
	return chat
}

// Key holders without applications: the guest and the staff member. Their IINs are made up
// (valid check digits) and belong to no demo applicant, so signing in works and the journal is
// empty — what a parent whose applications were filed by someone else sees. Without a key,
// the sandbox's NCALayer could only answer as if the parent had cancelled.
var (
	sandboxGuest     = postgres.DemoParent{Name: "Гостева Гость Гостевна", IIN: "920615301003", Lang: "ru"}
	sandboxStaffKeys = postgres.DemoParent{Name: "Операторова Оператор", IIN: "890311401009", Lang: "ru"}
)

// sandboxKeyHolders maps every persona's chat to the person its TEST keys are issued to.
func sandboxKeyHolders() map[int64]postgres.DemoParent {
	m := make(map[int64]postgres.DemoParent, len(postgres.DemoParents)+2)
	for i, p := range postgres.DemoParents {
		m[int64(sandboxFirstParent+i)] = p
	}
	m[sandboxPhone] = postgres.DemoParents[sandboxPhoneParent]
	m[sandboxStranger] = sandboxGuest
	m[sandboxStaff] = sandboxStaffKeys
	return m
}

func sandboxPersonas() []sandbox.Persona {
	var out []sandbox.Persona
	for i, p := range postgres.DemoParents {
		keys := "RSA"
		if i == sandboxGOSTParent {
			keys = "GOST 34.10-2015 512"
		}
		out = append(out, sandbox.Persona{
			ChatID: int64(sandboxFirstParent + i), Name: p.Name, Role: "parent", Lang: p.Lang,
			Note: p.Note + "; TEST keys: " + keys,
		})
	}
	phone := postgres.DemoParents[sandboxPhoneParent]
	out = append(out, sandbox.Persona{
		ChatID: sandboxPhone, Name: phone.Name + " (телефон)", Role: "parent", Lang: phone.Lang, Device: "phone",
		Note: "the same demo parent on a phone: links open phone-sized; sign with «sandbox eGov mobile»",
	})
	out = append(out, sandbox.Persona{ChatID: sandboxStranger, Name: "Гость", Role: "parent", Lang: "ru",
		Note: "TEST keys, but no applications in the registry: signing in works, the journal is empty"})
	out = append(out, sandbox.Persona{ChatID: sandboxStaff, Name: "Оператор (staff)", Role: "staff", Lang: "ru",
		Note: "a staff operator: /broadcast sends a message to the demo parents who bound the bot"})
	return out
}

// sandboxLock is the sandbox's hold on its database (postgres.DB.TryLock).
type sandboxLock struct {
	db   *postgres.DB
	lock *postgres.SessionLock
}

// lockSandbox takes the database's sandbox lock or says, in one line, how to run a second
// sandbox next to the first.
func lockSandbox(ctx context.Context, url string) (*sandboxLock, error) {
	db, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open database (is PostgreSQL running? `make run` starts it): %w", err)
	}
	l, err := db.TryLock(ctx, "sandbox")
	if kezekbot.ErrorCode(err) == kezekbot.ECONFLICT {
		var name, schema string
		_ = db.Pool().QueryRow(ctx, "SELECT current_database(), current_schema()").Scan(&name, &schema)
		db.Close()
		return nil, usagef("another kezekbot sandbox is running on database %q (schema %q) and this one would overwrite its data; "+
			"stop it, or run this one on a database of its own: `createdb -h 127.0.0.1 -U postgres kezekbot2`, then "+
			"-database-url postgres://postgres@127.0.0.1:5432/kezekbot2 -redis-url redis://127.0.0.1:6379/1 (see `kezekbot help sandbox`)", name, schema)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return &sandboxLock{db: db, lock: l}, nil
}

func (l *sandboxLock) release() {
	l.lock.Release()
	l.db.Close()
}
