package postgres

import (
	"context"
	"fmt"

	"github.com/kezekbot/kezekbot"
)

// OldestDownTarget is the lowest version MigrateDownTo goes to. Below it the down migrations
// drop the audit trail with its signed evidence (00001) or the staff, broadcasts and
// notifications (00010): no rollback of a release needs that, and a mistyped number must not do
// it. Whoever really means it restores a backup instead (deployments/README.md).
const OldestDownTarget = 10

// MigrateDownTo undoes the applied migrations newer than version, newest first, each in its
// own transaction, and returns the versions it undid. What each one loses is listed in
// deployments/README.md ("Rolling back a release"). A database migrated by a newer release
// than this binary cannot be taken down by it (it does not know those migrations' down
// steps): run the newer binary's migrate -down-to first.
func (db *DB) MigrateDownTo(ctx context.Context, version int64) ([]int64, error) {
	if version < OldestDownTarget {
		return nil, fmt.Errorf("migrate down: %w", kezekbot.Errorf(kezekbot.EINVALID,
			"refusing to go below version %d: that would drop the audit trail or the broadcasts; restore a backup instead", OldestDownTarget))
	}
	provider, closeDB, err := db.provider(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate down: %w", err)
	}
	defer closeDB()
	results, err := provider.DownTo(ctx, version)
	var undone []int64
	for _, r := range results {
		if r != nil && r.Source != nil && r.Error == nil {
			undone = append(undone, r.Source.Version)
		}
	}
	if err != nil {
		return undone, fmt.Errorf("migrate down to %d: %w", version, err)
	}
	return undone, nil
}
