package signerlink

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
)

// The eGov mobile route (QR / same-device signing with the eGov mobile app). The protocol, as
// the app speaks it (../shared/notes/ecp.md §5, gost-mobile.md §4):
//
//	QR code / deep link  mobileSign:<API №1 URL>, or the launcher URL with it as ?link=
//	API №1  GET          description, expiry, organisation, and the document's URI (API №2)
//	                     with an auth type and a one-time token
//	API №2  GET          {"signMethod":"XML","documentsToSign":[{… "documentXml":"<xml>"}]}
//	                     with Authorization: Bearer <token>
//	API №2  PUT          the same JSON with documentXml replaced by the signed XML; 200 when
//	                     the signature is accepted, 403 when it is not
//
// Here API №1 is /s/<token>/egov and API №2 /s/<token>/egov/document: the link's own token
// names the link, so nothing else needs to be looked up. The one-time bearer token is minted
// by each API №1 call (a new one replaces the last), kept hashed in the link's notes, and dies
// with the link: when the link is used, expires, or is replaced. The PUT runs accept, the same
// verification, evidence, audit and chat resumption as the NCALayer route.

// EGovAuthType defaults. The eGov spec copy says "Token"; a public PHP integration sends
// "Bearer"; which one the app expects is not confirmed (gost-mobile.md §4), hence a setting.
const (
	EGovAuthToken  = "Token"
	EGovAuthBearer = "Bearer"
)

// DefaultEGovLauncher is the same-device launcher: today's m.egov.kz form (the old
// mgovsign.page.link links died with Firebase Dynamic Links). {link} is replaced by the
// URL-escaped API №1 URL.
const DefaultEGovLauncher = "https://m.egov.kz/mobileSign/?link={link}"

// MaxEGovBody caps the PUT to API №2: the signed XML (at most MaxBodySize) inside JSON, whose
// escaping can grow it (\u003c for every <). The XML itself is still held to MaxBodySize.
const MaxEGovBody = 6*MaxBodySize + 4<<10

// noteGrace is how long a link's notes outlive the link, so that the page can still show the
// outcome after the link was used or expired.
const noteGrace = 15 * time.Minute

// NoteStore keeps a link's notes (store/redis implements it): small fields that live next to
// the link record, and a little longer.
type NoteStore interface {
	SetLinkNotes(ctx context.Context, nonce string, fields map[string]string, ttl time.Duration) error
	LinkNotes(ctx context.Context, nonce string) (map[string]string, error)
}

// EGov configures the eGov mobile route; the zero value is off.
type EGov struct {
	Enabled bool
	// Organisation names shown by the app (kk, ru, en) and the BIN.
	OrgKK, OrgRU, OrgEN string
	BIN                 string
	// AuthType is what API №1 says in document.auth_type: EGovAuthToken (default) or
	// EGovAuthBearer. The app sends "Authorization: Bearer <token>" either way; both schemes are
	// accepted.
	AuthType string
	// Launcher is the same-device link with {link} for the escaped API №1 URL;
	// DefaultEGovLauncher when empty.
	Launcher string
	// Notes is where the protocol's steps and outcomes are kept; required when Enabled.
	Notes NoteStore
	// SandboxURL, when set, adds a «sandbox eGov mobile» button to the page that POSTs
	// {"link": "mobileSign:…"} to this same-origin path, where the sandbox's fake eGov mobile
	// signs with the demo parent's TEST key. Never set outside the sandbox.
	SandboxURL string
}

var binRe = regexp.MustCompile(`^[0-9]{12}$`)

func (g *EGov) validate() error {
	if !g.Enabled {
		return nil
	}
	if g.Notes == nil {
		return errors.New("eGov mobile: a note store is required")
	}
	if !binRe.MatchString(g.BIN) {
		return errors.New("eGov mobile: BIN must be 12 digits")
	}
	for _, n := range []string{g.OrgKK, g.OrgRU, g.OrgEN} {
		if strings.TrimSpace(n) == "" || len(n) > 300 {
			return errors.New("eGov mobile: organisation names (kk, ru, en) must be 1-300 characters")
		}
	}
	switch g.AuthType {
	case "":
		g.AuthType = EGovAuthToken
	case EGovAuthToken, EGovAuthBearer:
	default:
		return fmt.Errorf("eGov mobile: auth type must be %s or %s", EGovAuthToken, EGovAuthBearer)
	}
	if g.Launcher == "" {
		g.Launcher = DefaultEGovLauncher
	}
	if err := ValidateLauncher(g.Launcher); err != nil {
		return err
	}
	if g.SandboxURL != "" && !strings.HasPrefix(g.SandboxURL, "/") {
		return errors.New("eGov mobile: the sandbox URL must be a path on this origin")
	}
	return nil
}

