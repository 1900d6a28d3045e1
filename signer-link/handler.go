package signerlink

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
)

// MaxBodySize caps a POSTed signature. A signed request is ~4 KiB; NCALayer's certificate and
// line breaks never make it 64.
const MaxBodySize = 64 << 10

// actionTimeout bounds the work done after a link was consumed. That work runs on a context
// detached from the request: a parent closing the tab must not leave a consumed link with
// nothing done.
const actionTimeout = 30 * time.Second

const (
	csrfCookie = "kz_csrf"
	csrfHeader = "X-CSRF-Token"
	// InstallURL is where parents get NCALayer.
	InstallURL = "https://ncl.pki.gov.kz/"
)

var (
	//go:embed templates/page.html
	templateFS embed.FS
	//go:embed static/sign.js static/egov.js static/style.css
	staticFS embed.FS

	pageTmpl = template.Must(template.ParseFS(templateFS, "templates/page.html"))

	staticTypes = map[string]string{
		"sign.js":   "text/javascript; charset=utf-8",
		"egov.js":   "text/javascript; charset=utf-8",
		"style.css": "text/css; charset=utf-8",
	}
)

// Handler returns the signing pages. Mount it at /s/ of the server that KEZEKBOT_PUBLIC_URL
// points to:
//
//	GET  /s/{token}           the page: what will be signed, in the parent's language
//	GET  /s/{token}/document  the XML to sign (for the page's script; needs the CSRF header)
//	POST /s/{token}           the signed XML (application/xml with X-CSRF-Token, or a form
//	                          with fields xml and csrf)
//	GET  /s/static/{file}     sign.js, style.css
//
// If the public URL has a path, strip it before this handler (http.StripPrefix). Access logs
// in front of it must not record the paths: the token is the link.
func (s *Service) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.securityHeaders(w.Header())
	rest, ok := strings.CutPrefix(r.URL.Path, "/s/")
	if !ok {
		s.renderError(w, r, langFromAcceptLanguage(r.Header.Get("Accept-Language")), "link_forged", nil)
		return
	}
	if file, ok := strings.CutPrefix(rest, "static/"); ok {
		s.serveStatic(w, r, file)
		return
	}
	token, sub, _ := strings.Cut(rest, "/")
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case sub == "" && get:
		s.servePage(w, r, token)
	case sub == "" && r.Method == http.MethodPost:
		if s.LimitSignature(w, r, token) { // before any verification work
			s.serveAccept(w, r, token)
		}
	case sub == "document" && get:
		s.serveDocument(w, r, token)
	case sub == "egov" || strings.HasPrefix(sub, "egov/"):
		s.serveEGov(w, r, token, sub)
	case sub == "status" && get && s.egov.Enabled:
		s.serveStatus(w, r, token)
	case sub == "qr.png" && get && s.egov.Enabled:
		s.serveQR(w, r, token)
	case sub == "":
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case sub == "document":
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		s.renderError(w, r, langFromAcceptLanguage(r.Header.Get("Accept-Language")), "link_forged", nil)
	}
}

// securityHeaders go on every response, errors included. connect-src names the configured
// NCALayer URL and nothing else outside our origin.
func (s *Service) securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self' "+s.ncalayer+"; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

func (s *Service) serveStatic(w http.ResponseWriter, r *http.Request, file string) {
	ct, ok := staticTypes[file]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	b, err := staticFS.ReadFile("static/" + file)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	http.ServeContent(w, r, file, time.Time{}, bytes.NewReader(b))
}

// link is a resolved link: the token's claims and the record they point at.
type link struct {
	c     claims
	nonce string
	rec   record
	blob  []byte
}

