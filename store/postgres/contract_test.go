package postgres_test

import (
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// The dialog reads through flows.Data; the store is its production implementation.
var _ flows.Data = (*postgres.DB)(nil)