// ValidateLauncher checks a launcher URL form: an absolute https (or http) URL, with {link}
// at most once (without it the link is appended).
func ValidateLauncher(l string) error {
	u, err := url.Parse(strings.Replace(l, "{link}", "x", 1))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Count(l, "{link}") > 1 {
		return errors.New("eGov mobile: the launcher must be an http(s) URL with {link} at most once")
	}
	return nil
}

// EGovLinks are the three forms of one link's eGov mobile entry.
type EGovLinks struct {
	API1     string // API №1 URL
	Raw      string // mobileSign:<API №1>, the QR code's content
	Launcher string // the same-device launcher URL
}

func (s *Service) egovLinks(token string) EGovLinks {
	api1 := s.public.String() + "/s/" + token + "/egov"
	launch := s.egov.Launcher
	esc := url.QueryEscape(api1)
	if strings.Contains(launch, "{link}") {
		launch = strings.Replace(launch, "{link}", esc, 1)
	} else {
		launch += esc
	}
	return EGovLinks{API1: api1, Raw: "mobileSign:" + api1, Launcher: launch}
}

// Note fields.
const (
	noteToken   = "tok" // hex SHA-256 of the bearer token minted by the last API №1 call
	noteStep    = "st"  // opened (API №1 served) | fetched (API №2 GET served)
	noteOutcome = "out" // JSON outcomeNote of the last signature, either route
	noteTold    = "told"
)

type outcomeNote struct {
	Reason   string `json:"r"`
	ClosedAt int64  `json:"c,omitempty"` // window_closed: when the 24 hours ran out
	At       int64  `json:"t"`
	Route    string `json:"w"` // ncalayer | egov
}

func (s *Service) noteTTL(expires time.Time) time.Duration {
	return max(expires.Sub(s.now()), 0) + noteGrace
}

func (s *Service) setNotes(ctx context.Context, l link, fields map[string]string) {
	if s.egov.Notes == nil {
		return
	}
	if err := s.egov.Notes.SetLinkNotes(ctx, l.nonce, fields, s.noteTTL(l.c.Expires)); err != nil {
		// The page then waits longer or shows less; the signature's fate does not depend on it.
		s.log.WarnContext(ctx, "note signing link step", slog.String("link", nonceTag(l.nonce)), slog.Any("err", err))
	}
}

// noteOutcome records what became of a signature, for the page's status poll.
func (s *Service) noteOutcome(ctx context.Context, l link, route string, res acceptResult) {
	if res.reason == "link_used" || res.reason == "link_forged" {
		// Another request used the link (a concurrent or replayed one): its outcome is the
		// one the page must show, not this one's.
		return
	}
	n := outcomeNote{Reason: res.reason, At: s.now().Unix(), Route: route}
	if res.refusal != nil && !res.refusal.ClosedAt.IsZero() {
		n.ClosedAt = res.refusal.ClosedAt.Unix()
	}
	b, _ := json.Marshal(n)
	f := map[string]string{noteOutcome: string(b)}
	if res.reason == "ok" || !outcomes[res.reason].Retry {
		f[noteToken] = "" // the token dies with the link
	}
	s.setNotes(ctx, l, f)
}

// rejectedOf maps a refusal that leaves the link alive to what the chat is told.
func rejectedOf(reason string) string {
	switch reason {
	case "key_usage":
		return flows.RejectedWrongKey
	case "iin_mismatch":
		return flows.RejectedOtherPerson
	case "document_mismatch", "signature_invalid":
		return flows.RejectedAltered
	case "chain", "cert_expired", "cert_not_yet_valid", "not_individual", "revoked", "gost":
		return flows.RejectedCertificate
	case "link_expired":
		return flows.RejectedExpired
	}
	return flows.RejectedOther
}

