package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/sandbox"
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
	sandboxStranger    = 1901
	sandboxStaff       = 9001
)

func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	noSeed := fs.Bool("no-seed", false, "keep the database as it is instead of refreshing the demo data")
	embedded := fs.Bool("embedded", false, "run on kezekbot's own tables (KEZEKBOT_QUEUE=embedded) instead of in front of the reference city")
	cityAddr := fs.String("city-addr", "127.0.0.1:0", "address of the reference city the sandbox starts (city mode; :0 picks a free port)")
	if wantsHelp(args) {
		return printFlags(fs, stdout, "kezekbot sandbox [flags]: everything on one machine, no Telegram token and no NCALayer needed.\nOpen http://127.0.0.1:8080/ (KEZEKBOT_HTTP_ADDR) and type /start.")
	}
	cfg, err := loadConfig(fs, args, os.Getenv)
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
		if err := cfg.City.validate(true); err != nil {
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
	ui := sandbox.New(api, sandboxPersonas(), log)
	a, err := newApp(ctx, appOptions{
		cfg:         cfg,
		log:         log,
		trust:       signer.trust,
		ncaLayerURL: signer.nca.URL(),
		routes: func(mux *http.ServeMux) {
			mux.Handle("/tg/", http.StripPrefix("/tg", api))
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
	byChat := make(map[string]keys, len(postgres.DemoParents))
	for i, p := range postgres.DemoParents {
		parts := strings.Fields(strings.ToUpper(p.Name))
		var k keys
		ca := rsaCA
		if i == sandboxGOSTParent {
			ca = gostCA
		}
		for _, u := range []xmlsig.Usage{xmlsig.UsageAuth, xmlsig.UsageSign} {
			o := xmlsigtest.PersonOptions{Usage: u, IIN: p.IIN, Surname: parts[0], Name: parts[1]}
			if len(parts) > 2 {
				o.Patronymic = parts[2]
			}
			person, err := ca.Issue(o)
			if err != nil {
				return nil, fmt.Errorf("sandbox test key for demo parent %d: %w", i, err)
			}
			if u == xmlsig.UsageAuth {
				k.auth = person
			} else {
				k.sign = person
			}
		}
		byChat[strconv.Itoa(sandboxFirstParent+i)] = k
	}
	nca, err := fakencalayer.Start(ctx, fakencalayer.Options{
		// The document names the chat it was issued for; sign as that chat's demo parent, the
		// way a parent at their own computer would. A chat with no demo parent has no key.
		KeysFor: func(doc string) (auth, sign *xmlsigtest.Person) {
			k := byChat[chatOfDocument(doc)]
			return k.auth, k.sign
		},
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox NCALayer: %w", err)
	}
	return &sandboxSigner{trust: xmlsigtest.TrustStoreOf(rsaCA, gostCA), nca: nca}, nil
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

func sandboxPersonas() []sandbox.Persona {
	var out []sandbox.Persona
	for i, p := range postgres.DemoParents {
		note := "demo parent; the sandbox signer holds this parent's TEST keys (RSA)"
		if i == sandboxGOSTParent {
			note = "demo parent; the sandbox signer holds this parent's TEST keys (GOST 34.10-2015 512)"
		}
		out = append(out, sandbox.Persona{
			ChatID: int64(sandboxFirstParent + i), Name: p.Name, Role: "parent", Lang: p.Lang,
			Note: note,
		})
	}
	out = append(out, sandbox.Persona{ChatID: sandboxStranger, Name: "Гость", Role: "parent", Lang: "ru", Note: "no applications in the registry"})
	out = append(out, sandbox.Persona{ChatID: sandboxStaff, Name: "Оператор (staff)", Role: "staff", Lang: "ru",
		Note: "a staff operator: /broadcast sends a message to the demo parents who bound the bot"})
	return out
}
