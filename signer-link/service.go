package signerlink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

// DefaultTTL is how long a link lives: long enough to find the key file and NCALayer, short
// enough that a forwarded or leaked link soon dies.
const DefaultTTL = 15 * time.Minute

// DefaultNCALayerURL is where NCALayer listens on the parent's computer.
const DefaultNCALayerURL = "wss://127.0.0.1:13579"

// DefaultSignTimeout is how long the page waits for NCALayer's answer.
const DefaultSignTimeout = 120 * time.Second

// LinkStore keeps the link records (store/redis implements it). A nonce that is missing,
// expired, replaced or consumed is an error whose kezekbot code is ENOTFOUND.
type LinkStore interface {
	// ReplaceLink stores blob under nonce for ttl and kills the previous link of scope.
	ReplaceLink(ctx context.Context, scope, nonce string, blob []byte, ttl time.Duration) error
	Link(ctx context.Context, nonce string) ([]byte, error)
	// ConsumeLink returns the blob and deletes it, atomically: of two callers one gets it.
	ConsumeLink(ctx context.Context, nonce string) ([]byte, error)
}

// Store is the database side (store/postgres implements it).
type Store interface {
	// Application returns an application of the applicant iin (ENOTFOUND for anyone else's).
	Application(ctx context.Context, iin kezekbot.IIN, id int64) (kezekbot.ApplicationDetail, error)
	// Bind binds the chat to ev.IIN and keeps ev with the audit row; a nonce used before is
	// ECONFLICT.
	Bind(ctx context.Context, chatID int64, lang string, ev kezekbot.Evidence) error
	// RevokeReferral re-checks kezekbot.CheckRevoke inside its transaction and returns a
	// *kezekbot.RevokeRefusal when the referral can no longer be revoked.
	RevokeReferral(ctx context.Context, req kezekbot.RevokeRequest) (kezekbot.RevokeResult, error)
}

// Verifier checks an XML signature (xmlsig.Verifier implements it, for RSA and GOST-2015-512).
type Verifier interface {
	Verify(ctx context.Context, doc []byte, p xmlsig.Policy) (*xmlsig.Result, error)
}

// Resumer hands an event to a chat's dialog (the bot's intake implements it).
type Resumer interface {
	Inject(ctx context.Context, chatID int64, ev flows.Event) error
}

// ResumerFunc adapts a func to Resumer. The bot's intake needs the Service (as flows.Links)
// and the Service needs the intake, so the binary can break the cycle with a func that calls
// an intake assigned after New.
type ResumerFunc func(ctx context.Context, chatID int64, ev flows.Event) error

// Inject calls f.
func (f ResumerFunc) Inject(ctx context.Context, chatID int64, ev flows.Event) error {
	return f(ctx, chatID, ev)
}

// Config is what the binary passes to New. PublicURL, Keys and the four dependencies are
// required.
type Config struct {
	// PublicURL is KEZEKBOT_PUBLIC_URL, e.g. https://kezekbot.kz; links are PublicURL/s/<token>.
	PublicURL string
	Keys      Keys
	// TTL of a link; DefaultTTL when zero.
	TTL time.Duration
	// NCALayerURL is the WebSocket the page's script talks to; DefaultNCALayerURL when empty.
	// Tests and the sandbox point it at fakencalayer (ws://127.0.0.1:<port>).
	NCALayerURL string
	// SignTimeout is how long the page waits for NCALayer (the parent finds the key file and
	// types the password meanwhile); DefaultSignTimeout when zero.
	SignTimeout time.Duration
	// EGov turns on the eGov mobile route (API №1 and №2, the QR code, the status poll).
	EGov     EGov
	Links    LinkStore
	Store    Store
	Verifier Verifier
	Resumer  Resumer
	// RateLimiter holds the signature limits' buckets (store/redis in production, shared by
	// replicas); a MemoryLimiter when nil. SignLimits are DefaultSignLimits when nil.
	// OnRateLimited is called with the scope of every refusal (metrics).
	// Accounts names the Telegram account on bind pages and documents; BindAlerts tells the
	// chats bound to an IIN when another chat tried to bind it (bindguard.go). Both optional.
	Accounts      AccountLookup
	BindAlerts    BindAlerter
	RateLimiter   RateLimiter
	SignLimits    *SignLimits
	OnRateLimited func(scope string)
	// Attempt limits (attempts.go): MaxFailedAttempts failed signatures kill a link
	// (DefaultMaxFailedAttempts when 0 and Links implements AttemptStore, as store/redis
	// does; none when negative); LinkIssueRate bounds the new links one chat gets (DefaultLinkIssueRate
	// when nil, none when off).
	MaxFailedAttempts int
	LinkIssueRate     *Rate

	Logger *slog.Logger
	// Now is the clock; time.Now when nil. Tests pin it.
	Now func() time.Time
}