// tellRejected tells the chat once per link and kind of refusal: the parent is looking at the
// app, not at the page, and comes back to Telegram. Once, so that a client retrying in a loop
// cannot flood the chat.
func (s *Service) tellRejected(ctx context.Context, l link, notes map[string]string, reason string) {
	rej := rejectedOf(reason)
	told := notes[noteTold]
	if strings.Contains(","+told+",", ","+rej+",") {
		return
	}
	s.setNotes(ctx, l, map[string]string{noteTold: strings.TrimPrefix(told+","+rej, ",")})
	ev := flows.Signed{Action: l.c.Action, Nonce: l.nonce, Rejected: rej}
	if err := s.resumer.Inject(ctx, l.c.ChatID, ev); err != nil {
		s.log.ErrorContext(ctx, "tell the chat about a refused eGov mobile signature", slog.String("link", nonceTag(l.nonce)), slog.Any("err", err))
	}
}

// egovStatus is the HTTP status of an outcome on the eGov mobile API: per the protocol, a
// signature that is not accepted is 403; the link's and the request's own problems keep
// their usual statuses.
func egovStatus(reason string) int {
	switch reason {
	case "ok":
		return http.StatusOK
	case "link_forged":
		return http.StatusNotFound
	case "link_expired":
		return http.StatusGone
	case "link_used", "egov_order":
		return http.StatusConflict
	case "egov_token":
		return http.StatusUnauthorized
	case "rate_limited":
		return http.StatusTooManyRequests
	case "too_large":
		return http.StatusRequestEntityTooLarge
	case "content_type":
		return http.StatusUnsupportedMediaType
	case "egov_body":
		return http.StatusBadRequest
	case "revocation_unknown":
		return http.StatusServiceUnavailable
	case "window_closed", "not_active", "conflict":
		return http.StatusConflict
	case "not_found":
		return http.StatusNotFound
	case "internal":
		return http.StatusInternalServerError
	}
	return http.StatusForbidden
}

// egovError is the protocol-shaped answer of every eGov mobile API call that fails.
type egovError struct {
	Status  string `json:"status"` // "error"
	Code    string `json:"code"`   // an outcomes key
	Message string `json:"message"`
}

func (s *Service) egovFail(w http.ResponseWriter, lang flows.Lang, action kezekbot.Action, reason string) {
	if reason == "egov_token" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kezekbot"`)
	}
	writeEGovJSON(w, egovStatus(reason), egovError{Status: "error", Code: reason, Message: s.message(lang, reason, action, nil)})
}

func writeEGovJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveEGov answers API №1 and API №2 (sub is "egov" or "egov/document").
func (s *Service) serveEGov(w http.ResponseWriter, r *http.Request, token, sub string) {
	if !s.egov.Enabled {
		http.NotFound(w, r)
		return
	}
	switch {
	case sub == "egov" && r.Method == http.MethodGet:
		s.serveAPI1(w, r, token)
	case sub == "egov/document" && r.Method == http.MethodGet:
		s.serveAPI2Get(w, r, token)
	case sub == "egov/document" && r.Method == http.MethodPut:
		// The signature limits (ratelimit.go), before any verification work.
		if ok, lang := s.SignatureAllowed(w, r, token); !ok {
			s.egovFail(w, lang, "", "rate_limited")
			return
		}
		s.serveAPI2Put(w, r, token)
	case sub == "egov":
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case sub == "egov/document":
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

// API №1 types, as the app reads them.
type egovOrganisation struct {
	NameRu string `json:"nameRu"`
	NameKz string `json:"nameKz"`
	NameEn string `json:"nameEn"`
	BIN    string `json:"bin"`
}

type egovDocumentRef struct {
	URI       string `json:"uri"`
	AuthType  string `json:"auth_type"`
	AuthToken string `json:"auth_token"`
}

type egovAPI1 struct {
	Description  string           `json:"description"`
	ExpiryDate   string           `json:"expiry_date"`
	Organisation egovOrganisation `json:"organisation"`
	Document     egovDocumentRef  `json:"document"`
}

// egovTime is the protocol's time format, in Astana time: 2022-09-29T16:21:37.060+0500.
func egovTime(t time.Time) string { return t.In(i18n.Astana).Format("2006-01-02T15:04:05.000-0700") }

func (s *Service) serveAPI1(w http.ResponseWriter, r *http.Request, token string) {
	ctx := r.Context()
	l, lang, reason := s.resolve(ctx, r, token)
	if reason != "" {
		s.egovFail(w, lang, l.c.Action, reason)
		return
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	bearer := base64.RawURLEncoding.EncodeToString(raw[:])
	// A new token replaces the last (a second scan): only the newest works. The outcome of an
	// earlier attempt is cleared, so the page shows this one's.
	if err := s.egov.Notes.SetLinkNotes(ctx, l.nonce, map[string]string{
		noteToken: tokenHash(bearer), noteStep: "opened", noteOutcome: "",
	}, s.noteTTL(l.c.Expires)); err != nil {
		s.log.ErrorContext(ctx, "start eGov mobile signing", slog.String("link", nonceTag(l.nonce)), slog.Any("err", err))
		s.egovFail(w, lang, l.c.Action, "internal")
		return
	}
	s.log.InfoContext(ctx, "eGov mobile opened a signing link", slog.String("link", nonceTag(l.nonce)), slog.Int64("chat_id", l.c.ChatID))
	writeEGovJSON(w, http.StatusOK, egovAPI1{
		Description: t(lang, "egov.description."+string(l.rec.Action)),
		ExpiryDate:  egovTime(l.rec.Expires),
		Organisation: egovOrganisation{
			NameRu: s.egov.OrgRU, NameKz: s.egov.OrgKK, NameEn: s.egov.OrgEN, BIN: s.egov.BIN,
		},
		Document: egovDocumentRef{
			URI:       s.public.String() + "/s/" + token + "/egov/document",
			AuthType:  s.egov.AuthType,
			AuthToken: bearer,
		},
	})
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// bearerOf reads "Authorization: Bearer <t>" (or "Token <t>": the scheme follows the auth type
// in some clients).
func bearerOf(r *http.Request) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || (!strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "Token")) {
		return ""
	}
	return strings.TrimSpace(tok)
}

// egovAuth resolves the link of an API №2 call and checks its bearer token. reason is ""
// when the call may proceed.
func (s *Service) egovAuth(r *http.Request, token string) (l link, lang flows.Lang, notes map[string]string, reason string) {
	ctx := r.Context()
	l, lang, reason = s.resolve(ctx, r, token)
	if reason != "" {
		return l, lang, nil, reason
	}
	notes, err := s.egov.Notes.LinkNotes(ctx, l.nonce)
	if err != nil {
		s.log.ErrorContext(ctx, "read signing link notes", slog.String("link", nonceTag(l.nonce)), slog.Any("err", err))
		return l, lang, nil, "internal"
	}
	if notes[noteToken] == "" {
		// No API №1 call yet (or its token died): the client skipped a step.
		return l, lang, notes, "egov_order"
	}
	got := bearerOf(r)
	if got == "" || subtle.ConstantTimeCompare([]byte(tokenHash(got)), []byte(notes[noteToken])) != 1 {
		return l, lang, notes, "egov_token"
	}
	return l, lang, notes, ""
}

// API №2 types.
type egovMeta struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type egovDocument struct {
	ID          int        `json:"id"`
	NameRu      string     `json:"nameRu"`
	NameKz      string     `json:"nameKz"`
	NameEn      string     `json:"nameEn"`
	Meta        []egovMeta `json:"meta"`
	DocumentXML string     `json:"documentXml"`
}

type egovAPI2 struct {
	SignMethod      string         `json:"signMethod"`
	DocumentsToSign []egovDocument `json:"documentsToSign"`
}

// egovDocNames are the document's names in the app, per action; English is the protocol's
// third language and shown to nobody we serve, so it lives here rather than in texts.
var egovDocNamesEN = map[kezekbot.Action]string{
	kezekbot.ActionBind:   "Sign-in to the kezekbot chat bot",
	kezekbot.ActionRevoke: "Revocation of a kindergarten referral",
}

func (s *Service) api2Document(l link, lang flows.Lang) egovAPI2 {
	rec := &l.rec
	meta := []egovMeta{{Name: t(lang, "egov.meta.expires"), Value: i18n.DateTime(string(lang), rec.Expires)}}
	if rec.Action == kezekbot.ActionRevoke {
		meta = append([]egovMeta{
			{Name: t(lang, "page.field.application"), Value: rec.AppNumber},
			{Name: t(lang, "page.field.kindergarten"), Value: rec.Kindergarten},
			{Name: t(lang, "page.field.reason"), Value: rec.Reason},
		}, meta...)
	}
	return egovAPI2{
		SignMethod: "XML",
		DocumentsToSign: []egovDocument{{
			ID:          1,
			NameRu:      t(flows.Russian, "egov.description."+string(rec.Action)),
			NameKz:      t(flows.Kazakh, "egov.description."+string(rec.Action)),
			NameEn:      egovDocNamesEN[rec.Action],
			Meta:        meta,
			DocumentXML: string(rec.XML),
		}},
	}
}

func (s *Service) serveAPI2Get(w http.ResponseWriter, r *http.Request, token string) {
	l, lang, notes, reason := s.egovAuth(r, token)
	if reason != "" {
		s.refused(r.Context(), l, notes, reason)
		s.egovFail(w, lang, l.c.Action, reason)
		return
	}
	s.setNotes(r.Context(), l, map[string]string{noteStep: "fetched"})
	writeEGovJSON(w, http.StatusOK, s.api2Document(l, lang))
}

func (s *Service) serveAPI2Put(w http.ResponseWriter, r *http.Request, token string) {
	ctx := r.Context()
	l, lang, notes, reason := s.egovAuth(r, token)
	if reason == "" {
		var signed []byte
		signed, reason = readEGovPut(w, r)
		if reason == "" {
			res := s.accept(ctx, l, signed)
			s.logAccept(ctx, l, res)
			s.noteOutcome(ctx, l, "egov", res)
			reason = res.reason
			if reason == "ok" {
				msg := s.message(lang, "ok", l.rec.Action, nil)
				if res.pending {
					msg = t(lang, "ok.revoke_sent")
				}
				writeEGovJSON(w, http.StatusOK, map[string]string{"status": "success", "message": msg})
				return
			}
			if o := outcomes[reason]; o.Retry {
				s.tellRejected(ctx, l, notes, reason)
			}
			s.egovFail(w, lang, l.rec.Action, reason)
			return
		}
	}
	s.refused(ctx, l, notes, reason)
	s.egovFail(w, lang, l.c.Action, reason)
}

// refused notes and tells a call refused before verification. When the link still stands (or
// just expired), the page and the chat hear why; a forged or used link has nobody to tell.
func (s *Service) refused(ctx context.Context, l link, notes map[string]string, reason string) {
	switch reason {
	case "link_forged", "link_used", "internal":
		return
	}
	s.log.InfoContext(ctx, "eGov mobile call refused", slog.String("link", nonceTag(l.nonce)),
		slog.Int64("chat_id", l.c.ChatID), slog.String("outcome", reason))
	s.noteOutcome(ctx, l, "egov", acceptResult{reason: reason})
	if notes == nil {
		var err error
		if notes, err = s.egov.Notes.LinkNotes(ctx, l.nonce); err != nil {
			notes = map[string]string{}
		}
	}
	s.tellRejected(ctx, l, notes, reason)
}

// readEGovPut reads the PUT to API №2: JSON of at most MaxEGovBody bytes, in the shape of the
// GET's answer, with the signed XML in documentsToSign[0].documentXml.
func readEGovPut(w http.ResponseWriter, r *http.Request) (signed []byte, reason string) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		return nil, "content_type"
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxEGovBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, "too_large"
		}
		return nil, "egov_body"
	}
	return ParseEGovPut(body)
}

