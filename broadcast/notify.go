package broadcast

import (
	"context"
	"encoding/json"

	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// NotifyStore is what the Notifier needs; *postgres.DB implements it.
type NotifyStore interface {
	ConsumeOutbox(ctx context.Context, n int, render func(postgres.NotifyContext) postgres.NotifyOutput) (int, error)
	ScheduleReminders(ctx context.Context, before time.Duration) (int, error)
}

// NotifyConfig tunes a Notifier. Zero values take the defaults.
type NotifyConfig struct {
	// ReminderBefore is how long before the revocation window closes the reminder goes;
	// default 2h. 0 < ReminderBefore < 24h.
	ReminderBefore time.Duration
	// QueueThreshold: a queue number change is notified when it differs from the number the
	// parent was last told by more than this; default 10.
	QueueThreshold int
	// Poll is how often the outbox is read; default 1s. Reminders are scheduled every minute.
	Poll time.Duration
	// Batch is how many outbox rows one transaction takes; default 100.
	Batch int
	// Now is the clock for "is the window still open"; default time.Now.
	Now func() time.Time
	// Enqueued, if set, is called after notifications were enqueued (Engine.Kick).
	Enqueued func()
	Log      *slog.Logger
	// Metrics, when it has LoopDown (metrics.Metrics), shows whether the outbox is reachable.
	Metrics any
}

func (c NotifyConfig) withDefaults() NotifyConfig {
	if c.ReminderBefore <= 0 || c.ReminderBefore >= kezekbot.RevocationWindow {
		c.ReminderBefore = 2 * time.Hour
	}
	if c.QueueThreshold <= 0 {
		c.QueueThreshold = 10
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Notifier turns outbox events into notifications: it renders each event for every chat of
// the applicant, in the chat's language, unless the chat muted that kind, and schedules the
// reminder before the revocation window closes. The Engine sends what it enqueues.
type Notifier struct {
	s   NotifyStore
	cfg NotifyConfig
}

// NewNotifier returns a notifier; Run it on any number of replicas.
func NewNotifier(s NotifyStore, cfg NotifyConfig) *Notifier {
	return &Notifier{s: s, cfg: cfg.withDefaults()}
}

// Run consumes the outbox and schedules reminders until ctx is cancelled; then it returns nil.
func (n *Notifier) Run(ctx context.Context) error {
	health := newTracker("notify", n.cfg.Log, n.cfg.Metrics)
	timer := time.NewTimer(0)
	defer timer.Stop()
	var remindAt time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		var err error
		if time.Since(remindAt) >= time.Minute {
			var k int
			if k, err = n.s.ScheduleReminders(ctx, n.cfg.ReminderBefore); err == nil {
				remindAt = time.Now()
				if k > 0 {
					n.cfg.Log.Info("notify: reminders scheduled", "n", k)
				}
			}
		}
		if err == nil {
			_, err = n.Drain(ctx)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			timer.Reset(health.Fail(err))
		default:
			health.OK()
			timer.Reset(n.cfg.Poll)
		}
	}
}

// Drain consumes the outbox until it is empty and returns how many events it handled.
func (n *Notifier) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		k, err := n.s.ConsumeOutbox(ctx, n.cfg.Batch, n.Render)
		total += k
		if err != nil {
			return total, err
		}
		if k > 0 && n.cfg.Enqueued != nil {
			n.cfg.Enqueued()
		}
		if k < n.cfg.Batch {
			return total, nil
		}
	}
}

// muteKind is the /settings switch that silences an outbox kind.
func muteKind(kind string) string {
	switch kind {
	case postgres.OutboxRevocationReminder:
		return "reminder"
	case postgres.OutboxReferralRevoked, postgres.OutboxReferralExpired, postgres.OutboxReferralUsed:
		return "referral_closed"
	}
	return kind
}