// resolve checks a token and loads its record. The reason is "" on success; lang is the
// best language known for the answer either way.
func (s *Service) resolve(ctx context.Context, r *http.Request, token string) (l link, lang flows.Lang, reason string) {
	lang = langFromAcceptLanguage(r.Header.Get("Accept-Language"))
	c, err := s.keys.parseToken(token)
	if err != nil {
		return l, lang, "link_forged"
	}
	lang = c.Lang
	if q := flows.Lang(r.URL.Query().Get("lang")); q == flows.Kazakh || q == flows.Russian {
		lang = q
	}
	l.c, l.nonce = c, c.nonceString()
	if !s.now().Before(c.Expires) {
		return l, lang, "link_expired"
	}
	blob, err := s.links.Link(ctx, l.nonce)
	if err != nil {
		if kezekbot.ErrorCode(err) == kezekbot.ENOTFOUND {
			return l, lang, "link_used"
		}
		s.log.ErrorContext(ctx, "load signing link", slog.String("link", nonceTag(l.nonce)), slog.Any("err", err))
		return l, lang, "internal"
	}
	if err := json.Unmarshal(blob, &l.rec); err != nil || !l.rec.matches(c) {
		// A valid MAC over a nonce whose record says something else: a bug or a tampered
		// store. Refuse, loudly.
		s.log.ErrorContext(ctx, "signing link record does not match its token", slog.String("link", nonceTag(l.nonce)))
		return l, lang, "link_forged"
	}
	l.blob = blob
	return l, lang, ""
}

func (s *Service) cookiePath(token string) string { return s.public.Path + "/s/" + token }

func (s *Service) secure(r *http.Request) bool { return s.public.Scheme == "https" || r.TLS != nil }

// csrfToken returns the page's CSRF value, reusing the cookie already set for this link so
// that a second tab or a reload does not break the first.
func (s *Service) csrfToken(w http.ResponseWriter, r *http.Request, token string) string {
	if c, err := r.Cookie(csrfCookie); err == nil && validCSRF(c.Value) {
		return c.Value
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookie,
		Value:    v,
		Path:     s.cookiePath(token),
		HttpOnly: true,
		Secure:   s.secure(r),
		SameSite: http.SameSiteStrictMode,
		MaxAge:   int(s.ttl / time.Second),
	})
	return v
}

func validCSRF(v string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(v)
	return err == nil && len(b) == 32
}

// checkCSRF is the double-submit check: the value the page got must come back both as the
// cookie (which only our origin can set) and in the request (which only our page can read).
func checkCSRF(r *http.Request, supplied string) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || !validCSRF(c.Value) || supplied == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(supplied)) == 1
}

// checkOrigin refuses requests a browser marks as coming from another site. Both headers are
// optional (old browsers, tools); when present they must say "us".
func (s *Service) checkOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	return origin == s.public.Scheme+"://"+s.public.Host || origin == "https://"+r.Host || origin == "http://"+r.Host
}

func wantsJSON(r *http.Request) bool {
	return r.Header.Get(csrfHeader) != "" || strings.Contains(r.Header.Get("Accept"), "application/json")
}

func (s *Service) servePage(w http.ResponseWriter, r *http.Request, token string) {
	l, lang, reason := s.resolve(r.Context(), r, token)
	if reason != "" {
		s.renderError(w, r, lang, reason, nil)
		return
	}
	csrf := s.csrfToken(w, r, token)
	data := s.basePage(lang, r)
	data.Sign = true
	data.Action = string(l.rec.Action)
	data.CSRF = csrf
	data.NCALayer = s.ncalayer
	data.TimeoutMS = s.signWait.Milliseconds()
	// The script's requests carry the page's language (the link's, or the one the parent
	// switched to with ?lang=), so that the result it shows speaks the page's language too.
	data.DocURL = s.cookiePath(token) + "/document?lang=" + string(lang)
	data.PostURL = s.cookiePath(token) + "?lang=" + string(lang)
	data.Lead = t(lang, "page.lead")
	data.Need = t(lang, "page.need")
	data.NoJS = t(lang, "page.nojs")
	data.SignLabel = t(lang, "page.sign")
	data.Expires = t(lang, "page.expires", "time", i18n.Clock(l.rec.Expires))
	switch l.rec.Action {
	case kezekbot.ActionBind:
		data.Heading = t(lang, "page.heading.bind")
		data.Summary = t(lang, "doc.text.bind")
		data.KeyHint = t(lang, "page.key.bind")
		// Which account is being bound, and not to sign someone else's link (bindguard.go).
		data.Fields = []field{{t(lang, "page.field.account"), accountLabel(lang, l.rec.TgName, l.rec.TgUser, l.rec.ChatID)}}
		data.Consequence = t(lang, "page.warn.bind")
	case kezekbot.ActionRevoke:
		data.Heading = t(lang, "page.heading.revoke")
		data.Fields = []field{
			{t(lang, "page.field.application"), l.rec.AppNumber},
			{t(lang, "page.field.kindergarten"), l.rec.Kindergarten},
			{t(lang, "page.field.reason"), l.rec.Reason},
		}
		data.Consequence = t(lang, "page.consequence.revoke")
		data.KeyHint = t(lang, "page.key.revoke")
	}
	data.Messages = map[string]string{}
	for _, k := range []string{"connecting", "choose", "sending", "not_running", "cancelled", "timeout", "ncalayer_error", "network"} {
		data.Messages[k] = t(lang, "js."+k)
	}
	if s.egov.Enabled {
		s.egovPage(&data, lang, token, l.rec.Action)
	} else {
		data.PhoneNote = t(lang, "page.phone_no_egov")
	}
	if r.Method == http.MethodHead {
		return
	}
	s.render(w, http.StatusOK, data)
}

