package broadcast

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot/audience"
	"github.com/kezekbot/kezekbot/flows/staff"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// ProgressStore is what Progress needs; *postgres.DB implements it.
type ProgressStore interface {
	ClaimProgress(ctx context.Context, every time.Duration) ([]postgres.ProgressDue, error)
	GetBroadcast(ctx context.Context, id int64) (postgres.Broadcast, error)
	SetBroadcastProgressMessage(ctx context.Context, id, chatID int64, messageID int) error
}

// Progress keeps each broadcast's live progress message up to date: sent, failed, blocked,
// remaining, rate and ETA, with a stop (or resume) button, edited in place. Several replicas
// may run it; ClaimProgress lets one of them draw each time.
type Progress struct {
	s     ProgressStore
	send  Sender
	pacer Pacer
	every time.Duration
	log   *slog.Logger
}

// NewProgress returns a progress drawer that redraws a running broadcast at most every
// `every` (default 3s; a chat takes about one message a second, edits included).
func NewProgress(s ProgressStore, send Sender, pacer Pacer, every time.Duration, log *slog.Logger) *Progress {
	if every < time.Second {
		every = 3 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Progress{s: s, send: send, pacer: pacer, every: every, log: log}
}

// Attach sends broadcast id's progress message to chatID (the staff member who started it)
// and records it, so the loop edits it from then on.
func (p *Progress) Attach(ctx context.Context, id, chatID int64, lang string) error {
	b, err := p.s.GetBroadcast(ctx, id)
	if err != nil {
		return fmt.Errorf("attach progress: %w", err)
	}
	text, buttons := ProgressView(lang, b, 0, time.Since(b.CreatedAt))
	if err := p.waitSlot(ctx, chatID); err != nil {
		return fmt.Errorf("attach progress: %w", err)
	}
	msgID, err := p.send.Send(ctx, Message{ChatID: chatID, Text: text, Buttons: buttons})
	if err != nil {
		return fmt.Errorf("attach progress: send: %w", err)
	}
	if err := p.s.SetBroadcastProgressMessage(ctx, id, chatID, msgID); err != nil {
		return fmt.Errorf("attach progress: %w", err)
	}
	return nil
}

func (p *Progress) waitSlot(ctx context.Context, chatID int64) error {
	for {
		slot, err := p.pacer.Reserve(ctx, chatID, false)
		if err != nil {
			return err
		}
		if err := sleep(ctx, slot.Wait); err != nil {
			return err
		}
		if slot.OK {
			return nil
		}
	}
}

// Run redraws due progress messages until ctx is cancelled; then it returns nil.
func (p *Progress) Run(ctx context.Context) error {
	health := newTracker("broadcast progress", p.log, nil)
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		due, err := p.s.ClaimProgress(ctx, p.every)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			t.Reset(max(health.Fail(err), time.Second))
			continue
		}
		health.OK()
		t.Reset(time.Second)
		for _, d := range due {
			rate := 0.0
			if dt := d.Now.Sub(d.PrevAt).Seconds(); dt > 0 {
				rate = float64(d.Done()-d.PrevDone) / dt
			}
			text, buttons := ProgressView(d.Lang, d.Broadcast, rate, d.Now.Sub(d.CreatedAt))
			if err := p.waitSlot(ctx, d.ProgressChatID); err != nil {
				break
			}
			err := p.send.Edit(ctx, d.ProgressChatID, d.ProgressMessageID, text, buttons)
			if c := Classify(err); err != nil && c.Class != NotModified {
				p.log.Warn("broadcast progress: edit", "broadcast", d.ID, "err", err)
				if c.Class == Flood {
					_ = p.pacer.Pause(ctx, c.RetryAfter)
				}
			}
		}
	}
}

