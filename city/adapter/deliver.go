package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// Defaults of the Deliverer.
const (
	DefaultGiveUpNotice = 30 * time.Minute // KEZEKBOT_CITY_GIVE_UP_NOTICE
	DefaultLease        = 2 * time.Minute
	DefaultSendTimeout  = 30 * time.Second
	DefaultPoll         = time.Second
	DefaultBackoffBase  = 2 * time.Second
	DefaultBackoffMax   = 5 * time.Minute
)

// Revoker sends a revocation to the city (*city.Client implements it).
type Revoker interface {
	Revoke(ctx context.Context, req city.RevokeRequest) (city.RevokeAccepted, error)
}

// Commands is the command queue (*postgres.DB implements it).
type Commands interface {
	ClaimCommands(ctx context.Context, owner string, n int, lease time.Duration) ([]postgres.CityCommand, error)
	RetryCommand(ctx context.Context, id int64, owner string, at time.Time, why string) (bool, error)
	AcceptCommand(ctx context.Context, id int64, owner string, answer []byte, p postgres.ReferralRevokedPayload) (bool, error)
	RefuseCommand(ctx context.Context, id int64, owner, code string) (bool, error)
	LateCommands(ctx context.Context, age time.Duration) ([]postgres.CityCommand, error)
	MarkLateTold(ctx context.Context, id int64) (bool, error)
	OpenCommands(ctx context.Context, limit int) (postgres.CommandQueue, error)
}

// Snapshots takes the application snapshot of an accepted revocation into the mirror.
type Snapshots interface {
	UpsertSnapshot(ctx context.Context, a city.Application, syncedAt time.Time) (bool, error)
}

// Resumer hands an event to a chat's dialog (the bot's intake; the same one the signer-link
// reports signatures through).
type Resumer interface {
	Inject(ctx context.Context, chatID int64, ev flows.Event) error
}

// DeliverMetrics is told what became of each attempt (*metrics.Metrics implements it).
type DeliverMetrics interface {
	CityCommand(result string)
	CommandQueue(depth int, oldest time.Duration)
}

// Deliverer sends the queued revocations to the city. Every replica may run one: a command is
// claimed under a lease with FOR UPDATE SKIP LOCKED, so two replicas never send one command at
// once, and a replica killed mid-delivery leaves a lease that runs out, after which another
// sends the command again with the same idempotency key — the city answers a repeated key
// with its first answer, so the city revokes once.
type Deliverer struct {
	Commands  Commands
	City      Revoker
	Snapshots Snapshots
	Resumer   Resumer
	// Owner names this replica in leases (KEZEKBOT_WORKER_NAME).
	Owner string

	GiveUpNotice time.Duration
	Lease        time.Duration
	SendTimeout  time.Duration
	Poll         time.Duration
	BackoffBase  time.Duration
	BackoffMax   time.Duration
	Batch        int

	Metrics DeliverMetrics
	Log     *slog.Logger
	Now     func() time.Time
	// Jitter returns a random duration in [0, d); nil means math/rand/v2.
	Jitter func(d time.Duration) time.Duration

	wakeOnce sync.Once
	wake     chan struct{}
}

// Wake makes the Deliverer look for commands now instead of at its next poll.
func (d *Deliverer) Wake() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// init makes the wake channel once: Wake is called from request goroutines, possibly before
// Run starts.
func (d *Deliverer) init() {
	d.wakeOnce.Do(func() { d.wake = make(chan struct{}, 1) })
}

