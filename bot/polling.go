package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// PollerOptions configure a Poller. Zero values take the defaults.
type PollerOptions struct {
	// Timeout is the getUpdates long-poll timeout; default 50s.
	Timeout time.Duration
	// Limit is the most updates per batch (1–100); default 100.
	Limit int
	// AllowedUpdates narrows what Telegram sends; nil keeps the previous setting.
	AllowedUpdates []string
	// Offset is the first update_id to ask for (resume); 0 means whatever Telegram has.
	Offset int64
	// Backoff after a failed getUpdates doubles from Backoff up to MaxBackoff; defaults 500ms, 30s.
	Backoff    time.Duration
	MaxBackoff time.Duration
	Log        *slog.Logger
}

// Poller receives updates with getUpdates. Unlike go-telegram/bot's loop it confirms a batch
// (the next offset) only after every update in it is handled, so a crash redelivers instead of
// losing them; Redis dedupe absorbs the repeats.
type Poller struct {
	s  *Sender
	in Handler
	o  PollerOptions
	// sleep waits d or until ctx is done; replaced in tests.
	sleep  func(ctx context.Context, d time.Duration) error
	log    *slog.Logger
	mu     sync.Mutex
	offset int64
	// afterBatch, when set (tests), is called after each batch is handled.
	afterBatch func()
}

// NewPoller returns a Poller that hands updates to in.
func NewPoller(s *Sender, in Handler, o PollerOptions) *Poller {
	if o.Timeout <= 0 {
		o.Timeout = 50 * time.Second
	}
	if o.Limit <= 0 || o.Limit > 100 {
		o.Limit = 100
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	return &Poller{s: s, in: in, o: o, sleep: sleepCtx, log: log, offset: o.Offset}
}

// Offset is the next update_id the Poller will ask for: everything before it is handled.
func (p *Poller) Offset() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.offset
}

// Run polls until ctx is done, then returns nil once the batch in hand is handled.
func (p *Poller) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		if ctx.Err() != nil {
			return nil
		}
		upds, err := p.s.GetUpdates(ctx, p.Offset(), p.o.Limit, p.o.Timeout, p.o.AllowedUpdates)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			backoff = p.next(backoff)
			wait := backoff
			var tm *tgbot.TooManyRequestsError
			switch {
			case errors.As(err, &tm):
				wait = max(wait, time.Duration(tm.RetryAfter)*time.Second)
				p.log.Warn("getUpdates: too many requests", "retry_after", tm.RetryAfter)
			case errors.Is(err, tgbot.ErrorConflict):
				// Another instance is polling with this token, or a webhook is set; both take
				// the updates from us, so say so loudly.
				p.log.Error("getUpdates conflict: another instance is polling this bot, or a webhook is set (deleteWebhook, or run in webhook mode)", "err", err, "wait", wait)
			case errors.Is(err, tgbot.ErrorUnauthorized) || errors.Is(err, tgbot.ErrorNotFound):
				p.log.Error("getUpdates: the bot token is not accepted", "err", err, "wait", wait)
			default:
				p.log.Warn("getUpdates failed", "err", err, "wait", wait)
			}
			if p.sleep(ctx, wait) != nil {
				return nil
			}
			continue
		}
		backoff = 0
		if len(upds) == 0 {
			continue
		}
		err = p.handle(ctx, upds)
		if p.afterBatch != nil {
			p.afterBatch()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Keep the offset: the failed updates come again with the next poll.
			backoff = p.next(backoff)
			p.log.Warn("batch not fully handled, polling it again", "err", err, "wait", backoff)
			if p.sleep(ctx, backoff) != nil {
				return nil
			}
		}
	}
}

func (p *Poller) next(d time.Duration) time.Duration {
	if d == 0 {
		return p.o.Backoff
	}
	return min(d*2, p.o.MaxBackoff)
}

// handle runs a batch through the Intake and advances the offset past the longest handled
// prefix. Chats run in parallel; one chat's updates run one after another in batch order (a
// goroutine per update could reach the chat's lane out of order).
func (p *Poller) handle(ctx context.Context, upds []models.Update) error {
	errs := make([]error, len(upds))
	byChat := make(map[int64][]int, len(upds))
	var order []int64
	for i := range upds {
		c := chatOf(&upds[i])
		if _, ok := byChat[c]; !ok {
			order = append(order, c)
		}
		byChat[c] = append(byChat[c], i)
	}
	var wg sync.WaitGroup
	for _, c := range order {
		idx := byChat[c]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range idx {
				errs[i] = p.in.Handle(ctx, &upds[i])
			}
		}()
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, u := range upds {
		if errs[i] != nil {
			return fmt.Errorf("update %d: %w", u.ID, errs[i])
		}
		if u.ID >= p.offset {
			p.offset = u.ID + 1
		}
	}
	return nil
}

// chatOf returns the chat an update belongs to, 0 if none.
func chatOf(u *models.Update) int64 {
	switch {
	case u.Message != nil:
		return u.Message.Chat.ID
	case u.EditedMessage != nil:
		return u.EditedMessage.Chat.ID
	case u.CallbackQuery != nil:
		if m := u.CallbackQuery.Message.Message; m != nil {
			return m.Chat.ID
		}
		if m := u.CallbackQuery.Message.InaccessibleMessage; m != nil {
			return m.Chat.ID
		}
	case u.MyChatMember != nil:
		return u.MyChatMember.Chat.ID
	case u.ChannelPost != nil:
		return u.ChannelPost.Chat.ID
	}
	return 0
}