func (s *Service) serveDocument(w http.ResponseWriter, r *http.Request, token string) {
	l, lang, reason := s.resolve(r.Context(), r, token)
	if reason == "" && (!s.checkOrigin(r) || !checkCSRF(r, r.Header.Get(csrfHeader))) {
		reason = "csrf"
	}
	if reason != "" {
		s.renderError(w, r, lang, reason, nil)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Disposition", "inline")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(l.rec.XML)
}

func (s *Service) serveAccept(w http.ResponseWriter, r *http.Request, token string) {
	ctx := r.Context()
	l, lang, reason := s.resolve(ctx, r, token)
	if reason != "" {
		s.renderError(w, r, lang, reason, nil)
		return
	}
	if !s.checkOrigin(r) {
		s.renderError(w, r, lang, "csrf", nil)
		return
	}
	body, supplied, reason := readSigned(w, r)
	if reason != "" {
		s.renderError(w, r, lang, reason, nil)
		return
	}
	if !checkCSRF(r, supplied) {
		s.renderError(w, r, lang, "csrf", nil)
		return
	}
	res := s.accept(ctx, l, body)
	s.logAccept(ctx, l, res)
	s.noteOutcome(ctx, l, "ncalayer", res) // for another tab's (or the phone route's) poll
	if res.pending {
		s.renderOutcome(w, r, lang, res.reason, nil, t(lang, "ok.revoke_sent"))
		return
	}
	s.renderError(w, r, lang, res.reason, res.refusal)
}

// readSigned reads the POSTed signature: a raw XML body (the page's script) or a form field
// (a plain HTML form, for tools). supplied is the CSRF value the request carries.
func readSigned(w http.ResponseWriter, r *http.Request) (body []byte, supplied, reason string) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodySize)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	switch ct {
	case "application/xml", "text/xml":
		body, err = io.ReadAll(r.Body)
		supplied = r.Header.Get(csrfHeader)
	case "application/x-www-form-urlencoded":
		err = r.ParseForm()
		body = []byte(r.PostForm.Get("xml"))
		supplied = r.PostForm.Get("csrf")
		if h := r.Header.Get(csrfHeader); h != "" {
			supplied = h
		}
	default:
		return nil, "", "content_type"
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, "", "too_large"
		}
		return nil, "", "malformed"
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, "", "malformed"
	}
	return body, supplied, ""
}

func (s *Service) logAccept(ctx context.Context, l link, res acceptResult) {
	level := slog.LevelInfo
	if res.reason == "internal" {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("link", nonceTag(l.nonce)),
		slog.Int64("chat_id", l.rec.ChatID),
		slog.String("action", string(l.rec.Action)),
		slog.String("outcome", res.reason),
	}
	if res.detail != "" {
		attrs = append(attrs, slog.String("detail", res.detail))
	}
	if res.err != nil {
		attrs = append(attrs, slog.Any("err", res.err))
	}
	s.log.LogAttrs(ctx, level, "signature handled", attrs...)
}

// field is one line of what will be signed.
type field struct{ Label, Value string }

