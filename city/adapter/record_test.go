package adapter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/adapter"
	"github.com/kezekbot/kezekbot/flows"
	signerlink "github.com/kezekbot/kezekbot/signer-link"
	"github.com/kezekbot/kezekbot/store/postgres"
)

var stranger = kezekbot.MustParseIIN("031231500126")

// cityReads answers reads from snaps, slowly or with err when told.
type cityReads struct {
	snaps map[int64]city.Application
	err   error
	slow  time.Duration
}

func (c *cityReads) wait(ctx context.Context) error {
	if c.slow == 0 {
		return c.err
	}
	select {
	case <-time.After(c.slow):
		return c.err
	case <-ctx.Done():
		return &city.Unavailable{Err: ctx.Err()}
	}
}

func (c *cityReads) Applications(ctx context.Context, iin kezekbot.IIN) ([]city.Application, error) {
	if err := c.wait(ctx); err != nil {
		return nil, err
	}
	var out []city.Application
	for _, a := range c.snaps {
		out = append(out, a)
	}
	return out, nil
}

func (c *cityReads) Application(ctx context.Context, iin kezekbot.IIN, id int64) (city.Application, error) {
	if err := c.wait(ctx); err != nil {
		return city.Application{}, err
	}
	a, ok := c.snaps[id]
	if !ok {
		return a, &city.Problem{Code: city.RefuseNotFound}
	}
	return a, nil
}

// mirrorReads is the mirror: details by id, synced at syncedAt.
type mirrorReads struct {
	fakeMirror
	apps     map[int64]kezekbot.ApplicationDetail
	syncedAt time.Time
	err      error
}

func (m *mirrorReads) Applications(_ context.Context, iin kezekbot.IIN) ([]kezekbot.Application, error) {
	var out []kezekbot.Application
	for _, d := range m.apps {
		out = append(out, d.Application) // not filtered: the adapter must
	}
	return out, m.err
}

func (m *mirrorReads) Application(_ context.Context, iin kezekbot.IIN, id int64) (kezekbot.ApplicationDetail, error) {
	if m.err != nil {
		return kezekbot.ApplicationDetail{}, m.err
	}
	d, ok := m.apps[id]
	if !ok {
		return d, kezekbot.Errorf(kezekbot.ENOTFOUND, "application %d not found", id)
	}
	return d, nil
}

func (m *mirrorReads) SyncedAt(context.Context, int64) (time.Time, error) { return m.syncedAt, nil }

type storeRec struct {
	enqueued []postgres.CityCommand
	reqs     []kezekbot.RevokeRequest
}

func (s *storeRec) BoundIIN(context.Context, int64) (kezekbot.IIN, error)        { return parent, nil }
func (s *storeRec) Unbind(context.Context, int64) error                          { return nil }
func (s *storeRec) Bind(context.Context, int64, string, kezekbot.Evidence) error { return nil }
func (s *storeRec) Muted(context.Context, int64) ([]string, error)               { return nil, nil }
func (s *storeRec) SetMuted(context.Context, int64, string, bool) error          { return nil }
func (s *storeRec) SetLang(context.Context, int64, string) error                 { return nil }
func (s *storeRec) EnqueueRevoke(_ context.Context, r kezekbot.RevokeRequest, c postgres.CityCommand) error {
	s.reqs, s.enqueued = append(s.reqs, r), append(s.enqueued, c)
	return nil
}

