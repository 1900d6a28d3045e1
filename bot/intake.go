package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// Stepper is the dialog: flows.Machine.
type Stepper interface {
	Step(ctx context.Context, chatID int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error)
}

// Renderer turns screens and catalog keys into text: bot/render, through RenderAdapter.
type Renderer interface {
	Screen(flows.Screen) Message
	Text(lang kezekbot.Lang, key string, args map[string]any) string
}

// TurnStore keeps dialog state with a per-chat lock and update_id dedupe: *redisstore.Store.
type TurnStore interface {
	Begin(ctx context.Context, chatID, updateID int64) (redisstore.Turn, error)
	Commit(ctx context.Context, chatID, updateID int64, t redisstore.Turn, state []byte) error
	Abort(ctx context.Context, chatID, updateID int64, t redisstore.Turn) error
	Renew(ctx context.Context, chatID int64, t redisstore.Turn) error
}

// IntakeOptions configure an Intake. Steps, Render, Turns and Send are required.
type IntakeOptions struct {
	Steps  Stepper
	Render Renderer
	Turns  TurnStore
	Send   *Sender
	// MaxConcurrent bounds updates handled at once across chats; default 64.
	MaxConcurrent int
	// BusyWait is how long Begin is retried while another replica holds the chat; default 2s.
	BusyWait time.Duration
	// Timeout bounds the handling of one update once it has its turn; default 30s. Handling
	// does not stop when the caller (an HTTP request) goes away: a half-done update is worse.
	Timeout time.Duration
	// OnUnreachable is called when a private chat blocks the bot (my_chat_member "kicked").
	// Give the Sender the same hook for the 403s it meets.
	OnUnreachable func(chatID int64, reason string)
	Log           *slog.Logger
}

// Intake handles updates: one at a time per chat in arrival order, chats in parallel up to a
// bound. Each update is one turn: Begin (lock, dedupe, load state) → Step → effects → Commit.
type Intake struct {
	o      IntakeOptions
	log    *slog.Logger
	lanes  lanes
	sem    chan struct{}
	leases leaseKeeper
}

// Errors Handle returns for updates that should be delivered again later.
var (
	// ErrChatBusy: another replica held the chat for the whole BusyWait.
	ErrChatBusy = errors.New("chat busy")
	// ErrRetry: the update could not be handled now (Redis or Telegram unavailable, or the same
	// update in progress elsewhere); nothing was committed.
	ErrRetry = errors.New("retry later")
)

