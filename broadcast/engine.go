// Package broadcast delivers messages to parents: event notifications (a referral issued, the
// revocation window closing, a status or queue change) and staff broadcasts, paced to
// Telegram's limits across replicas, resumable after a crash, each message sent once.
//
// The state lives in PostgreSQL (store/postgres): a broadcast row and one delivery row per
// recipient, a notification row per event and chat. An Engine claims batches of rows with
// FOR UPDATE SKIP LOCKED, leases them to its owner name, sends them through a Pacer (Redis,
// shared by every replica) and records outcomes in batches. What a crash can duplicate is
// only what was sent and not yet recorded; see Engine.
package broadcast

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kezekbot/kezekbot/internal/outage"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// Queue is the delivery state the engine works on; *postgres.DB implements it.
type Queue interface {
	ClaimJobs(ctx context.Context, owner string, n int, lease time.Duration, running []int64) ([]postgres.Job, error)
	RecordJobs(ctx context.Context, owner string, rs []postgres.JobResult) error
	ExtendLeases(ctx context.Context, owner string, lease time.Duration) error
	ReleaseLeases(ctx context.Context, owner string) (int64, error)
	ReapLeases(ctx context.Context) (int64, error)
	RunningBroadcasts(ctx context.Context) ([]int64, error)
	GetBroadcastMessage(ctx context.Context, id int64) (postgres.BroadcastMessage, error)
}

// Metrics receives one call per recorded delivery outcome; metrics.Recorder fits.
type Metrics interface {
	Delivery(state string)
}

// Config tunes an Engine. Zero values take the defaults.
type Config struct {
	// Owner names this worker in lease columns. Give each replica a stable name (the pod or
	// host name): on start the engine takes back at once what the same name held before a
	// crash, instead of waiting for the lease to expire. Required.
	Owner string
	// Senders is how many sends may be in flight; default rate/10 clamped to 4..128, enough to
	// keep the rate with ~100ms round trips to Telegram.
	Senders int
	// Rate is the global rate the pacer was built with, used only to size defaults.
	Rate float64
	// Lease is how long a claimed row stays ours without a heartbeat; default 60s.
	Lease time.Duration
	// MaxAttempts caps sends of one row after transient errors; default 5.
	MaxAttempts int
	// BackoffBase and BackoffMax bound the retry delay after a transient error (doubling with
	// jitter); defaults 2s and 5m.
	BackoffBase, BackoffMax time.Duration
	// Poll is how often an idle engine looks for new rows; default 250ms. Kick wakes it early.
	Poll time.Duration
	// Log receives operational events. Never message texts, chat ids with names, or tokens.
	Log     *slog.Logger
	Metrics Metrics
	// OnRecord, if set, is called after each batch of outcomes is written (tests wait on it).
	OnRecord func(batch []postgres.JobResult)
}