// Service issues signing links (flows.Links) and serves the pages that accept the signatures
// (Handler). It is safe for concurrent use.
type Service struct {
	public   *url.URL
	keys     Keys
	ttl      time.Duration
	ncalayer string
	signWait time.Duration
	links    LinkStore
	store    Store
	verifier Verifier
	resumer  Resumer
	limiter  *SignLimiter
	accounts AccountLookup
	alerts   BindAlerter
	egov     EGov
	log      *slog.Logger
	now      func() time.Time
	attempts attemptLimits // attempts.go
}

var _ flows.Links = (*Service)(nil)

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	pu, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
		return nil, fmt.Errorf("signer-link: public URL must be an absolute http(s) URL")
	}
	if err := cfg.Keys.validate(); err != nil {
		return nil, fmt.Errorf("signer-link: keys: %w", err)
	}
	if cfg.Links == nil || cfg.Store == nil || cfg.Verifier == nil || cfg.Resumer == nil {
		return nil, errors.New("signer-link: Links, Store, Verifier and Resumer are required")
	}
	s := &Service{
		public:   pu,
		keys:     cfg.Keys,
		ttl:      cfg.TTL,
		ncalayer: cfg.NCALayerURL,
		signWait: cfg.SignTimeout,
		links:    cfg.Links,
		store:    cfg.Store,
		verifier: cfg.Verifier,
		resumer:  cfg.Resumer,
		accounts: cfg.Accounts,
		alerts:   cfg.BindAlerts,
		egov:     cfg.EGov,
		log:      cfg.Logger,
		now:      cfg.Now,
	}
	if s.ttl <= 0 {
		s.ttl = DefaultTTL
	}
	if s.signWait <= 0 {
		s.signWait = DefaultSignTimeout
	}
	if s.ncalayer == "" {
		s.ncalayer = DefaultNCALayerURL
	}
	nu, err := url.Parse(s.ncalayer)
	if err != nil || (nu.Scheme != "ws" && nu.Scheme != "wss") || nu.Host == "" ||
		strings.ContainsAny(s.ncalayer, " ;,'\"") {
		// The URL goes into the CSP header verbatim; anything that could end a directive is out.
		return nil, fmt.Errorf("signer-link: NCALayer URL must be a ws:// or wss:// URL")
	}
	if err := s.egov.validate(); err != nil {
		return nil, fmt.Errorf("signer-link: %w", err)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	limits := DefaultSignLimits()
	if cfg.SignLimits != nil {
		limits = *cfg.SignLimits
	}
	s.limiter = NewSignLimiter(cfg.RateLimiter, limits, cfg.OnRateLimited, s.log)
	if err := s.attempts.init(cfg); err != nil {
		return nil, fmt.Errorf("signer-link: %w", err)
	}
	return s, nil
}