// ProgressView renders a broadcast's progress message. rate is the recent messages/s (0
// unknown: the average since creation is used).
func ProgressView(lang string, b postgres.Broadcast, rate float64, elapsed time.Duration) (string, [][]Button) {
	if rate <= 0 && elapsed > 0 {
		rate = float64(b.Done()) / elapsed.Seconds()
	}
	eta := T(lang, "none")
	if b.State == postgres.BroadcastRunning && rate > 0 {
		eta = formatETA(lang, time.Duration(float64(b.Remaining())/rate*float64(time.Second)))
	}
	text := T(lang, "progress.title", "ID", strconv.FormatInt(b.ID, 10)) + "\n" + T(lang, "progress.body",
		"State", T(lang, "progress.state."+b.State),
		"Sent", strconv.Itoa(b.Sent), "Failed", strconv.Itoa(b.Failed), "Blocked", strconv.Itoa(b.Blocked),
		"Remaining", strconv.Itoa(b.Remaining()), "Total", strconv.Itoa(b.Total),
		"Rate", strconv.FormatFloat(rate, 'f', 1, 64), "ETA", eta)
	var buttons [][]Button
	switch b.State {
	case postgres.BroadcastRunning:
		buttons = [][]Button{{{Text: T(lang, "btn.stop"), Data: staff.EncodeCallback(staff.ActStop, b.ID, 0)}}}
	case postgres.BroadcastStopped:
		buttons = [][]Button{{{Text: T(lang, "btn.resume"), Data: staff.EncodeCallback(staff.ActResume, b.ID, 0)}}}
	}
	return text, buttons
}

func formatETA(lang string, d time.Duration) string {
	if d >= time.Hour {
		return T(lang, "hours", "N", strconv.Itoa(int(d/time.Hour))) + " " + T(lang, "minutes", "N", strconv.Itoa(int(d%time.Hour/time.Minute)))
	}
	if d >= time.Minute {
		return T(lang, "minutes", "N", strconv.Itoa(int((d+30*time.Second)/time.Minute)))
	}
	return "< " + T(lang, "minutes", "N", "1")
}

// RenderStaff draws a staff dialog screen as text and buttons; the callback data carries
// the screen's revision.
func RenderStaff(sc staff.Screen, rev uint32) (string, [][]Button) {
	lang := sc.Lang
	var text string
	switch sc.Kind {
	case staff.ScreenParam:
		text = T(lang, "staff.screen.param."+string(sc.Param))
	case staff.ScreenTextRU, staff.ScreenStarted:
		text = T(lang, "staff.screen."+string(sc.Kind), "Count", strconv.Itoa(sc.Count), "ID", strconv.FormatInt(sc.ID, 10))
	case staff.ScreenConfirm:
		// Two texts of 4096 characters would not fit one message; the preview shows the start.
		text = T(lang, "staff.screen.confirm", "Audience", describeAudience(lang, sc.Audience), "Count", strconv.Itoa(sc.Count),
			"TextRU", orNone(lang, cut(sc.TextRU, 1800)), "TextKK", orNone(lang, cut(sc.TextKK, 1800)))
	default:
		text = T(lang, "staff.screen."+string(sc.Kind))
	}
	if sc.Notice != "" {
		text = T(lang, sc.Notice) + "\n\n" + text
	}
	var rows [][]Button
	for _, row := range sc.Buttons {
		r := make([]Button, 0, len(row))
		for _, b := range row {
			r = append(r, Button{Text: T(lang, b.Label), Data: staff.EncodeCallback(b.Action, b.ID, rev)})
		}
		rows = append(rows, r)
	}
	return text, rows
}

func orNone(lang, s string) string {
	if s == "" {
		return T(lang, "none")
	}
	return s
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// describeAudience names an audience for the staff member, in their language.
func describeAudience(lang string, a audience.Audience) string {
	if a.All() {
		return T(lang, "staff.audience.all")
	}
	var parts []string
	if a.KindergartenID != 0 {
		parts = append(parts, T(lang, "staff.audience.kg", "ID", strconv.FormatInt(a.KindergartenID, 10)))
	}
	if a.Status != "" {
		parts = append(parts, T(lang, "status."+string(a.Status)))
	}
	if from, to := a.Years(); from != 0 {
		y := strconv.Itoa(from)
		if to != from {
			y += "–" + strconv.Itoa(to)
		}
		parts = append(parts, T(lang, "staff.audience.years", "Years", y))
	}
	if len(a.Numbers) > 0 {
		parts = append(parts, T(lang, "staff.audience.numbers", "N", strconv.Itoa(len(a.Numbers))))
	}
	return strings.Join(parts, ", ")
}
