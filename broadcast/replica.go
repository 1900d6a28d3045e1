package broadcast

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows/staff"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// Replica is what one bot replica runs for notifications and broadcasts: the delivery
// engine, the outbox notifier and the progress drawer, over one store, sender and pacer.
type Replica struct {
	Engine   *Engine
	Notifier *Notifier
	Progress *Progress
	db       *postgres.DB
}

// NewReplica wires the three together: the notifier and the admin actions wake the engine.
func NewReplica(db *postgres.DB, send Sender, pacer Pacer, cfg Config, ncfg NotifyConfig) (*Replica, error) {
	e, err := New(db, send, pacer, cfg)
	if err != nil {
		return nil, err
	}
	if ncfg.Enqueued == nil {
		ncfg.Enqueued = e.Kick
	}
	if ncfg.Log == nil {
		ncfg.Log = cfg.Log
	}
	if ncfg.Metrics == nil {
		ncfg.Metrics = cfg.Metrics
	}
	return &Replica{
		Engine:   e,
		Notifier: NewNotifier(db, ncfg),
		Progress: NewProgress(db, send, pacer, 0, cfg.Log),
		db:       db,
	}, nil
}

// Workers returns the replica's background jobs; each returns nil when ctx ends.
func (r *Replica) Workers() []func(context.Context) error {
	return []func(context.Context) error{r.Engine.Run, r.Notifier.Run, r.Progress.Run}
}

// AdminAPI returns the HTTP admin API over the replica's store; mount it at /admin/.
func (r *Replica) AdminAPI(token string, log *slog.Logger) *AdminAPI {
	a := NewAdminAPI(r.db, token, log)
	a.Created = r.Engine.Kick
	return a
}

// StaffEffect carries out a staff dialog effect that touches the store, for the staff member
// userID writing in chatID in lang, and returns the event to feed back to staff.Step (nil
// when there is none). Show and Answer are the bot's to draw (RenderStaff, T); for them
// handled is false.
func (r *Replica) StaffEffect(ctx context.Context, userID, chatID int64, lang string, eff staff.Effect) (ev staff.Event, handled bool, err error) {
	switch eff := eff.(type) {
	case staff.CountAudience:
		n, err := r.db.CountAudience(ctx, eff.Audience)
		return staff.Counted{N: n, Code: kezekbot.ErrorCode(err)}, true, err
	case staff.CreateBroadcast:
		b, err := r.db.CreateBroadcast(ctx, postgres.NewBroadcast{CreatedBy: userID, Source: postgres.SourceBot,
			Audience: eff.Audience, TextKK: eff.TextKK, TextRU: eff.TextRU})
		if err != nil {
			return staff.Created{Code: kezekbot.ErrorCode(err)}, true, err
		}
		r.Engine.Kick()
		return staff.Created{ID: b.ID, Total: b.Total}, true, nil
	case staff.AttachProgress:
		return nil, true, r.Progress.Attach(ctx, eff.ID, chatID, lang)
	case staff.StopBroadcast:
		_, err := r.db.StopBroadcast(ctx, eff.ID)
		return nil, true, err
	case staff.ResumeBroadcast:
		_, err := r.db.ResumeBroadcast(ctx, eff.ID)
		r.Engine.Kick()
		return nil, true, err
	case staff.Show, staff.Answer:
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("staff effect %T: unknown", eff)
}
