// Package flows is the parents' (and staff's) dialog as a state machine: a State and an Event
// in, a new State and Effects out. It knows nothing of Telegram or Redis: bot/ turns updates
// into Events and renders Effects; store/redis keeps the State between updates.
//
// Reads go through the small Data interface; the signing hand-off goes through Links. Both are
// declared here, where they are used, and faked in the tests.
package flows

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kezekbot/kezekbot"
)

// Lang is kezekbot.Lang, named here too for the dialog's many users of flows.Lang.
type Lang = kezekbot.Lang

// The languages (kezekbot.Kazakh, kezekbot.Russian).
const (
	Kazakh  = kezekbot.Kazakh
	Russian = kezekbot.Russian
)

// LangFromTelegram is kezekbot.LangFromTelegram.
func LangFromTelegram(code string) Lang { return kezekbot.LangFromTelegram(code) }

// StateName names a dialog state.
type StateName string

const (
	SNew           StateName = ""               // nothing known about the chat yet
	SUnbound       StateName = "unbound"        // greeted, not bound to an IIN
	SBinding       StateName = "binding"        // an AUTH link was sent, waiting for the signature
	SMenu          StateName = "menu"           // bound, main menu
	SList          StateName = "list"           // «Журнал заявлений»
	SCard          StateName = "card"           // one application
	SHistory       StateName = "history"        // «История изменений»
	SDocs          StateName = "docs"           // «Общие документы»
	SReferral      StateName = "referral"       // referral details
	SRevokePick    StateName = "revoke_pick"    // choose the active referral
	SRevokeReason  StateName = "revoke_reason"  // «Причина снятия»: preset or typed
	SRevokeConfirm StateName = "revoke_confirm" // summary, «Подтвердить отказ»
	SRevokeSigning StateName = "revoke_signing" // a SIGN link was sent, waiting for the signature
	SExtend        StateName = "extend"         // «Продлить направление» explanation
	SSettings      StateName = "settings"       // /settings: which notifications the chat gets
	// SRevokePending: the signed revocation was handed to the city; its answer (RevokeDecided)
	// is edited into this screen when it comes.
	SRevokePending StateName = "revoke_pending"
)

// State is everything the dialog remembers about one chat between updates. It is small and
// JSON-encoded into Redis with a TTL; the binding itself lives in PostgreSQL and IIN here is
// a cache of it.
type State struct {
	Name StateName    `json:"n,omitempty"`
	Lang Lang         `json:"l,omitempty"`
	IIN  kezekbot.IIN `json:"i,omitzero"`
	// Rev is the revision of the live screen. Every button carries it; a press whose Rev
	// differs is stale (an old message, a state that expired, a second device).
	Rev uint32 `json:"r,omitempty"`
	// MsgID is the live message that screens are edited into; 0 means send a new one.
	MsgID  int    `json:"m,omitempty"`
	Page   int    `json:"p,omitempty"`
	AppID  int64  `json:"a,omitempty"`
	RefID  int64  `json:"f,omitempty"`
	Reason string `json:"s,omitempty"`
	// Nonce of the signing link handed out last; a Signed event with another nonce is stale.
	Nonce string `json:"o,omitempty"`
	// LinkURL and LinkExp are the signing link handed out last, so that the link screen can be
	// shown again (a stale press, /help and back) without issuing a second link.
	LinkURL string    `json:"u,omitempty"`
	LinkExp time.Time `json:"x,omitzero"`
	// Staff is the staff broadcast dialog's own state (flows/staff), kept here so that one
	// chat has one state in one place. It is opaque to the parents' dialog: the adapter that
	// routes staff updates (cmd/kezekbot's staffRouter) decodes and encodes it.
	Staff RawJSON `json:"st,omitempty"`
	// Pending lists the nonces of this chat's revocations handed to the city and not yet
	// answered, space-separated, newest last (at most MaxPending). A RevokeDecided whose nonce
	// is not here is stale or a repeat and is ignored. A string keeps State comparable.
	Pending string `json:"pd,omitempty"`
	// Awaiting is the nonce whose «sent to the queue system» screen is the live message: its
	// answer is edited into that message; any other answer comes as a new message.
	Awaiting string `json:"aw,omitempty"`
}