// record is what Redis keeps under a link's nonce: the request in full and the exact document
// issued. The token only points here; the record is the authority.
type record struct {
	V            int             `json:"v"`
	ChatID       int64           `json:"c"`
	Action       kezekbot.Action `json:"a"`
	Lang         flows.Lang      `json:"l"`
	IIN          kezekbot.IIN    `json:"i,omitzero"`
	AppID        int64           `json:"ap,omitempty"`
	AppNumber    string          `json:"an,omitempty"`
	RefID        int64           `json:"r,omitempty"`
	Kindergarten string          `json:"k,omitempty"`
	Reason       string          `json:"rs,omitempty"`
	TgName       string          `json:"tn,omitempty"` // bind: the account being bound, as
	TgUser       string          `json:"tu,omitempty"` // Telegram named it at issue time
	IssuedAt     time.Time       `json:"t"`
	Expires      time.Time       `json:"e"`
	XML          []byte          `json:"x"`
}

// matches reports whether the record is the one the token was minted for. With an honest
// Redis it always is; it makes a mix-up (or a tampered store) fail closed.
func (r *record) matches(c claims) bool {
	return r.V == 1 && r.ChatID == c.ChatID && r.Action == c.Action && r.AppID == c.AppID &&
		r.RefID == c.RefID && r.Expires.Unix() == c.Expires.Unix()
}

func scope(chatID int64, a kezekbot.Action) string {
	return "chat:" + strconv.FormatInt(chatID, 10) + ":" + string(a)
}

// nonceTag is what logs carry instead of a nonce: enough to follow one link through the logs,
// useless for rebuilding it.
func nonceTag(nonce string) string {
	h := sha256.Sum256([]byte(nonce))
	return hex.EncodeToString(h[:4])
}