type pageData struct {
	Lang, Title, Heading   string
	Static                 string
	OtherLang, OtherLabel  string
	OtherHref              string
	Sign                   bool // the signing page (else a result page)
	Action                 string
	CSRF, NCALayer         string
	TimeoutMS              int64
	DocURL, PostURL        string
	InstallURL             string
	Lead, Summary, KeyHint string
	Need, NoJS, SignLabel  string
	PhoneNote              string // shown on phones when there is no eGov mobile route
	Consequence            string
	Fields                 []field
	Expires                string
	Messages               map[string]string
	// The eGov mobile route (EGov nil when it is off).
	EGov *egovPage
	// Result pages.
	OK      bool
	Message string
	Back    string
}

func (s *Service) basePage(lang flows.Lang, r *http.Request) pageData {
	other := flows.Kazakh
	if lang == flows.Kazakh {
		other = flows.Russian
	}
	q := r.URL.Query()
	q.Set("lang", string(other))
	return pageData{
		Lang:       string(lang),
		Title:      t(lang, "page.title"),
		OtherLang:  string(other),
		OtherLabel: t(lang, "page.lang.other"),
		OtherHref:  "?" + q.Encode(),
		Static:     s.public.Path + "/s/static/",
		InstallURL: InstallURL,
	}
}

// message renders an outcome's text.
func (s *Service) message(lang flows.Lang, reason string, action kezekbot.Action, refusal *kezekbot.RevokeRefusal) string {
	o, ok := outcomes[reason]
	if !ok {
		o = outcomes["internal"]
	}
	switch {
	case reason == "ok":
		return t(lang, "ok."+string(action))
	case reason == "key_usage":
		if action == kezekbot.ActionBind {
			return t(lang, "err.key_usage.bind")
		}
		return t(lang, "err.key_usage.revoke")
	case reason == "window_closed":
		if refusal == nil || refusal.ClosedAt.IsZero() {
			return t(lang, "err.window_closed.notime")
		}
		return t(lang, o.Key, "date", i18n.Date(string(lang), refusal.ClosedAt), "time", i18n.Clock(refusal.ClosedAt))
	}
	return t(lang, o.Key)
}

// jsonResult is what the page's script gets back.
type jsonResult struct {
	OK      bool   `json:"ok"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Retry   bool   `json:"retry"`
	Back    string `json:"back,omitempty"`
}

// renderError answers with the outcome for reason ("ok" included) as JSON for the script or
// as a page for a browser.
func (s *Service) renderError(w http.ResponseWriter, r *http.Request, lang flows.Lang, reason string, refusal *kezekbot.RevokeRefusal) {
	s.renderOutcome(w, r, lang, reason, refusal, "")
}

// renderOutcome is renderError with the message given (msg "" means the outcome's own).
func (s *Service) renderOutcome(w http.ResponseWriter, r *http.Request, lang flows.Lang, reason string, refusal *kezekbot.RevokeRefusal, msg string) {
	o, ok := outcomes[reason]
	if !ok {
		reason, o = "internal", outcomes["internal"]
	}
	if msg == "" {
		msg = s.message(lang, reason, s.actionHint(r), refusal)
	}
	back := ""
	if o.Back != "" {
		back = t(lang, o.Back)
	}
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(o.Status)
		_ = json.NewEncoder(w).Encode(jsonResult{OK: reason == "ok", Reason: reason, Message: msg, Retry: o.Retry, Back: back})
		return
	}
	data := s.basePage(lang, r)
	data.OK = reason == "ok"
	data.Message = msg
	data.Back = back
	s.render(w, o.Status, data)
}

// actionHint is the action of the link in the request path, when its token is ours; it only
// picks the wording of a message.
func (s *Service) actionHint(r *http.Request) kezekbot.Action {
	rest, _ := strings.CutPrefix(r.URL.Path, "/s/")
	token, _, _ := strings.Cut(rest, "/")
	if c, err := s.keys.parseToken(token); err == nil {
		return c.Action
	}
	return ""
}

func (s *Service) render(w http.ResponseWriter, status int, data pageData) {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, data); err != nil {
		s.log.Error("render signing page", slog.Any("err", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