// MaxPending is how many unanswered revocations a chat's state remembers; an older one's
// answer still reaches the other chats as a notification and the card shows it.
const MaxPending = 4

// RawJSON is a JSON value kept as its text: encoded as is (not as a JSON string), and a
// string so that State stays comparable. "" is no value; text that is not valid JSON is
// encoded as null and comes back as "".
type RawJSON string

// MarshalJSON implements json.Marshaler.
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if r == "" || !json.Valid([]byte(r)) {
		return []byte("null"), nil
	}
	return []byte(r), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = ""
		return nil
	}
	*r = RawJSON(b)
	return nil
}

// Event is something that happened in a chat.
type Event interface{ isEvent() }

// Start is /start; TelegramLang is the user's language_code, for the default language.
type Start struct{ TelegramLang string }

// Command is any other /command: lang, logout, apps, cancel, help.
type Command struct {
	Name string
	Arg  string
}

// Text is a plain text message.
type Text struct{ Text string }

// Press is a press of an inline button, with its callback data already parsed.
type Press struct {
	Action ButtonAction
	ID     int64
	// Rev is the screen revision the button was drawn for.
	Rev uint32
	// MsgID is the message the button was on.
	MsgID int
}

// BadPress is a callback whose data did not parse: hostile, or from an old version.
type BadPress struct{}

// ForeignPress is a callback whose data is not the parents' ("1:…"): another dialog's
// button (the staff dialog's "s:…"), or hostile data. An adapter that knows the other dialog
// routes it there; the parents' Machine treats it exactly like BadPress.
type ForeignPress struct {
	Data  string
	MsgID int
}

// Unsupported is a sticker, photo, voice, document, edited message or anything else the
// dialog does not take.
type Unsupported struct{ Kind string }

// Signed is the signer-link's report that a signature for this chat was accepted (OK) or that
// the action failed after the signature (Code is a kezekbot error code, e.g. EEXPIRED when the
// 24 hours ran out while the parent was signing).
type Signed struct {
	Action kezekbot.Action
	Nonce  string
	OK     bool
	Code   string
	IIN    kezekbot.IIN          // bind: the certificate's IIN
	Result kezekbot.RevokeResult // revoke: the application after it
	// Rejected, when set, says that a signature arrived from eGov mobile but was refused
	// before anything was done (one of the Rejected* values). The parent is not looking at the
	// signing page then (the app is in front), so the chat says why; the link stays usable
	// unless it expired, and OK and Code are unset.
	Rejected string
}

// Why a signature from eGov mobile was refused (Signed.Rejected). The chat shows the
// catalog text "egov.rejected.<value>" (wrong_key with the action: wrong_key_bind,
// wrong_key_revoke) above the link screen, or above the screen the link came from once it
// expired.
const (
	RejectedWrongKey    = "wrong_key"    // AUTH where SIGN was needed, or the reverse
	RejectedOtherPerson = "other_person" // a key of someone other than the bound IIN
	RejectedAltered     = "altered"      // not the document issued, or a broken signature
	RejectedCertificate = "certificate"  // not an NCA RK certificate we accept (chain, dates, organisation, revoked)
	RejectedExpired     = "expired"      // the link had expired
	RejectedOther       = "other"        // the app sent something we could not read
)

// RevokeDecided is the city's answer to a revocation handed to it (Signed with
// Result.Pending), injected by the command deliverer through the same intake as Signed:
// accepted (Result is the application after it), refused (Code is the city's refusal code,
// Result names the application and referral the request was about), or — Delayed — no answer
// yet because the city has been unreachable for long; the answer follows later.
type RevokeDecided struct {
	Nonce    string
	Accepted bool
	Delayed  bool
	Code     string
	Result   kezekbot.RevokeResult
}

func (Start) isEvent()         {}
func (Command) isEvent()       {}
func (Text) isEvent()          {}
func (Press) isEvent()         {}
func (BadPress) isEvent()      {}
func (ForeignPress) isEvent()  {}
func (Unsupported) isEvent()   {}
func (Signed) isEvent()        {}
func (RevokeDecided) isEvent() {}

// Effect is something the adapter must do after a step.
type Effect interface{ isEffect() }

// Show renders a screen: edited into the live message when there is one (State.MsgID), sent
// as a new message when New is set or there is no live message.
type Show struct {
	Screen Screen
	New    bool
}