// Issue implements flows.Links. For a revocation it reads the application so the document
// names it in human terms, and refuses early (ENOTFOUND, EINVALID, or *kezekbot.RevokeRefusal)
// when the referral is not the applicant's or cannot be revoked now. Issuing a link kills the
// chat's previous link for the same action.
func (s *Service) Issue(ctx context.Context, req flows.SignRequest) (flows.Link, error) {
	if req.ChatID == 0 {
		return flows.Link{}, kezekbot.Errorf(kezekbot.EINVALID, "issue link: chat id is required")
	}
	if err := s.allowIssue(ctx, req.ChatID); err != nil {
		return flows.Link{}, err
	}
	now := s.now()
	lang := normLang(req.Lang)
	rec := record{
		V:        1,
		ChatID:   req.ChatID,
		Action:   req.Action,
		Lang:     lang,
		IssuedAt: now.UTC().Truncate(time.Second),
	}
	rec.Expires = rec.IssuedAt.Add(s.ttl)

	var text string
	switch req.Action {
	case kezekbot.ActionBind:
		// The document says which account is being bound, so the evidence shows what she
		// agreed to (bindguard.go).
		acct := s.account(ctx, req.ChatID)
		rec.TgName, rec.TgUser = acct.name(), acct.Username
		text = t(lang, "doc.text.bind") + " " + t(lang, "doc.text.bind.account", "account", accountLabel(lang, rec.TgName, rec.TgUser, rec.ChatID))
	case kezekbot.ActionRevoke:
		if req.IIN.IsZero() {
			return flows.Link{}, kezekbot.Errorf(kezekbot.EINVALID, "issue revoke link: the chat is not bound to an IIN")
		}
		reason, err := kezekbot.NormalizeReason(req.Reason)
		if err != nil {
			return flows.Link{}, fmt.Errorf("issue revoke link: %w", err)
		}
		app, err := s.store.Application(ctx, req.IIN, req.ApplicationID)
		if err != nil {
			return flows.Link{}, fmt.Errorf("issue revoke link: application %d: %w", req.ApplicationID, err)
		}
		if !app.VisibleTo(req.IIN) {
			return flows.Link{}, kezekbot.Errorf(kezekbot.ENOTFOUND, "issue revoke link: application %d not found", req.ApplicationID)
		}
		var ref *kezekbot.Referral
		for i := range app.Referrals {
			if app.Referrals[i].ID == req.ReferralID {
				ref = &app.Referrals[i]
			}
		}
		if ref == nil {
			return flows.Link{}, kezekbot.Errorf(kezekbot.ENOTFOUND, "issue revoke link: referral %d not found in application %d", req.ReferralID, req.ApplicationID)
		}
		if err := kezekbot.CheckRevoke(*ref, now); err != nil {
			return flows.Link{}, fmt.Errorf("issue revoke link: referral %d: %w", req.ReferralID, err)
		}
		rec.IIN = req.IIN
		rec.AppID = app.ID
		rec.AppNumber = app.Number
		rec.RefID = ref.ID
		rec.Kindergarten = ref.Kindergarten.Name
		rec.Reason = reason
		text = t(lang, "doc.text.revoke", "kindergarten", rec.Kindergarten, "number", rec.AppNumber, "reason", reason)
	default:
		return flows.Link{}, kezekbot.Errorf(kezekbot.EINVALID, "issue link: unknown action %q", req.Action)
	}

	c := claims{
		ChatID:  rec.ChatID,
		Action:  rec.Action,
		Lang:    lang,
		AppID:   rec.AppID,
		RefID:   rec.RefID,
		Nonce:   newNonce(),
		Expires: rec.Expires,
	}
	nonce := c.nonceString()
	doc, err := buildDocument(docInput{
		Action: rec.Action, ChatID: rec.ChatID, Lang: lang, IIN: rec.IIN,
		AppID: rec.AppID, AppNumber: rec.AppNumber, RefID: rec.RefID,
		Kindergarten: rec.Kindergarten, Reason: rec.Reason, TgName: rec.TgName, TgUser: rec.TgUser,
		Nonce: nonce, IssuedAt: rec.IssuedAt, Expires: rec.Expires, Text: text,
	})
	if err != nil {
		return flows.Link{}, fmt.Errorf("issue link: %w", err)
	}
	rec.XML = doc.XML
	token, err := s.keys.encodeToken(c)
	if err != nil {
		return flows.Link{}, fmt.Errorf("issue link: %w", err)
	}
	blob, err := json.Marshal(rec)
	if err != nil {
		return flows.Link{}, fmt.Errorf("issue link: encode record: %w", err)
	}
	if err := s.links.ReplaceLink(ctx, scope(rec.ChatID, rec.Action), nonce, blob, s.ttl); err != nil {
		return flows.Link{}, fmt.Errorf("issue link: store: %w", err)
	}
	s.log.InfoContext(ctx, "signing link issued",
		slog.Int64("chat_id", rec.ChatID), slog.String("action", string(rec.Action)),
		slog.String("link", nonceTag(nonce)), slog.Time("expires", rec.Expires))
	return flows.Link{
		URL:     s.public.String() + "/s/" + token,
		Expires: rec.Expires,
		Nonce:   nonce,
	}, nil
}

// Cancel kills the chat's link with this nonce (flows.LinkCanceler): after «Отмена» on the
// signing screen, the link in the chat must not work any more. A link already used, expired or
// replaced is fine; a nonce of another chat is left alone.
func (s *Service) Cancel(ctx context.Context, chatID int64, nonce string) error {
	blob, err := s.links.Link(ctx, nonce)
	if kezekbot.ErrorCode(err) == kezekbot.ENOTFOUND {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cancel link %s: %w", nonceTag(nonce), err)
	}
	var rec record
	if err := json.Unmarshal(blob, &rec); err != nil || rec.ChatID != chatID {
		return kezekbot.Errorf(kezekbot.EFORBIDDEN, "cancel link %s: not a link of this chat", nonceTag(nonce))
	}
	if _, err := s.links.ConsumeLink(ctx, nonce); err != nil && kezekbot.ErrorCode(err) != kezekbot.ENOTFOUND {
		return fmt.Errorf("cancel link %s: %w", nonceTag(nonce), err)
	}
	return nil
}

var _ flows.LinkCanceler = (*Service)(nil)