func (c Config) withDefaults() Config {
	if c.Rate <= 0 {
		c.Rate = 30
	}
	if c.Senders <= 0 {
		c.Senders = min(max(int(c.Rate/10), 4), 128)
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 2 * time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 5 * time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = 250 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Engine sends claimed jobs. Run it on every replica; they share the work through row locks
// and the rate through the Pacer.
//
// Delivery is at least once. Every outcome is written before the engine forgets a job, and a
// graceful stop (ctx cancelled) finishes the sends in flight and records them, so a clean
// restart duplicates nothing. After a kill, the rows the dead engine held go back to pending;
// those among them that were already sent (in flight, or sent and waiting in the result
// batch, which is written as soon as the previous write returns) are sent again. That window
// is at most Senders plus one result batch; the crash test measures it.
type Engine struct {
	claimHealth, houseHealth *outage.Tracker
	q                        Queue
	send                     Sender
	pacer                    Pacer
	cfg                      Config
	kick                     chan struct{}
	pausedUntil              atomic.Int64 // unix nanos; a local 429 stops this replica's sends at once
	late                     atomic.Int64 // slots given up because the sender woke too late

	mu       sync.Mutex
	running  map[int64]bool
	messages map[int64]postgres.BroadcastMessage
}

// New returns an engine. It does nothing until Run.
func New(q Queue, s Sender, p Pacer, cfg Config) (*Engine, error) {
	if cfg.Owner == "" {
		return nil, errors.New("broadcast engine: owner name is required")
	}
	cfg = cfg.withDefaults()
	return &Engine{
		q: q, send: s, pacer: p, cfg: cfg,
		kick:        make(chan struct{}, 1),
		running:     map[int64]bool{},
		messages:    map[int64]postgres.BroadcastMessage{},
		claimHealth: newTracker("broadcast claim", cfg.Log, cfg.Metrics),
		houseHealth: newTracker("broadcast leases", cfg.Log, cfg.Metrics),
	}, nil
}

// loopMetrics is optionally implemented by Metrics (metrics.Metrics does): whether a
// background loop's dependency is down.
type loopMetrics interface {
	LoopDown(loop string, down bool)
}

// newTracker returns the outage tracker of one background loop, reporting to m when it can.
func newTracker(loop string, log *slog.Logger, m any) *outage.Tracker {
	o := outage.Options{}
	if lm, ok := m.(loopMetrics); ok {
		o.OnChange = lm.LoopDown
	}
	return outage.New(loop, log, o)
}

// Kick wakes the claimer now, e.g. after enqueueing a notification in this process.
func (e *Engine) Kick() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Run sends until ctx is cancelled, then finishes what is in flight, records it, puts back
// what it claimed but did not send, and returns nil. It returns an error only if it cannot
// start.
func (e *Engine) Run(ctx context.Context) error {
	n, err := e.q.ReleaseLeases(ctx, e.cfg.Owner)
	if err != nil {
		return fmt.Errorf("broadcast engine: take back leases: %w", err)
	}
	if n > 0 {
		e.cfg.Log.Warn("broadcast: taking back rows held before a restart; those already sent will be sent again", "rows", n)
	}

	// Two queues so that a notification claimed behind a batch of broadcast jobs still goes
	// next. Each holds about a second of sends: a claim (a commit) must finish before the
	// other half drains, and a commit on a busy server takes hundreds of milliseconds. What
	// sits here is leased; a kill only delays it (the restart takes it back), never loses it.
	depth := min(max(e.cfg.Senders, int(e.cfg.Rate), 64), 4096)
	prio := make(chan postgres.Job, depth)
	bulk := make(chan postgres.Job, depth)
	results := make(chan postgres.JobResult, 2*depth)

	var senders, background sync.WaitGroup
	claimDone := make(chan struct{})
	go func() {
		defer close(claimDone)
		defer close(prio)
		defer close(bulk)
		e.claimLoop(ctx, prio, bulk, depth)
	}()
	for range e.cfg.Senders {
		senders.Go(func() { e.sendLoop(ctx, prio, bulk, results) })
	}
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		e.recordLoop(results)
	}()
	background.Go(func() { e.housekeeping(ctx) })

	<-claimDone
	senders.Wait()
	close(results)
	<-recorded
	background.Wait()
	// Whatever is still leased to us was claimed and never sent.
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := e.q.ReleaseLeases(stop, e.cfg.Owner); err != nil {
		e.cfg.Log.Error("broadcast: release leases at shutdown", "err", err)
	}
	return nil
}

func (e *Engine) claimLoop(ctx context.Context, prio, bulk chan<- postgres.Job, depth int) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var running []int64
	var runningAt time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-e.kick:
		}
		// Claim in batches of at least half a queue, and only what fits: claimed rows should
		// not sit long, and tiny claims would cost a query per message.
		free := min(depth-len(prio), depth-len(bulk))
		if free < (depth+1)/2 {
			timer.Reset(5 * time.Millisecond)
			continue
		}
		var err error
		if time.Since(runningAt) > 500*time.Millisecond {
			if running, err = e.q.RunningBroadcasts(ctx); err == nil {
				runningAt = time.Now()
				e.setRunning(running)
			}
		}
		var jobs []postgres.Job
		if err == nil {
			jobs, err = e.q.ClaimJobs(ctx, e.cfg.Owner, free, e.cfg.Lease, running)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			timer.Reset(e.claimHealth.Fail(err))
			continue
		}
		e.claimHealth.OK()
		for _, j := range jobs {
			ch := bulk
			if j.Notification > 0 {
				ch = prio
			}
			select {
			case ch <- j:
			case <-ctx.Done():
				return // the rest stay leased and are released at shutdown
			}
		}
		if len(jobs) > 0 {
			timer.Reset(5 * time.Millisecond) // there may be more
			continue
		}
		runningAt = time.Time{} // idle: look for new broadcasts next time
		timer.Reset(e.cfg.Poll)
	}
}

func (e *Engine) setRunning(ids []int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.running)
	for _, id := range ids {
		e.running[id] = true
	}
	for id := range e.messages {
		if !e.running[id] {
			delete(e.messages, id)
		}
	}
}

func (e *Engine) isRunning(id int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.running[id]
}

func (e *Engine) message(ctx context.Context, id int64) (postgres.BroadcastMessage, error) {
	e.mu.Lock()
	m, ok := e.messages[id]
	e.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := e.q.GetBroadcastMessage(ctx, id)
	if err != nil {
		return m, err
	}
	e.mu.Lock()
	e.messages[id] = m
	e.mu.Unlock()
	return m, nil
}

