package signerlink

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
)

// Attempt limits (issue 12). A signing link takes at most a few failed signatures — a wrong
// key, another person's key, a broken or altered signature — and then dies, on the page's POST
// and the eGov mobile PUT alike: guessing at a link (or a confused parent trying every key on
// a shared computer) ends quickly and the chat says to ask for a new link. And a chat gets
// only a few new links a minute, so a script tapping «Подписать» cannot mint links (each a
// Redis record and a document) without end.

// DefaultMaxFailedAttempts is how many failed signatures a link takes before it dies: enough
// for a parent who picks the AUTH key instead of the SIGN one and then the right file, few
// enough that guessing is no strategy.
const DefaultMaxFailedAttempts = 5

// DefaultLinkIssueRate is how many new signing links one chat gets: 5 a minute, 5 at once.
const DefaultLinkIssueRate = "5/1m,5"

// AttemptStore counts a link's failed signature attempts next to the link record, atomically
// (store/redis implements it). Links must implement it for the attempt limit to apply.
type AttemptStore interface {
	// TakeLinkAttempt takes one of max attempts; ok is false once max were taken.
	TakeLinkAttempt(ctx context.Context, nonce string, max int) (ok bool, err error)
	// EndLinkAttempt ends a taken attempt: a failed one keeps its place and, at max, deletes
	// the link (dead is true for exactly the call that did); another gives its place back.
	EndLinkAttempt(ctx context.Context, nonce string, failed bool, max int) (dead bool, err error)
}

type attemptLimits struct {
	store     AttemptStore // nil: no attempt limit
	max       int
	issue     Rate
	onRefused func(scope string)
}

func (a *attemptLimits) init(cfg Config) error {
	a.max = cfg.MaxFailedAttempts
	st, canCount := cfg.Links.(AttemptStore)
	switch {
	case a.max == 0 && canCount:
		a.max = DefaultMaxFailedAttempts
	case a.max > 0 && !canCount:
		return fmt.Errorf("attempt limit: the link store cannot count attempts")
	}
	if a.max > 0 {
		a.store = st
	}
	if cfg.LinkIssueRate != nil {
		a.issue = *cfg.LinkIssueRate
	} else {
		r, err := ParseRate(DefaultLinkIssueRate)
		if err != nil {
			return err
		}
		a.issue = r
	}
	a.onRefused = cfg.OnRateLimited
	return nil
}

// countsAsFailure says whether an outcome of accept spends an attempt: every refusal of the
// signature itself does; our own trouble (an outage, a revocation status we could not learn,
// a bug) does not, nor does what happens after the link was consumed.
func countsAsFailure(reason string) bool {
	switch reason {
	case "ok", "internal", "revocation_unknown", "link_used", "attempts_exhausted":
		return false
	}
	o, ok := outcomes[reason]
	return ok && o.Retry
}

// takeAttempt takes an attempt before verification. refusal is the answer when there is none
// to take: attempts_exhausted (the last ones are still in flight), or link_used (the link died
// since it was loaded: used, replaced, or spent). A store error lets the attempt through: the
// link itself lives in the same Redis, and consuming it fails right after.
func (s *Service) takeAttempt(ctx context.Context, l link) (taken bool, refusal string) {
	if s.attempts.store == nil {
		return false, ""
	}
	ok, err := s.attempts.store.TakeLinkAttempt(ctx, l.nonce, s.attempts.max)
	switch {
	case kezekbot.ErrorCode(err) == kezekbot.ENOTFOUND:
		return false, "link_used"
	case err != nil:
		s.log.WarnContext(ctx, "count signature attempt", slog.String("link", nonceTag(l.nonce)), slog.Any("err", err))
		return false, ""
	case !ok:
		return false, "attempts_exhausted"
	}
	return true, ""
}

// endAttempt ends an attempt taken by takeAttempt with the outcome's reason. When this
// failure was the last one the link takes, the link is dead: the reason becomes
// attempts_exhausted and the chat is told (both routes: the parent may be looking at either).
func (s *Service) endAttempt(ctx context.Context, l link, reason string) string {
	failed := countsAsFailure(reason)
	dead, err := s.attempts.store.EndLinkAttempt(context.WithoutCancel(ctx), l.nonce, failed, s.attempts.max)
	if err != nil {
		s.log.WarnContext(ctx, "end signature attempt", slog.String("link", nonceTag(l.nonce)), slog.Any("err", err))
		return reason
	}
	if !dead {
		return reason
	}
	s.log.InfoContext(ctx, "signing link spent by failed attempts", slog.String("link", nonceTag(l.nonce)),
		slog.Int64("chat_id", l.rec.ChatID), slog.Int("attempts", s.attempts.max), slog.String("last", reason))
	if s.attempts.onRefused != nil {
		s.attempts.onRefused("attempts")
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actionTimeout)
	defer cancel()
	ev := flows.Signed{Action: l.rec.Action, Nonce: l.nonce, Rejected: flows.RejectedSpent}
	if err := s.resumer.Inject(ictx, l.rec.ChatID, ev); err != nil {
		s.log.ErrorContext(ctx, "tell the chat its signing link is spent", slog.String("link", nonceTag(l.nonce)), slog.Any("err", err))
	}
	return "attempts_exhausted"
}

// allowIssue applies the per-chat limit on new links. A limiter that fails lets the link
// through (as the signature limits do): Redis being down fails the issue right after anyway.
func (s *Service) allowIssue(ctx context.Context, chatID int64) error {
	if s.attempts.issue.Off() {
		return nil
	}
	ok, retry, err := s.limiter.lim.Allow(ctx, "link:issue:"+strconv.FormatInt(chatID, 10), s.attempts.issue.PerSecond, s.attempts.issue.Burst)
	if err != nil {
		s.log.WarnContext(ctx, "signing link issue limit unavailable; link issued", slog.Any("err", err))
		return nil
	}
	if ok {
		return nil
	}
	if s.attempts.onRefused != nil {
		s.attempts.onRefused("issue")
	}
	s.log.InfoContext(ctx, "signing link refused by the per-chat limit", slog.Int64("chat_id", chatID), slog.Duration("retry", retry.Round(time.Second)))
	return fmt.Errorf("issue link for chat %d: %w", chatID, flows.ErrTooManyLinks)
}

// attemptTexts are the page's words for a spent link; init merges them into texts.
var attemptTexts = map[string]map[flows.Lang]string{
	"err.attempts_exhausted": {
		flows.Russian: "Слишком много неудачных попыток подписи — ссылка больше не действует. Вернитесь в бот и запросите новую ссылку.",
		flows.Kazakh:  "Қол қоюдың сәтсіз әрекеттері тым көп — сілтеме енді жарамсыз. Ботқа оралып, жаңа сілтеме сұраңыз.",
	},
}

func init() {
	// A spent link is over: nothing to retry on this page, ask the bot for a new one.
	outcomes["attempts_exhausted"] = outcome{http.StatusGone, "err.attempts_exhausted", false, dead}
	for k, v := range attemptTexts {
		if _, dup := texts[k]; dup {
			panic("signer-link: text " + k + " defined twice")
		}
		texts[k] = v
	}
}
