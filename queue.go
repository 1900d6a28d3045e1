package kezekbot

import (
	"cmp"
	"slices"
	"time"
)

// QueueKey is what the established queue order looks at («согласно установленного порядка»):
// the category first (extraordinary, primary, general), then the date and time of
// registration, then the id as a stable tie-break. This is the one definition of the order;
// store/postgres renumbers with the same ORDER BY and a test holds the two together.
type QueueKey struct {
	Category     BenefitCategory
	RegisteredAt time.Time
	ID           int64
}

// CompareQueue orders two queue keys: negative when a stands before b.
func CompareQueue(a, b QueueKey) int {
	if c := cmp.Compare(a.Category, b.Category); c != 0 {
		return c
	}
	if c := a.RegisteredAt.Compare(b.RegisteredAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// SortQueue sorts keys into queue order.
func SortQueue(keys []QueueKey) { slices.SortFunc(keys, CompareQueue) }

// QueuePositions returns, for queue keys in any order, each id's queue number (1-based, over
// the whole queue) and benefit-queue number (1-based within its category; 0 for the general
// queue, as the portal shows «Номер очереди по льготной категории 0»).
func QueuePositions(keys []QueueKey) map[int64]Position {
	sorted := slices.Clone(keys)
	SortQueue(sorted)
	out := make(map[int64]Position, len(sorted))
	inCat := map[BenefitCategory]int{}
	for i, k := range sorted {
		p := Position{Queue: i + 1}
		if k.Category != CategoryGeneral {
			inCat[k.Category]++
			p.Benefit = inCat[k.Category]
		}
		out[k.ID] = p
	}
	return out
}

// Position is an application's place in its queue.
type Position struct {
	Queue   int
	Benefit int
}
