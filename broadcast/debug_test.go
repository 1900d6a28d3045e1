package broadcast_test

import (
	"slices"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
)

func dumpDensest(t *testing.T, calls []telegramtest.Call, w time.Duration) {
	calls = slices.Clone(calls)
	slices.SortFunc(calls, func(a, b telegramtest.Call) int { return a.At.Compare(b.At) })
	best, bi := 0, 0
	j := 0
	for i := range calls {
		if j < i {
			j = i
		}
		for j < len(calls) && calls[j].At.Before(calls[i].At.Add(w)) {
			j++
		}
		if j-i > best {
			best, bi = j-i, i
		}
	}
	for k := max(bi-3, 0); k < min(bi+best+3, len(calls)); k++ {
		var d time.Duration
		if k > 0 {
			d = calls[k].At.Sub(calls[k-1].At)
		}
		e := ""
		if calls[k].Err() != nil {
			e = calls[k].Err().Description
		}
		t.Logf("%d %s +%v chat=%d %s", k, calls[k].At.Format("05.000000"), d, calls[k].ChatID(), e)
	}
}
