package redisstore

import (
	"errors"
	"fmt"

	"github.com/kezekbot/kezekbot"
)

// Errors returned by the Store, always wrapped with the operation and subject; test with
// errors.Is. ErrNotFound and ErrStale are domain errors, so kezekbot.ErrorCode maps them to
// ENOTFOUND and ECONFLICT.
var (
	// ErrNotFound: the link is missing, expired or already used.
	ErrNotFound error = &kezekbot.Error{Code: kezekbot.ENOTFOUND, Message: "not found"}

	// ErrStale: Commit lost its lock or the state moved on; nothing was written. Someone else
	// handled the chat meanwhile, so the caller's effects were based on old state.
	ErrStale error = &kezekbot.Error{Code: kezekbot.ECONFLICT, Message: "dialog state changed meanwhile"}

	// ErrDuplicate: the update was already handled, or is being handled right now
	// (then the error is also ErrInProgress). Acknowledge it and do nothing.
	ErrDuplicate = errors.New("duplicate update")

	// ErrInProgress: another worker holds the chat lock for this very update. It matches
	// ErrDuplicate too; a webhook may prefer a non-2xx so Telegram redelivers if that worker
	// aborts.
	ErrInProgress = fmt.Errorf("%w: in progress", ErrDuplicate)

	// ErrBusy: another update of the chat holds the lock; retry with backoff.
	ErrBusy = errors.New("chat busy")

	// ErrNotReplicated: Commit wrote on the master, but fewer than Options.WaitReplicas
	// replicas confirmed it in time, so a failover could still lose it. Do not acknowledge the
	// update: its redelivery finds it done (ErrDuplicate) or, if the write was lost, runs it.
	ErrNotReplicated = errors.New("commit not confirmed by the replicas")
)
