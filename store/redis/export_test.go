package redisstore

import "context"

// ReplayBegin runs Begin's script again with t's owner token, as go-redis does when the
// connection drops after Redis ran the command but before the reply arrived.
func (s *Store) ReplayBegin(ctx context.Context, chatID, updateID int64, t Turn) (Turn, error) {
	return s.begin(ctx, chatID, updateID, t.token)
}