// Render turns one event into notifications. It does no I/O.
func (n *Notifier) Render(nc postgres.NotifyContext) postgres.NotifyOutput {
	var out postgres.NotifyOutput
	if nc.PayloadErr != nil {
		n.cfg.Log.Warn("notify: outbox payload does not decode; skipped", "outbox_id", nc.OutboxID, "kind", nc.Kind)
		return out
	}
	if nc.ApplicationNumber == "" {
		n.cfg.Log.Warn("notify: event names no known application; skipped", "outbox_id", nc.OutboxID, "kind", nc.Kind)
		return out
	}
	now := n.cfg.Now()
	deadline := nc.IssuedAt.Add(kezekbot.RevocationWindow)
	eventKey := nc.Payload.EventID
	if eventKey == "" {
		eventKey = "o" + strconv.FormatInt(nc.OutboxID, 10)
	}
	var (
		key, prefix string
		subject     = strconv.FormatInt(nc.ReferralID, 10)
		revoke      bool
		extra       []string
	)
	switch nc.Kind {
	case postgres.OutboxReferralIssued:
		if nc.ReferralID == 0 {
			subject = eventKey
		}
		key, prefix = "notify.referral_issued", "ri:"
		revoke = !nc.IssuedAt.IsZero() && now.Before(deadline) && nc.ReferralState != kezekbot.ReferralRevoked &&
			nc.ReferralState != kezekbot.ReferralExpired && nc.ReferralState != kezekbot.ReferralUsed
	case postgres.OutboxRevocationReminder:
		// The parent may have revoked, or the referral been used, since it was scheduled.
		if nc.ReferralState != kezekbot.ReferralActive || !now.Before(deadline) {
			return out
		}
		key, prefix, revoke = "notify.reminder", "rm:", true
	case postgres.OutboxReferralRevoked, postgres.OutboxReferralExpired, postgres.OutboxReferralUsed:
		if nc.ReferralID == 0 {
			subject = eventKey
		}
		key, prefix = "notify."+nc.Kind, "rc:"
	case postgres.OutboxStatusChanged:
		key, prefix, subject = "notify.status_changed", "st:", eventKey
	case postgres.OutboxQueueChanged:
		last := cmpOr(nc.QueueMark, nc.Payload.OldQueueNumber)
		if nc.QueueNumber <= 0 {
			return out
		}
		switch {
		case last == 0: // first sighting: this is the baseline
			out.QueueMark = nc.QueueNumber
			return out
		case abs(nc.QueueNumber-last) <= n.cfg.QueueThreshold:
			// Keep measuring from what the parent last knew, so slow drift adds up.
			if nc.QueueMark == 0 {
				out.QueueMark = last
			}
			return out
		}
		out.QueueMark = nc.QueueNumber
		key, prefix, subject = "notify.queue_changed", "q:", eventKey
		extra = []string{"Old", strconv.Itoa(last), "New", strconv.Itoa(nc.QueueNumber)}
	default:
		n.cfg.Log.Warn("notify: unknown outbox kind; skipped", "outbox_id", nc.OutboxID, "kind", nc.Kind)
		return out
	}
	mute := muteKind(nc.Kind)
	for _, t := range nc.Targets {
		if slices.Contains(t.Muted, mute) {
			continue
		}
		lang := t.Lang
		args := append([]string{
			"Number", nc.ApplicationNumber,
			"Kindergarten", nc.Kindergarten,
			"Deadline", i18n.DateTime(lang, deadline),
			"Status", T(lang, "status."+string(nc.Status)),
			"Left", left(lang, deadline.Sub(now)),
		}, extra...)
		buttons := [][]Button{{{Text: T(lang, "btn.open_app"), Data: flows.EncodeCallback(flows.Button{Action: flows.ActOpen, ID: nc.ApplicationID}, 0)}}}
		if revoke {
			buttons = append(buttons, []Button{{Text: T(lang, "btn.revoke"), Data: flows.EncodeCallback(flows.Button{Action: flows.ActRevoke, ID: nc.ApplicationID}, 0)}})
		}
		b, err := json.Marshal(buttons)
		if err != nil {
			continue // plain strings always encode
		}
		out.Notifications = append(out.Notifications, postgres.NewNotification{
			DedupeKey: prefix + subject + ":" + strconv.FormatInt(t.ChatID, 10),
			ChatID:    t.ChatID,
			Kind:      nc.Kind,
			Text:      T(lang, key, args...),
			Buttons:   b,
		})
	}
	return out
}

// left renders a remaining time roughly: hours when at least one, else minutes.
func left(lang string, d time.Duration) string {
	if d >= time.Hour {
		return T(lang, "hours", "N", strconv.Itoa(int((d+30*time.Minute)/time.Hour)))
	}
	return T(lang, "minutes", "N", strconv.Itoa(max(int(d/time.Minute), 1)))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}
