package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Link notes are small facts kept next to a signing link but outliving it a little: which
// steps of the eGov mobile protocol have happened, the hash of the link's one-time bearer
// token, and the outcome of the last signature, which the signing page polls for after the
// link itself was consumed. They are never the authority on a link (the link record is);
// losing them only costs a parent a retry.

// Notes share the links' {l} hash tag, so a script may one day read a link and its notes
// together on Redis Cluster.
func (s *Store) notePrefix() string { return s.o.Prefix + "{l}x:" }

// SetLinkNotes sets fields of nonce's notes and makes the notes live ttl from now.
func (s *Store) SetLinkNotes(ctx context.Context, nonce string, fields map[string]string, ttl time.Duration) error {
	if nonce == "" || len(fields) == 0 {
		return errors.New("set link notes: empty nonce or no fields")
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("set link notes: ttl %v too short", ttl)
	}
	k := s.notePrefix() + nonce
	args := make([]any, 0, 2*len(fields))
	for f, v := range fields {
		args = append(args, f, v)
	}
	pipe := s.c.TxPipeline()
	pipe.HSet(ctx, k, args...)
	pipe.PExpire(ctx, k, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("set link notes: %w", err)
	}
	return nil
}

// LinkNotes returns nonce's notes; an empty map when there are none (never noted, or expired).
func (s *Store) LinkNotes(ctx context.Context, nonce string) (map[string]string, error) {
	m, err := s.c.HGetAll(ctx, s.notePrefix()+nonce).Result()
	if err != nil {
		return nil, fmt.Errorf("read link notes: %w", err)
	}
	return m, nil
}
