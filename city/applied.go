package city

// Applied is what kezekbot did with a batch of changes (a push, a pulled page): the answer of
// a push (200 {"applied":…,"duplicate":…,"stale":…}), sent only after the batch is stored.
type Applied struct {
	// Applied changes were newer than the mirror's copy and are now in it, with their
	// notifications.
	Applied int `json:"applied"`
	// Duplicate changes had an id applied before (or earlier in the same batch); ignored.
	Duplicate int `json:"duplicate"`
	// Stale changes carried a revision not newer than the mirror's; their id is recorded and
	// nothing else is written.
	Stale int `json:"stale"`
}

// Add adds o's counts to a's.
func (a *Applied) Add(o Applied) {
	a.Applied += o.Applied
	a.Duplicate += o.Duplicate
	a.Stale += o.Stale
}