// ParseEGovPut extracts the signed XML from the body of a PUT to API №2. It accepts exactly
// one document, with id 1 and signMethod XML (or none: the app echoes what it got, and not
// every build may echo it), and a documentXml of 1..MaxBodySize bytes; reason is "egov_body"
// or "too_large" otherwise. Unknown fields are ignored (app versions add some).
func ParseEGovPut(body []byte) (signed []byte, reason string) {
	var in struct {
		SignMethod      *string `json:"signMethod"`
		DocumentsToSign []struct {
			ID          json.Number `json:"id"`
			DocumentXML *string     `json:"documentXml"`
		} `json:"documentsToSign"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return nil, "egov_body"
	}
	if dec.More() {
		return nil, "egov_body" // trailing data
	}
	if in.SignMethod != nil && *in.SignMethod != "XML" {
		return nil, "egov_body"
	}
	if len(in.DocumentsToSign) != 1 {
		return nil, "egov_body"
	}
	d := in.DocumentsToSign[0]
	if id, err := strconv.Atoi(d.ID.String()); err != nil || id != 1 {
		return nil, "egov_body"
	}
	if d.DocumentXML == nil || strings.TrimSpace(*d.DocumentXML) == "" {
		return nil, "egov_body"
	}
	if len(*d.DocumentXML) > MaxBodySize {
		return nil, "too_large"
	}
	return []byte(*d.DocumentXML), ""
}

// statusAnswer is what the page's poll gets: where the eGov mobile route stands, and the last
// outcome of either route.
type statusAnswer struct {
	Step    string `json:"step"` // waiting | opened | fetched
	Done    bool   `json:"done"` // the link is over: stop polling
	Reason  string `json:"reason,omitempty"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
	Retry   bool   `json:"retry"`
	Back    string `json:"back,omitempty"`
	Route   string `json:"route,omitempty"` // ncalayer | egov: where the outcome came from
}

// serveStatus answers the page's poll: GET /s/{token}/status with the page's CSRF header. It
// works after the link was used or expired (the notes outlive it), so the page can show how it
// ended.
func (s *Service) serveStatus(w http.ResponseWriter, r *http.Request, token string) {
	ctx := r.Context()
	lang := langFromAcceptLanguage(r.Header.Get("Accept-Language"))
	c, err := s.keys.parseToken(token)
	if err != nil {
		s.renderError(w, r, lang, "link_forged", nil)
		return
	}
	lang = c.Lang
	if q := flows.Lang(r.URL.Query().Get("lang")); q == flows.Kazakh || q == flows.Russian {
		lang = q
	}
	if !s.checkOrigin(r) || !checkCSRF(r, r.Header.Get(csrfHeader)) {
		s.renderError(w, r, lang, "csrf", nil)
		return
	}
	nonce := c.nonceString()
	var notes map[string]string
	if s.egov.Notes != nil {
		if notes, err = s.egov.Notes.LinkNotes(ctx, nonce); err != nil {
			s.log.ErrorContext(ctx, "read signing link notes", slog.String("link", nonceTag(nonce)), slog.Any("err", err))
			s.renderError(w, r, lang, "internal", nil)
			return
		}
	}
	ans := statusAnswer{Step: "waiting"}
	if st := notes[noteStep]; st != "" {
		ans.Step = st
	}
	var on outcomeNote
	if raw := notes[noteOutcome]; raw != "" && json.Unmarshal([]byte(raw), &on) == nil && on.Reason != "" {
		s.fillOutcome(&ans, lang, c.Action, on)
	}
	if !ans.Done && !ans.OK {
		// No final outcome noted: the link may still have ended (expired, replaced by a newer
		// one, cancelled in the chat).
		if !s.now().Before(c.Expires) {
			s.fillOutcome(&ans, lang, c.Action, outcomeNote{Reason: "link_expired"})
		} else if _, err := s.links.Link(ctx, nonce); kezekbot.ErrorCode(err) == kezekbot.ENOTFOUND {
			s.fillOutcome(&ans, lang, c.Action, outcomeNote{Reason: "link_used"})
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(ans)
}

func (s *Service) fillOutcome(ans *statusAnswer, lang flows.Lang, action kezekbot.Action, on outcomeNote) {
	o, ok := outcomes[on.Reason]
	if !ok {
		on.Reason, o = "internal", outcomes["internal"]
	}
	var refusal *kezekbot.RevokeRefusal
	if on.ClosedAt != 0 {
		refusal = &kezekbot.RevokeRefusal{Reason: kezekbot.RefusalWindowClosed, ClosedAt: time.Unix(on.ClosedAt, 0)}
	}
	ans.Reason = on.Reason
	ans.Route = on.Route
	ans.OK = on.Reason == "ok"
	ans.Message = s.message(lang, on.Reason, action, refusal)
	ans.Retry = o.Retry
	ans.Done = ans.OK || !o.Retry
	if o.Back != "" {
		ans.Back = t(lang, o.Back)
	}
}