// NewIntake returns an Intake.
func NewIntake(o IntakeOptions) (*Intake, error) {
	if o.Steps == nil || o.Render == nil || o.Turns == nil || o.Send == nil {
		return nil, errors.New("new intake: Steps, Render, Turns and Send are required")
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 64
	}
	if o.BusyWait <= 0 {
		o.BusyWait = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	in := &Intake{o: o, log: log, sem: make(chan struct{}, o.MaxConcurrent)}
	in.leases = leaseKeeper{renew: o.Turns.Renew, log: log}
	in.lanes.init()
	return in, nil
}

// route is what an update means for the dialog.
type route struct {
	chatID   int64
	ev       flows.Event
	cbID     string // callback query to answer, "" if none
	group    bool   // a group chat: no state, no personal data
	notice   bool   // the bot joined this group: send the group notice, no dialog
	lang     string // sender's language_code
	upd      int64
	internal bool
}

// Handle handles one update. It returns nil when the update is done with: handled, a
// duplicate, ignored, or poison (a panic, logged); an error (ErrRetry, ErrChatBusy or ctx's)
// when it should be delivered again.
func (in *Intake) Handle(ctx context.Context, upd *models.Update) error {
	r, act := in.classify(upd)
	switch act {
	case actIgnore:
		return nil
	case actAnswerOnly:
		// A callback with no chat (an inline message): nothing to show, but the client's
		// spinner must stop. Nothing is stored, so the webhook answer may carry it at once.
		if rep := webhookReplyFrom(ctx); rep != nil {
			rep.answer = r.cbID
			return nil
		}
		if err := in.o.Send.AnswerCallbackQuery(context.WithoutCancel(ctx), r.cbID, "", false); err != nil {
			in.log.Warn("answer callback", "update_id", upd.ID, "err", err)
		}
		return nil
	case actBlocked:
		if in.o.OnUnreachable != nil {
			in.o.OnUnreachable(r.chatID, "blocked")
		}
		return nil
	case actGroupNotice:
		r.notice = true
	}
	// Every path is a turn: a redelivered group command or join must not send its note twice.
	return in.run(ctx, r, in.turn)
}

// Inject handles an internal event for a chat (the signer-link's Signed) as if it had arrived
// as an update, without dedupe.
func (in *Intake) Inject(ctx context.Context, chatID int64, ev flows.Event) error {
	return in.run(ctx, route{chatID: chatID, ev: ev, internal: true}, in.turn)
}

type action int

const (
	actIgnore action = iota
	actDialog
	actAnswerOnly
	actBlocked
	actGroupNotice
)

func (in *Intake) classify(upd *models.Update) (route, action) {
	r := route{upd: upd.ID}
	switch {
	case upd.Message != nil:
		m := upd.Message
		r.chatID = m.Chat.ID
		if m.From != nil {
			r.lang = m.From.LanguageCode
		}
		switch m.Chat.Type {
		case models.ChatTypePrivate:
			if m.Text != "" {
				r.ev = flows.EventFromText(m.Text, r.lang)
			} else {
				r.ev = flows.Unsupported{Kind: messageKind(m)}
			}
			return r, actDialog
		case models.ChatTypeGroup, models.ChatTypeSupergroup:
			// Only commands get the notice; the bot stays quiet on group chatter.
			if m.Text == "" || m.Text[0] != '/' {
				return r, actIgnore
			}
			ev := flows.EventFromText(m.Text, r.lang)
			if _, ok := ev.(flows.Text); ok {
				return r, actIgnore
			}
			r.ev, r.group = ev, true
			return r, actDialog
		}
		return r, actIgnore
	case upd.EditedMessage != nil:
		m := upd.EditedMessage
		if m.Chat.Type != models.ChatTypePrivate {
			return r, actIgnore
		}
		r.chatID, r.ev = m.Chat.ID, flows.Unsupported{Kind: "edited_message"}
		return r, actDialog
	case upd.CallbackQuery != nil:
		cq := upd.CallbackQuery
		r.cbID, r.lang = cq.ID, cq.From.LanguageCode
		var chat models.Chat
		var msgID int
		switch {
		case cq.Message.Message != nil:
			chat, msgID = cq.Message.Message.Chat, cq.Message.Message.ID
		case cq.Message.InaccessibleMessage != nil:
			chat, msgID = cq.Message.InaccessibleMessage.Chat, cq.Message.InaccessibleMessage.MessageID
		}
		if chat.ID == 0 {
			if cq.ID == "" {
				return r, actIgnore
			}
			return r, actAnswerOnly
		}
		r.chatID = chat.ID
		r.ev = flows.EventFromCallback(cq.Data, msgID)
		switch chat.Type {
		case models.ChatTypePrivate:
		case models.ChatTypeGroup, models.ChatTypeSupergroup:
			r.group = true
		default:
			if cq.ID == "" {
				return r, actIgnore
			}
			return r, actAnswerOnly
		}
		return r, actDialog
	case upd.MyChatMember != nil:
		cm := upd.MyChatMember
		r.chatID, r.lang = cm.Chat.ID, cm.From.LanguageCode
		switch cm.Chat.Type {
		case models.ChatTypePrivate:
			if cm.NewChatMember.Type == models.ChatMemberTypeBanned {
				return r, actBlocked
			}
		case models.ChatTypeGroup, models.ChatTypeSupergroup:
			// Only a real join earns the note: from left/kicked (or restricted without
			// membership) into the group. A promotion or a change of rights is not one.
			if inGroup(cm.NewChatMember) && !inGroup(cm.OldChatMember) {
				// Added to a group: say once that the bot works in private chats only.
				r.group = true
				return r, actGroupNotice
			}
		}
		return r, actIgnore
	}
	// Channel posts, inline queries, polls, reactions, …: nothing for the dialog.
	return r, actIgnore
}

// inGroup reports whether a chat member is in the group: a member, an administrator, the
// owner, or restricted while still a member (is_member).
func inGroup(m models.ChatMember) bool {
	switch m.Type {
	case models.ChatMemberTypeMember, models.ChatMemberTypeAdministrator, models.ChatMemberTypeOwner:
		return true
	case models.ChatMemberTypeRestricted:
		return m.Restricted != nil && m.Restricted.IsMember
	}
	return false
}

// messageKind names a non-text message for flows.Unsupported.
func messageKind(m *models.Message) string {
	switch {
	case m.Sticker != nil:
		return "sticker"
	case len(m.Photo) > 0:
		return "photo"
	case m.Voice != nil:
		return "voice"
	case m.VideoNote != nil:
		return "video_note"
	case m.Video != nil:
		return "video"
	case m.Animation != nil:
		return "animation"
	case m.Audio != nil:
		return "audio"
	case m.Document != nil:
		return "document"
	case m.Location != nil:
		return "location"
	case m.Contact != nil:
		return "contact"
	case m.Poll != nil:
		return "poll"
	case m.Dice != nil:
		return "dice"
	}
	return "other"
}

// run waits for the chat's turn and a global slot, then calls fn with panics recovered.
func (in *Intake) run(ctx context.Context, r route, fn func(context.Context, *handling) error) (err error) {
	if err := in.lanes.acquire(ctx, r.chatID); err != nil {
		return fmt.Errorf("update %d chat %d: wait for chat: %w", r.upd, r.chatID, err)
	}
	defer in.lanes.release(r.chatID)
	select {
	case in.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("update %d chat %d: wait for a slot: %w", r.upd, r.chatID, ctx.Err())
	}
	defer func() { <-in.sem }()

	// From here on the update is finished even if the caller leaves: a webhook request that
	// times out must not leave a message sent and the state unsaved.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.o.Timeout)
	defer cancel()
	h := &handling{route: r}
	if r.cbID != "" {
		h.ride = webhookReplyFrom(ctx)
	}
	defer func() {
		p := recover()
		if p == nil {
			in.settleAnswer(hctx, h, err)
			return
		}
		in.log.Error("panic while handling update", "update_id", r.upd, "chat_id", r.chatID,
			"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		if h.begun {
			if aerr := in.o.Turns.Abort(hctx, r.chatID, r.upd, h.turn); aerr != nil {
				in.log.Error("abort after panic", "update_id", r.upd, "chat_id", r.chatID, "err", aerr)
			}
		}
		in.answerIfNeeded(hctx, h)
		in.settleAnswer(hctx, h, errors.New("panic"))
		err = nil // poison: delivering it again would panic again
	}()
	return fn(hctx, h)
}

// handling is one update in progress.
type handling struct {
	route
	turn     redisstore.Turn
	begun    bool
	answered bool
	// ride is the webhook answer that may carry the callback query's silent answer (nil when
	// the update did not come by webhook); deferred says the answer waits for it, committed
	// that the turn is stored, the condition for letting it ride (settleAnswer).
	ride      *webhookReply
	deferred  bool
	committed bool
}

// turn handles one update as one locked, deduplicated turn of its chat. A private chat's turn
// loads and saves the dialog state; a group's keeps none (the dialog sees an empty state and
// only answers with the group notice) but is deduplicated and ordered all the same.
func (in *Intake) turn(ctx context.Context, h *handling) error {
	t, err := in.begin(ctx, h.chatID, h.upd)
	if err != nil {
		if errors.Is(err, redisstore.ErrDuplicate) && !errors.Is(err, redisstore.ErrInProgress) {
			// Handled before. Its callback was answered then, unless that answer rode on a
			// webhook response Telegram never got (which is why it delivers again): answer
			// again on this one; a second silent answer is harmless.
			if h.ride != nil {
				h.answered, h.deferred, h.committed = true, true, true
			}
			return nil
		}
		in.answerIfNeeded(ctx, h)
		return err
	}
	h.turn, h.begun = t, true
	ctx, release := in.holdLease(ctx, h.chatID, t)
	defer release()
	if h.group {
		return in.groupTurn(ctx, h, t)
	}

	var st flows.State
	if len(t.State) > 0 {
		if err := json.Unmarshal(t.State, &st); err != nil {
			in.log.Warn("corrupt dialog state, starting afresh", "chat_id", h.chatID, "update_id", h.upd, "err", err)
			st = flows.State{}
		}
	}
	st, err = in.step(ctx, h, st)
	if err != nil {
		if aerr := in.o.Turns.Abort(ctx, h.chatID, h.upd, t); aerr != nil {
			in.log.Error("abort turn", "chat_id", h.chatID, "update_id", h.upd, "err", aerr)
		}
		return err
	}
	blob, err := json.Marshal(&st)
	if err != nil {
		blob = nil // cannot happen for flows.State; deleting beats keeping a wrong state
	}
	if err := in.o.Turns.Commit(ctx, h.chatID, h.upd, t, blob); err == nil {
		h.committed = true
	} else {
		// The reply is out; a redelivery would send it twice. The next update starts from the
		// state before this one.
		if errors.Is(err, redisstore.ErrStale) {
			in.log.Warn("dialog state changed meanwhile", "chat_id", h.chatID, "update_id", h.upd, "err", err)
		} else {
			in.log.Error("commit turn", "chat_id", h.chatID, "update_id", h.upd, "err", err)
		}
	}
	return nil
}

// holdLease keeps a turn's short lease on its chat while the turn runs (leaseKeeper): it is
// renewed every third of the lease, and the returned context is cancelled once the lease is
// lost or ran out without a renewal, because another replica may then run the chat. release
// ends it.
func (in *Intake) holdLease(ctx context.Context, chatID int64, t redisstore.Turn) (context.Context, func()) {
	return in.leases.hold(ctx, chatID, t)
}

// begin calls Begin, retrying ErrBusy (another replica mid-update on this chat) for BusyWait.
func (in *Intake) begin(ctx context.Context, chatID, updateID int64) (redisstore.Turn, error) {
	deadline := time.Now().Add(in.o.BusyWait)
	wait := 10 * time.Millisecond
	for {
		t, err := in.o.Turns.Begin(ctx, chatID, updateID)
		switch {
		case err == nil:
			return t, nil
		case errors.Is(err, redisstore.ErrInProgress):
			return t, fmt.Errorf("%w: %w", ErrRetry, err)
		case errors.Is(err, redisstore.ErrDuplicate):
			return t, err
		case !errors.Is(err, redisstore.ErrBusy):
			return t, fmt.Errorf("%w: %w", ErrRetry, err)
		}
		if time.Now().Add(wait).After(deadline) {
			return t, fmt.Errorf("%w: %w", ErrChatBusy, err)
		}
		if serr := sleepCtx(ctx, wait); serr != nil {
			return t, fmt.Errorf("%w: %w", ErrChatBusy, serr)
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

// groupTurn is a group's turn: the bot was added (the notice that it works in private chats
// only) or a command (the dialog, with no state). Nothing is stored but the update's dedupe mark.
func (in *Intake) groupTurn(ctx context.Context, h *handling, t redisstore.Turn) error {
	if h.notice {
		m := in.o.Render.Screen(flows.Screen{Kind: flows.ScreenGroup, Lang: kezekbot.LangFromTelegram(h.route.lang)})
		if _, err := in.o.Send.SendMessage(ctx, h.chatID, m); err != nil {
			in.log.Warn("group notice", "chat_id", h.chatID, "err", err)
		}
	} else if _, err := in.step(ctx, h, flows.State{}); err != nil {
		if aerr := in.o.Turns.Abort(ctx, h.chatID, h.upd, t); aerr != nil {
			in.log.Error("abort turn", "chat_id", h.chatID, "update_id", h.upd, "err", aerr)
		}
		return err
	}
	if err := in.o.Turns.Commit(ctx, h.chatID, h.upd, t, nil); err == nil {
		h.committed = true
	} else {
		in.log.Warn("commit group turn", "chat_id", h.chatID, "update_id", h.upd, "err", err)
	}
	return nil
}

// step runs the dialog and carries out its effects, storing a new message's id in the state.
// It returns an error only when the update should be delivered again (a transient failure
// before anything was shown).
func (in *Intake) step(ctx context.Context, h *handling, st flows.State) (flows.State, error) {
	next, effects, err := in.o.Steps.Step(ctx, h.chatID, st, h.ev)
	if err != nil {
		// The state and effects are still valid (the parent sees an error screen).
		in.log.Error("dialog step", "chat_id", h.chatID, "update_id", h.upd, "err", err)
	}
	shown := false
	for _, e := range effects {
		switch e := e.(type) {
		case flows.Answer:
			if h.cbID == "" || h.answered {
				continue
			}
			if e.Text == "" && e.Key == "" && !e.Alert {
				in.answerIfNeeded(ctx, h) // silent: may ride on the webhook answer
				continue
			}
			h.answered = true
			text := e.Text
			if text == "" && e.Key != "" {
				text = in.o.Render.Text(next.Lang, e.Key, e.Args)
			}
			if err := in.o.Send.AnswerCallbackQuery(ctx, h.cbID, text, e.Alert); err != nil {
				in.log.Warn("answer callback", "chat_id", h.chatID, "update_id", h.upd, "err", err)
			}
		case flows.Show:
			m := in.o.Render.Screen(e.Screen)
			var id int
			var serr error
			if e.New || next.MsgID == 0 {
				id, serr = in.o.Send.SendMessage(ctx, h.chatID, m)
			} else {
				id, serr = in.o.Send.EditMessageText(ctx, h.chatID, next.MsgID, m)
			}
			if serr != nil {
				if !shown && retryable(serr) {
					in.answerIfNeeded(ctx, h)
					return st, fmt.Errorf("%w: show %s: %w", ErrRetry, e.Screen.Kind, serr)
				}
				// Blocked, chat gone, or a request Telegram refuses: delivering the update
				// again would not help.
				in.log.Warn("show screen", "chat_id", h.chatID, "update_id", h.upd, "screen", string(e.Screen.Kind), "err", serr)
				continue
			}
			shown = true
			next.MsgID = id
		}
	}
	in.answerIfNeeded(ctx, h)
	return next, nil
}

// retryable reports whether a failed call may succeed later: transient, or a 429 whose wait
// was longer than the Sender would sit out.
func retryable(err error) bool {
	var tm *tgbot.TooManyRequestsError
	return isTransient(err) || errors.As(err, &tm)
}

// answerIfNeeded answers the update's callback query silently if nothing else did: a client
// shows a spinner until it is answered. An update that came by webhook defers the answer to
// settleAnswer, which lets it ride on the webhook answer when it can.
func (in *Intake) answerIfNeeded(ctx context.Context, h *handling) {
	if h.cbID == "" || h.answered {
		return
	}
	h.answered = true
	if h.ride != nil {
		h.deferred = true
		return
	}
	in.answerNow(ctx, h)
}

// settleAnswer sends a deferred silent answer once the update is done with: on the webhook
// answer when the turn committed and the update is acknowledged (err nil), since only then is
// the 200 that carries it written and a lost 200 redelivered as a duplicate; by a Bot API call
// otherwise (the update failed, is retried, or its commit did not take).
func (in *Intake) settleAnswer(ctx context.Context, h *handling, err error) {
	if !h.deferred {
		return
	}
	h.deferred = false
	if err == nil && h.committed {
		h.ride.answer = h.cbID
		return
	}
	in.answerNow(ctx, h)
}

func (in *Intake) answerNow(ctx context.Context, h *handling) {
	if err := in.o.Send.AnswerCallbackQuery(ctx, h.cbID, "", false); err != nil {
		in.log.Warn("answer callback", "chat_id", h.chatID, "update_id", h.upd, "err", err)
	}
}