func (e *Engine) sendLoop(ctx context.Context, prio, bulk <-chan postgres.Job, results chan<- postgres.JobResult) {
	for prio != nil || bulk != nil {
		var j postgres.Job
		var ok bool
		// Notifications first, whenever one is waiting.
		select {
		case j, ok = <-prio:
			if !ok {
				prio = nil
			}
		default:
			select {
			case j, ok = <-prio:
				if !ok {
					prio = nil
				}
			case j, ok = <-bulk:
				if !ok {
					bulk = nil
				}
			}
		}
		if !ok {
			continue
		}
		if ctx.Err() != nil {
			results <- release(j)
			continue
		}
		results <- e.deliver(ctx, j)
	}
}

func release(j postgres.Job) postgres.JobResult {
	return postgres.JobResult{Notification: j.Notification, Broadcast: j.Broadcast, ChatID: j.ChatID, Outcome: postgres.OutcomeRelease}
}

// deliver sends one job and says what became of it. It returns OutcomeRelease only when the
// message was certainly not sent.
func (e *Engine) deliver(ctx context.Context, j postgres.Job) postgres.JobResult {
	res := release(j)
	if j.Unreachable {
		res.Outcome, res.Reason, res.Error = postgres.OutcomeBlocked, "", "chat marked unreachable"
		return res
	}
	m := Message{ChatID: j.ChatID}
	if j.Notification > 0 {
		m.Text = j.Text
		if len(j.Buttons) > 0 {
			if err := json.Unmarshal(j.Buttons, &m.Buttons); err != nil {
				res.Outcome, res.Error = postgres.OutcomeFailed, "bad buttons"
				return res
			}
		}
	} else {
		if !e.isRunning(j.Broadcast) {
			return res // stopped meanwhile
		}
		bm, err := e.message(ctx, j.Broadcast)
		if err != nil {
			return e.retry(j, res, err)
		}
		m.Text, m.Paid = pickText(j.Lang, bm.TextKK, bm.TextRU), bm.Paid
	}
	for floods := 0; ; floods++ {
		if err := e.wait(ctx, j.ChatID, m.Paid); err != nil {
			return res // shutting down before the send: not sent
		}
		// The send outlives ctx: a message half-sent at shutdown must have its outcome
		// recorded, or the restart would send it again.
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		id, err := e.send.Send(sendCtx, m)
		cancel()
		if err == nil {
			res.Outcome, res.MessageID = postgres.OutcomeSent, id
			return res
		}
		c := Classify(err)
		switch c.Class {
		case Flood:
			e.floodPause(ctx, c.RetryAfter)
			if floods < 20 {
				continue
			}
			return res // a chat that keeps flooding goes back to the queue
		case Unreachable:
			res.Outcome, res.Reason, res.Error = postgres.OutcomeBlocked, c.Reason, describe(err)
			return res
		case Permanent:
			res.Outcome, res.Error = postgres.OutcomeFailed, describe(err)
			return res
		case Fatal:
			e.cfg.Log.Error("broadcast: the Bot API refuses the bot; pausing", "err", err)
			e.floodPause(ctx, 30*time.Second)
			return res
		default:
			return e.retry(j, res, err)
		}
	}
}

// retry turns a transient error into a later retry, or a failure once attempts run out.
func (e *Engine) retry(j postgres.Job, res postgres.JobResult, err error) postgres.JobResult {
	res.Error = describe(err)
	if j.Attempts >= e.cfg.MaxAttempts {
		res.Outcome = postgres.OutcomeFailed
		return res
	}
	d := min(e.cfg.BackoffBase<<(j.Attempts-1), e.cfg.BackoffMax)
	d = d/2 + rand.N(d/2+1) // jitter: replicas retrying one outage do not return in step
	res.Outcome, res.RetryAt = postgres.OutcomeRetry, time.Now().Add(d)
	return res
}

func pickText(lang, kk, ru string) string {
	if lang == "kk" {
		return cmp.Or(kk, ru)
	}
	return cmp.Or(ru, kk)
}

// floodPause pauses this replica at once and every replica through the pacer.
func (e *Engine) floodPause(ctx context.Context, d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := e.pausedUntil.Load()
		if cur >= until || e.pausedUntil.CompareAndSwap(cur, until) {
			break
		}
	}
	if err := e.pacer.Pause(ctx, d); err != nil && ctx.Err() == nil {
		e.cfg.Log.Error("broadcast: shared pause", "err", err)
	}
	e.cfg.Log.Warn("broadcast: 429 from the Bot API, pausing all senders", "retry_after", d)
}