// Answer answers the callback query of a Press (always exactly one per Press). Key is a
// message-catalog key ("" for a silent answer); Alert shows it as a dialog. Text, when set,
// is the answer's plain text as is, instead of Key (another dialog's own texts).
type Answer struct {
	Key   string
	Args  map[string]any
	Alert bool
	Text  string
}

func (Show) isEffect()   {}
func (Answer) isEffect() {}

// ScreenKind names what a screen shows; bot/ has one template per kind in each language.
type ScreenKind string

const (
	ScreenWelcome       ScreenKind = "welcome"        // greeting, language buttons, bind/menu
	ScreenBindLink      ScreenKind = "bind_link"      // the AUTH signing link
	ScreenLinkUsed      ScreenKind = "link_used"      // a spent signing link, its buttons removed
	ScreenMenu          ScreenKind = "menu"           // bound main menu
	ScreenList          ScreenKind = "list"           // «Журнал заявлений»
	ScreenCard          ScreenKind = "card"           // application card
	ScreenHistory       ScreenKind = "history"        // «История изменений»
	ScreenDocs          ScreenKind = "docs"           // «Общие документы»
	ScreenReferral      ScreenKind = "referral"       // referral details
	ScreenExtend        ScreenKind = "extend"         // «Продлить направление» explanation
	ScreenRevokePick    ScreenKind = "revoke_pick"    // choose a referral
	ScreenRevokeReason  ScreenKind = "revoke_reason"  // choose or type a reason
	ScreenRevokeConfirm ScreenKind = "revoke_confirm" // summary and consequence
	ScreenSignLink      ScreenKind = "sign_link"      // the SIGN link
	ScreenRevoked       ScreenKind = "revoked"        // result: new status and queue number
	ScreenRefused       ScreenKind = "refused"        // revocation refused (window closed, not active)
	ScreenBound         ScreenKind = "bound"          // bind succeeded
	ScreenLoggedOut     ScreenKind = "logged_out"
	ScreenHelp          ScreenKind = "help"
	ScreenGroup         ScreenKind = "group"    // the bot works in private chats only
	ScreenError         ScreenKind = "error"    // something broke on our side; try again
	ScreenLang          ScreenKind = "lang"     // choose the language
	ScreenSettings      ScreenKind = "settings" // notification kinds, each on or off
	// ScreenRevokePending: signed and sent to the city's queue system, its answer comes here.
	ScreenRevokePending ScreenKind = "revoke_pending"
	// ScreenRevokeDelayed: the city has not been reachable for long; the request stays queued.
	ScreenRevokeDelayed ScreenKind = "revoke_delayed"
	// ScreenRevokeRejected: the city refused the revocation; ErrCode is its refusal code.
	ScreenRevokeRejected ScreenKind = "revoke_rejected"
)

// Screen is what to show, in data; bot/ turns it into text and a keyboard in the chat's
// language. Flows decide which buttons exist (the rules live here), bot/ only draws them.
type Screen struct {
	Kind ScreenKind
	Lang Lang
	// Rev is the revision the screen's buttons are drawn for: the renderer encodes every action
	// button with EncodeCallback(b, Rev). It equals the State.Rev returned with the Show.
	Rev uint32
	// Notice is an optional catalog key shown above the screen ("notice.stale",
	// "notice.use_buttons", "notice.reason_too_long", …) with NoticeArgs.
	Notice     string
	NoticeArgs map[string]any

	Apps  []kezekbot.Application // ScreenList: this page
	Page  int                    // 0-based
	Pages int
	App   *kezekbot.ApplicationDetail
	Ref   *kezekbot.Referral
	// Refusal explains ScreenRefused.
	Refusal *kezekbot.RevokeRefusal
	Reason  string
	Link    *Link
	Now     time.Time
	// Total is the number of applications on ScreenList (all pages).
	Total int
	// IIN is the bound parent's own IIN (ScreenBound, ScreenMenu); render it masked.
	IIN kezekbot.IIN
	// ErrCode is the kezekbot error code ScreenError explains ("error.<code>" in the catalog).
	ErrCode string
	// Muted is, on ScreenSettings, the MuteKinds the chat switched off (absent: on).
	Muted map[string]bool

	Buttons [][]Button

	// Raw, when set, is the screen already rendered (another dialog's screen, such as the
	// staff dialog's): the renderer shows it as is and ignores every other field but Lang.
	Raw *RawScreen
}