func (d *Deliverer) defaults() {
	d.init()
	if d.GiveUpNotice <= 0 {
		d.GiveUpNotice = DefaultGiveUpNotice
	}
	if d.Lease <= 0 {
		d.Lease = DefaultLease
	}
	if d.SendTimeout <= 0 {
		d.SendTimeout = DefaultSendTimeout
	}
	// A send must end well inside its lease, or a second replica could claim a command whose
	// first send is still in flight.
	d.SendTimeout = min(d.SendTimeout, d.Lease/2)
	if d.Poll <= 0 {
		d.Poll = DefaultPoll
	}
	if d.BackoffBase <= 0 {
		d.BackoffBase = DefaultBackoffBase
	}
	if d.BackoffMax <= 0 {
		d.BackoffMax = DefaultBackoffMax
	}
	if d.Batch <= 0 {
		d.Batch = 8
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Owner == "" {
		d.Owner = "kezekbot"
	}
}

// Run delivers until ctx is done. Store errors are logged and retried at the next poll.
func (d *Deliverer) Run(ctx context.Context) error {
	d.defaults()
	t := time.NewTicker(d.Poll)
	defer t.Stop()
	for {
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.Log.Warn("city commands: a round failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.wake:
		}
	}
}

// RunOnce tells the parents of late commands, then claims and sends one batch; it returns how
// many commands it attempted.
func (d *Deliverer) RunOnce(ctx context.Context) (int, error) {
	d.defaults()
	if d.Metrics != nil {
		if q, err := d.Commands.OpenCommands(ctx, 0); err == nil {
			var age time.Duration
			if q.Depth > 0 {
				age = d.Now().Sub(q.Oldest)
			}
			d.Metrics.CommandQueue(q.Depth, age)
		}
	}
	lateErr := d.tellLate(ctx)
	cmds, err := d.Commands.ClaimCommands(ctx, d.Owner, d.Batch, d.Lease)
	if err != nil {
		return 0, errors.Join(lateErr, err)
	}
	for _, c := range cmds {
		if ctx.Err() != nil {
			break
		}
		d.deliver(ctx, c)
	}
	return len(cmds), lateErr
}

func (d *Deliverer) metric(result string) {
	if d.Metrics != nil {
		d.Metrics.CityCommand(result)
	}
}

// deliver sends one claimed command and records what the city said.
func (d *Deliverer) deliver(ctx context.Context, c postgres.CityCommand) {
	log := d.Log.With("command", c.ID, "attempt", c.Attempts)
	req := city.RevokeRequest{
		IdempotencyKey: c.IdempotencyKey,
		ApplicantIIN:   c.ApplicantIIN,
		ApplicationID:  c.ApplicationID,
		ReferralID:     c.ReferralID,
		Reason:         c.Reason,
		SignedXML:      string(c.SignedXML),
		SignedAt:       c.SignedAt,
		CertSerial:     c.CertSerial,
		CertIssuer:     c.CertIssuer,
	}
	sctx, cancel := context.WithTimeout(ctx, d.SendTimeout)
	acc, err := d.City.Revoke(sctx, req)
	cancel()
	if err == nil {
		err = checkAccepted(acc, c)
	}
	// Recording goes on after a shutdown began: the city has answered, and dropping the
	// answer would only make another replica ask again.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	switch p, isProblem := errors.AsType[*city.Problem](err); {
	case err == nil:
		d.accepted(rctx, log, c, acc)
	case isProblem && slices.Contains(city.RefusalCodes, p.Code):
		d.refused(rctx, log, c, p.Code)
	case ctx.Err() != nil:
		// Shutting down: hand the command back at once, for this or another replica.
		if _, rerr := d.Commands.RetryCommand(rctx, c.ID, d.Owner, d.Now(), "interrupted by shutdown"); rerr != nil {
			log.Warn("city commands: hand back", "err", rerr)
		}
	default:
		d.retry(rctx, log, c, err)
	}
}

// checkAccepted checks an accepted answer as outside input: the application it carries must be
// the one revoked, valid, and the applicant's.
func checkAccepted(acc city.RevokeAccepted, c postgres.CityCommand) error {
	d, err := acc.Application.Detail()
	switch {
	case err != nil:
		return &city.ContractError{Endpoint: "revocations", Err: err}
	case d.ID != c.ApplicationID:
		return &city.ContractError{Endpoint: "revocations", Err: errors.New("the answer names another application")}
	case !d.VisibleTo(c.ApplicantIIN):
		return &city.ContractError{Endpoint: "revocations", Err: errors.New("the answer's application is not the applicant's")}
	}
	return nil
}

func (d *Deliverer) accepted(ctx context.Context, log *slog.Logger, c postgres.CityCommand, acc city.RevokeAccepted) {
	now := d.Now()
	// The snapshot first: it is idempotent (an older revision never overwrites a newer one),
	// so a crash between it and the command's close costs nothing but a repeated send, which
	// the idempotency key answers the same.
	if _, err := d.Snapshots.UpsertSnapshot(ctx, acc.Application, now); err != nil {
		log.Warn("city commands: mirror the accepted answer", "err", err)
	}
	detail, _ := acc.Application.Detail()
	app := detail.Application
	app.Status, app.QueueNumber, app.BenefitQueueNumber = kezekbot.Status(acc.Status), acc.QueueNumber, acc.BenefitQueueNumber
	if !app.Status.Valid() {
		app.Status = detail.Status
	}
	ref := kezekbot.Referral{ID: c.ReferralID, ApplicationID: c.ApplicationID, Kindergarten: kezekbot.Kindergarten{Name: c.Kindergarten}, State: kezekbot.ReferralRevoked}
	for _, r := range detail.Referrals {
		if r.ID == c.ReferralID {
			ref = r
		}
	}
	answer, _ := json.Marshal(acc)
	ok, err := d.Commands.AcceptCommand(ctx, c.ID, d.Owner, answer, postgres.ReferralRevokedPayload{
		ApplicationID: app.ID, ApplicationNumber: app.Number, ReferralID: ref.ID, Kindergarten: ref.Kindergarten.Name,
		Status: app.Status, QueueNumber: app.QueueNumber, BenefitQueueNumber: app.BenefitQueueNumber, RevokedAt: now,
	})
	if err != nil {
		log.Warn("city commands: record accepted", "err", err)
		return
	}
	if !ok {
		log.Info("city commands: lease lost before recording; the holder records it")
		return
	}
	d.metric("accepted")
	log.Info("city commands: revocation accepted")
	d.tell(ctx, c, flows.RevokeDecided{Nonce: c.Nonce, Accepted: true, Result: kezekbot.RevokeResult{Application: app, Referral: ref}})
}