// lateSlot is how late after its slot a sender may still send. Measured at 1000/s on a shared
// two-core box: 2ms threw away 2–3% of the slots, 4ms about 0.5% and still no second held
// more than the limit; beyond that, late messages bunch up at the start of a second.
const lateSlot = 4 * time.Millisecond

// LateSlots returns how many booked slots were given up because the sender woke more than
// lateSlot (4ms) after them; a high number means the process is starved of CPU.
func (e *Engine) LateSlots() int64 { return e.late.Load() }

// wait blocks until the pacer grants a slot for chatID and it arrives.
func (e *Engine) wait(ctx context.Context, chatID int64, paid bool) error {
	for {
		if d := time.Until(time.Unix(0, e.pausedUntil.Load())); d > 0 {
			if err := sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		slot, err := e.pacer.Reserve(ctx, chatID, paid)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// No pacer, no sending: Redis down must not turn into a flood.
			e.cfg.Log.Error("broadcast: pacer", "err", err)
			slot = Slot{Wait: time.Second}
		}
		if slot.OK && slot.Wait < time.Millisecond && time.Now().UnixNano() >= e.pausedUntil.Load() {
			// Sending this early is no worse than the lateness allowed below, and a timer this
			// short would wake late on a busy machine and throw the slot away.
			return nil
		}
		at := time.Now().Add(slot.Wait)
		if err := sleep(ctx, slot.Wait); err != nil {
			if slot.OK {
				e.cancelSlot(chatID, slot)
			}
			return err
		}
		if !slot.OK {
			continue
		}
		// A sender that wakes well after its slot (a GC pause, a busy CPU) must not send:
		// it would land right before the next slot's message and two would arrive in one
		// interval. The slot is given up, which can only lower the rate, and the chat's part
		// of it is given back, or the retry would wait a second for that chat.
		if time.Now().UnixNano() < e.pausedUntil.Load() || time.Since(at) > lateSlot {
			if time.Since(at) > lateSlot {
				e.late.Add(1)
			}
			e.cancelSlot(chatID, slot)
			continue
		}
		return nil
	}
}

func (e *Engine) cancelSlot(chatID int64, slot Slot) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.pacer.Cancel(ctx, chatID, slot); err != nil {
		e.cfg.Log.Warn("broadcast: give back a slot", "err", err)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recordLoop writes results as fast as the database takes them: one write per batch of
// whatever arrived while the previous write ran (group commit). It never drops a result: a
// failed write is retried until it succeeds or, after shutdown, for a bounded time.
func (e *Engine) recordLoop(results <-chan postgres.JobResult) {
	const maxBatch = 1000
	batch := make([]postgres.JobResult, 0, maxBatch)
	for r := range results {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		e.write(batch)
	}
}

func (e *Engine) write(batch []postgres.JobResult) {
	backoff := 50 * time.Millisecond
	deadline := time.Now().Add(2 * e.cfg.Lease)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := e.q.RecordJobs(ctx, e.cfg.Owner, batch)
		cancel()
		if err == nil {
			if e.cfg.OnRecord != nil {
				e.cfg.OnRecord(batch)
			}
			if e.cfg.Metrics != nil {
				for _, r := range batch {
					if r.Outcome != postgres.OutcomeRelease {
						e.cfg.Metrics.Delivery(outcomeName(r.Outcome))
					}
				}
			}
			return
		}
		if time.Now().After(deadline) {
			// The rows stay leased; the reaper returns them to pending, so nothing is lost,
			// though what was sent among them will be sent again.
			e.cfg.Log.Error("broadcast: giving up recording results", "n", len(batch), "err", err)
			return
		}
		e.cfg.Log.Error("broadcast: record results", "n", len(batch), "err", err)
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}

func outcomeName(o postgres.Outcome) string {
	switch o {
	case postgres.OutcomeSent:
		return "sent"
	case postgres.OutcomeFailed:
		return "failed"
	case postgres.OutcomeBlocked:
		return "blocked"
	case postgres.OutcomeRetry:
		return "retry"
	}
	return "released"
}

// housekeeping renews our leases and reaps those of dead workers.
func (e *Engine) housekeeping(ctx context.Context) {
	t := time.NewTicker(e.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Leases are renewed on a fixed beat whatever happens: backing off here would let our
		// own leases lapse. Only the logging is kept quiet while the database is away.
		err := e.q.ExtendLeases(ctx, e.cfg.Owner, e.cfg.Lease)
		var n int64
		if err == nil {
			n, err = e.q.ReapLeases(ctx)
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			e.houseHealth.Fail(err)
			continue
		}
		e.houseHealth.OK()
		if n > 0 {
			e.cfg.Log.Warn("broadcast: took back rows of a worker that stopped renewing its lease", "rows", n)
		}
	}
}
