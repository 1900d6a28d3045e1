package sync

import (
	"context"
	"log/slog"
	"time"
)

// Pruner forgets applied change ids older than a cutoff (*postgres.DB).
type Pruner interface {
	PruneChanges(ctx context.Context, cutoff time.Time) (int64, error)
}

// DefaultKeep is how long applied change ids are kept. A change redelivered after its id is
// forgotten is still harmless (its revision is not newer, so it is stale and notifies nobody);
// the ids only have to outlive the city's retries, which are minutes to hours.
const DefaultKeep = 30 * 24 * time.Hour

// RunPruner prunes change ids older than keep (DefaultKeep when 0) every hour until ctx ends;
// every replica may run it (a DELETE by age is idempotent).
func RunPruner(ctx context.Context, p Pruner, keep time.Duration, log *slog.Logger) error {
	if keep <= 0 {
		keep = DefaultKeep
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		if n, err := p.PruneChanges(ctx, time.Now().Add(-keep)); err != nil && ctx.Err() == nil {
			log.Warn("city feed: prune applied change ids", "err", err)
		} else if n > 0 {
			log.Debug("city feed: pruned applied change ids", "count", n)
		}
		if sleep(ctx, time.Hour) != nil {
			return nil
		}
	}
}