func (d *Deliverer) refused(ctx context.Context, log *slog.Logger, c postgres.CityCommand, code string) {
	ok, err := d.Commands.RefuseCommand(ctx, c.ID, d.Owner, code)
	if err != nil {
		log.Warn("city commands: record refusal", "err", err)
		return
	}
	if !ok {
		return
	}
	d.metric("refused")
	log.Info("city commands: revocation refused", "code", code)
	d.tell(ctx, c, flows.RevokeDecided{Nonce: c.Nonce, Code: code, Result: requested(c)})
}

// requested is the result naming what the command asked about, for answers without a snapshot.
func requested(c postgres.CityCommand) kezekbot.RevokeResult {
	return kezekbot.RevokeResult{
		Application: kezekbot.Application{ID: c.ApplicationID, Number: c.ApplicationNumber, ApplicantIIN: c.ApplicantIIN},
		Referral:    kezekbot.Referral{ID: c.ReferralID, ApplicationID: c.ApplicationID, Kindergarten: kezekbot.Kindergarten{Name: c.Kindergarten}},
	}
}

// retry hands the command back with an exponential backoff with full jitter, never sooner than
// the city's Retry-After.
func (d *Deliverer) retry(ctx context.Context, log *slog.Logger, c postgres.CityCommand, err error) {
	result := "error"
	var wait time.Duration
	if u, ok := errors.AsType[*city.Unavailable](err); ok {
		result, wait = "unavailable", u.RetryAfter
	} else if _, ok := errors.AsType[*city.ContractError](err); ok {
		result = "contract_error"
	} else if p, ok := errors.AsType[*city.Problem](err); ok {
		// A code outside the closed list breaks the contract.
		result, err = "contract_error", &city.ContractError{Endpoint: "revocations", Err: fmt.Errorf("unknown refusal code %q", p.Code)}
	}
	d.metric(result)
	wait = max(wait, d.Backoff(c.Attempts))
	log.Warn("city commands: no answer, will retry", "result", result, "in", wait, "err", err)
	if _, rerr := d.Commands.RetryCommand(ctx, c.ID, d.Owner, d.Now().Add(wait), err.Error()); rerr != nil {
		log.Warn("city commands: hand back", "err", rerr)
	}
}

// Backoff is the wait before attempt n+1: BackoffBase·2^(n-1) capped at BackoffMax, with
// jitter between half and all of it (so that replicas and commands spread out, and a wait is
// never near zero).
func (d *Deliverer) Backoff(attempts int) time.Duration {
	d.defaults()
	w := d.BackoffBase
	for i := 1; i < attempts && w < d.BackoffMax; i++ {
		w *= 2
	}
	w = min(w, d.BackoffMax)
	half := w / 2
	j := d.Jitter
	if j == nil {
		j = func(n time.Duration) time.Duration {
			if n <= 0 {
				return 0
			}
			return rand.N(n)
		}
	}
	return half + j(w-half+1)
}

// tellLate tells the parents of commands the city has not answered for GiveUpNotice, once.
// The commands stay queued.
func (d *Deliverer) tellLate(ctx context.Context) error {
	late, err := d.Commands.LateCommands(ctx, d.GiveUpNotice)
	if err != nil {
		return err
	}
	for _, c := range late {
		ok, err := d.Commands.MarkLateTold(ctx, c.ID)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		d.metric("late")
		d.Log.Warn("city commands: the city has not answered a revocation for long", "command", c.ID, "age", d.Now().Sub(c.CreatedAt).Round(time.Second), "last_error", c.LastError)
		d.tell(ctx, c, flows.RevokeDecided{Nonce: c.Nonce, Delayed: true, Result: requested(c)})
	}
	return nil
}

func (d *Deliverer) tell(ctx context.Context, c postgres.CityCommand, ev flows.RevokeDecided) {
	if d.Resumer == nil {
		return
	}
	if err := d.Resumer.Inject(ctx, c.ChatID, ev); err != nil {
		// The answer is recorded; the card shows it. Only the in-place message is lost.
		d.Log.Warn("city commands: tell the chat", "command", c.ID, "err", err)
	}
}