func detailOf(t *testing.T, a city.Application) kezekbot.ApplicationDetail {
	t.Helper()
	d, err := a.Detail()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newRecord(c *cityReads, m *mirrorReads, s *storeRec, now time.Time) *adapter.Record {
	return &adapter.Record{City: c, Mirror: m, Store: s, ReadTimeout: 50 * time.Millisecond, Log: quiet(), Now: func() time.Time { return now }}
}

var (
	_ flows.Data       = (*adapter.Record)(nil)
	_ flows.MuteStore  = (*adapter.Record)(nil)
	_ signerlink.Store = (*adapter.Record)(nil)
)

func TestRecordReads(t *testing.T) {
	mine := snapshot(2, 7, "active", "referral_issued")
	theirs := snapshot(3, 7, "active", "referral_issued")
	theirs.Applicant.IIN = stranger
	synced := t0.Add(-3 * time.Hour)
	mirror := func() *mirrorReads {
		other := detailOf(t, theirs)
		return &mirrorReads{apps: map[int64]kezekbot.ApplicationDetail{2: detailOf(t, mine), 3: other}, syncedAt: synced}
	}
	for _, tc := range []struct {
		name    string
		city    *cityReads
		mirror  *mirrorReads
		id      int64
		code    string // "" for an answer
		asOf    bool
		upserts int
	}{
		{name: "city answers", city: &cityReads{snaps: map[int64]city.Application{2: mine}}, mirror: mirror(), id: 2, upserts: 1},
		{name: "city slow: mirror with its time", city: &cityReads{snaps: map[int64]city.Application{2: mine}, slow: time.Second}, mirror: mirror(), id: 2, asOf: true},
		{name: "city down: mirror", city: &cityReads{err: &city.Unavailable{Err: errors.New("503")}}, mirror: mirror(), id: 2, asOf: true},
		{name: "city broken: mirror", city: &cityReads{err: &city.ContractError{Endpoint: "application", Err: errors.New("bad JSON")}}, mirror: mirror(), id: 2, asOf: true},
		{name: "city answers someone else's: not found", city: &cityReads{snaps: map[int64]city.Application{3: theirs}}, mirror: mirror(), id: 3, code: kezekbot.ENOTFOUND, upserts: 1},
		{name: "city down, mirror has someone else's: error, not theirs", city: &cityReads{err: &city.Unavailable{Err: errors.New("503")}}, mirror: mirror(), id: 3, code: kezekbot.EINTERNAL},
		{name: "city says not found, mirror has it: the city is the record", city: &cityReads{snaps: map[int64]city.Application{}}, mirror: mirror(), id: 2, code: kezekbot.ENOTFOUND},
		{name: "neither has it", city: &cityReads{snaps: map[int64]city.Application{}}, mirror: mirror(), id: 9, code: kezekbot.ENOTFOUND},
		{name: "city down, mirror lacks it: not a not-found", city: &cityReads{err: &city.Unavailable{Err: errors.New("503")}}, mirror: mirror(), id: 9, code: kezekbot.EINTERNAL},
		{name: "city and mirror down", city: &cityReads{err: &city.Unavailable{Err: errors.New("503")}}, mirror: &mirrorReads{err: errors.New("pg down")}, id: 2, code: kezekbot.EINTERNAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecord(tc.city, tc.mirror, &storeRec{}, t0)
			d, err := r.Application(t.Context(), parent, tc.id)
			if tc.code != "" {
				if err == nil || kezekbot.ErrorCode(err) != tc.code {
					t.Fatalf("err = %v, want code %s", err, tc.code)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if !d.VisibleTo(parent) || d.ID != tc.id || len(d.Referrals) != 1 {
				t.Fatalf("detail %+v", d)
			}
			if tc.code == "" && tc.asOf != !d.AsOf.IsZero() {
				t.Errorf("AsOf = %v, want set %v", d.AsOf, tc.asOf)
			}
			if tc.asOf && !d.AsOf.Equal(synced) {
				t.Errorf("AsOf = %v, want the mirror's %v", d.AsOf, synced)
			}
			if got := len(tc.mirror.snaps); got != tc.upserts {
				t.Errorf("%d snapshots into the mirror, want %d", got, tc.upserts)
			}
		})
	}
}

func TestRecordList(t *testing.T) {
	mine := snapshot(2, 7, "active", "referral_issued")
	theirs := snapshot(3, 7, "active", "referral_issued")
	theirs.Applicant.IIN = stranger
	m := &mirrorReads{apps: map[int64]kezekbot.ApplicationDetail{2: detailOf(t, mine), 3: detailOf(t, theirs)}}
	for _, c := range []*cityReads{
		{snaps: map[int64]city.Application{2: mine, 3: theirs}},
		{err: &city.Unavailable{Err: errors.New("timeout")}},
		{snaps: map[int64]city.Application{2: mine}, slow: time.Second},
	} {
		apps, err := newRecord(c, m, &storeRec{}, t0).Applications(t.Context(), parent)
		if err != nil || len(apps) != 1 || apps[0].ID != 2 {
			t.Errorf("list %+v, %v", apps, err)
		}
	}
	// The mirror knows nothing and the city is down: an error, not "no applications".
	_, err := newRecord(&cityReads{err: &city.Unavailable{Err: errors.New("503")}}, &mirrorReads{}, &storeRec{}, t0).Applications(t.Context(), parent)
	if err == nil {
		t.Error("empty mirror and a down city gave an empty list")
	}
}

func TestRecordRevoke(t *testing.T) {
	fresh := snapshot(2, 7, "active", "referral_issued")
	req := kezekbot.RevokeRequest{ChatID: 1001, ApplicantIIN: parent, ApplicationID: 2, ReferralID: 20, Reason: "Переезд",
		Evidence: kezekbot.Evidence{SignedXML: []byte(signedXML), IIN: parent, Nonce: "nonce-1"}}

	s := &storeRec{}
	woken := 0
	r := newRecord(&cityReads{snaps: map[int64]city.Application{2: fresh}}, &mirrorReads{}, s, t0)
	r.Enqueued = func() { woken++ }
	res, err := r.RevokeReferral(t.Context(), req)
	if err != nil || !res.Pending || res.Application.ID != 2 || res.Referral.ID != 20 {
		t.Fatalf("result %+v, %v", res, err)
	}
	if len(s.enqueued) != 1 || s.enqueued[0].IdempotencyKey != adapter.IdempotencyKey("nonce-1") || s.enqueued[0].Kindergarten != "ЧДС 1" || woken != 1 {
		t.Errorf("enqueued %+v woken %d", s.enqueued, woken)
	}

	// The 24 hours ran out while the parent was signing: refused before anything is written.
	s = &storeRec{}
	late := newRecord(&cityReads{snaps: map[int64]city.Application{2: fresh}}, &mirrorReads{}, s, t0.Add(23*time.Hour))
	_, err = late.RevokeReferral(t.Context(), req)
	if _, ok := errors.AsType[*kezekbot.RevokeRefusal](err); !ok || len(s.enqueued) != 0 {
		t.Errorf("late revoke: %v, enqueued %d", err, len(s.enqueued))
	}

	// The city is down: checked against the mirror, still handed over.
	s = &storeRec{}
	m := &mirrorReads{apps: map[int64]kezekbot.ApplicationDetail{2: detailOf(t, fresh)}, syncedAt: t0}
	down := newRecord(&cityReads{err: &city.Unavailable{Err: errors.New("503")}}, m, s, t0)
	if res, err := down.RevokeReferral(t.Context(), req); err != nil || !res.Pending || len(s.enqueued) != 1 {
		t.Errorf("city down: %+v, %v", res, err)
	}

	// Someone else's application: not found, nothing written.
	s = &storeRec{}
	theirs := snapshot(2, 7, "active", "referral_issued")
	theirs.Applicant.IIN = stranger
	if _, err := newRecord(&cityReads{snaps: map[int64]city.Application{2: theirs}}, &mirrorReads{}, s, t0).RevokeReferral(t.Context(), req); kezekbot.ErrorCode(err) != kezekbot.ENOTFOUND || len(s.enqueued) != 0 {
		t.Errorf("someone else's: %v", err)
	}
}

// With the refresher running, the card does not wait for the mirror's write; the snapshot
// still reaches the mirror.
func TestRecordRefresherOffThePath(t *testing.T) {
	mine := snapshot(2, 7, "active", "referral_issued")
	m := &mirrorReads{}
	r := newRecord(&cityReads{snaps: map[int64]city.Application{2: mine}}, m, &storeRec{}, t0)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.RunRefresher(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := r.Application(t.Context(), parent, 2); err != nil {
			t.Fatal(err)
		}
		m.mu.Lock()
		n := len(m.snaps)
		m.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the snapshot never reached the mirror")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
