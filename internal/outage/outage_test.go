package outage_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/internal/outage"
)

// TestQuietOutage: 10 minutes of failures 4 times a second log one "down", a reminder a
// minute, and one "back"; the wait grows to the cap with jitter; the hook sees two changes.
func TestQuietOutage(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	var changes []bool
	tr := outage.New("notify", log, outage.Options{
		Now:      func() time.Time { return now },
		OnChange: func(loop string, down bool) { changes = append(changes, down) },
	})
	tr.OK() // up and fine: nothing logged
	var last time.Duration
	for i := range 10 * 60 * 4 {
		w := tr.Fail(errors.New("connection refused"))
		if w < 125*time.Millisecond || w > 30*time.Second {
			t.Fatalf("try %d: wait %v outside [Min/2, Max]", i, w)
		}
		last = w
		now = now.Add(250 * time.Millisecond)
	}
	if last < 15*time.Second {
		t.Errorf("after 2400 failures the wait is %v, want near the 30s cap", last)
	}
	if !tr.Down() {
		t.Fatal("not down after failures")
	}
	tr.OK()
	tr.OK()
	out := buf.String()
	if n := strings.Count(out, "dependency down"); n != 1 {
		t.Errorf("%d 'down' lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "still down"); n != 9 {
		t.Errorf("%d reminders over 10 minutes, want 9 (one a minute after the first)", n)
	}
	if n := strings.Count(out, "dependency back"); n != 1 {
		t.Errorf("%d 'back' lines, want 1", n)
	}
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Errorf("changes = %v, want [true false]", changes)
	}
	if tr.Down() {
		t.Fatal("still down after OK")
	}
}