// RawScreen is a pre-rendered screen: the message text in ParseMode ("" is plain text) and
// its inline keyboard.
type RawScreen struct {
	Text      string
	ParseMode string
	Buttons   [][]RawButton
}

// RawButton is a pre-rendered inline button: exactly one of Data (callback data, at most
// MaxCallbackLen bytes) and URL.
type RawButton struct {
	Text string
	Data string
	URL  string
}

// Button is an inline button. Exactly one of Action (a callback) and URL is set. Label is a
// catalog key ("btn.history") with LabelArgs, or Text when set (ДДО names, application numbers).
type Button struct {
	Label     string
	LabelArgs map[string]any
	Text      string
	URL       string
	Action    ButtonAction
	ID        int64
}

// Link is a signing link handed out by the signer-link.
type Link struct {
	URL     string
	Expires time.Time
	Nonce   string
}

// SignRequest asks the signer-link for a link to sign document D for action A on behalf of a
// chat. The signer-link builds the document from it, keeps it, and later reports Signed.
type SignRequest struct {
	ChatID        int64
	Action        kezekbot.Action
	Lang          Lang
	IIN           kezekbot.IIN // revoke: the bound IIN the certificate must carry
	ApplicationID int64
	ReferralID    int64
	Reason        string
}

// Links hands out signing links. Issuing a new link for a chat and action kills the previous
// one, so two taps never leave two working links.
type Links interface {
	Issue(ctx context.Context, req SignRequest) (Link, error)
}

// LinkCanceler is optionally implemented by Links: Cancel kills the chat's outstanding link
// with that nonce, so «Отмена» on the signing screen leaves no working link. Machine calls it
// when Links implements it; an error is logged, not shown.
type LinkCanceler interface {
	Cancel(ctx context.Context, chatID int64, nonce string) error
}

// Data is what the dialog reads, and the one write it makes itself (unbinding). Errors carry
// kezekbot codes: Application returns ENOTFOUND for an application of another applicant.
type Data interface {
	BoundIIN(ctx context.Context, chatID int64) (kezekbot.IIN, error)
	Unbind(ctx context.Context, chatID int64) error
	// Applications returns the applicant's applications, newest first.
	Applications(ctx context.Context, iin kezekbot.IIN) ([]kezekbot.Application, error)
	Application(ctx context.Context, iin kezekbot.IIN, id int64) (kezekbot.ApplicationDetail, error)
}

// MuteStore is optionally implemented by Data: the notification kinds a chat muted, and the
// one write /settings makes. Kinds are MuteKinds' Kind; mutes are per chat, not per IIN.
// Without it the menu has no settings button and /settings is an error screen.
type MuteStore interface {
	// Muted returns the kinds the chat muted.
	Muted(ctx context.Context, chatID int64) ([]string, error)
	// SetMuted mutes or unmutes one kind for the chat.
	SetMuted(ctx context.Context, chatID int64, kind string, muted bool) error
}

// LangStore is optionally implemented by Data: the chat's language where notifications and
// broadcasts read it. /lang and the language buttons write it, so one chat has one language
// everywhere. SetLang of a chat with no binding is not an error.
type LangStore interface {
	SetLang(ctx context.Context, chatID int64, lang string) error
}

// CatalogKey is a label or notice argument that is itself a catalog key: the renderer puts
// in its text in the screen's language.
type CatalogKey string

// MuteKind is a kind of notification a parent can switch off in /settings.
type MuteKind struct {
	// Kind is the store's name of the kind (store/postgres.MuteKinds).
	Kind string
	// Label is its catalog key.
	Label string
}

// MuteKinds are the kinds /settings shows, in order; a toggle button's ID is the index here,
// so the order only grows at the end.
var MuteKinds = []MuteKind{
	{Kind: "referral_issued", Label: "mute.referral_issued"},
	{Kind: "reminder", Label: "mute.reminder"},
	{Kind: "referral_closed", Label: "mute.referral_closed"},
	{Kind: "status_changed", Label: "mute.status_changed"},
	{Kind: "queue_changed", Label: "mute.queue_changed"},
}
