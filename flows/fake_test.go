package flows_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
)

// fakeData is an in-memory Data that honours visibility the way the real store does: an
// application of another applicant is ENOTFOUND.
type fakeData struct {
	mu    sync.Mutex
	bound map[int64]kezekbot.IIN
	apps  []kezekbot.ApplicationDetail
	err   error // returned by every call when set
	calls int
	// muted is the MuteStore side: chat → kinds switched off.
	muted map[int64]map[string]bool
}

func (f *fakeData) Muted(_ context.Context, chatID int64) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	var out []string
	for k := range f.muted[chatID] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func (f *fakeData) SetMuted(_ context.Context, chatID int64, kind string, muted bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return f.err
	}
	if !slices.ContainsFunc(flows.MuteKinds, func(k flows.MuteKind) bool { return k.Kind == kind }) {
		return kezekbot.Errorf(kezekbot.EINVALID, "unknown notification kind %q", kind)
	}
	if f.muted == nil {
		f.muted = map[int64]map[string]bool{}
	}
	if muted {
		if f.muted[chatID] == nil {
			f.muted[chatID] = map[string]bool{}
		}
		f.muted[chatID][kind] = true
	} else {
		delete(f.muted[chatID], kind)
	}
	return nil
}

// mutedOf returns the kinds a chat muted, sorted.
func (f *fakeData) mutedOf(chatID int64) []string {
	out, _ := (&fakeData{muted: f.muted}).Muted(context.Background(), chatID)
	return out
}

func (f *fakeData) BoundIIN(_ context.Context, chatID int64) (kezekbot.IIN, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return kezekbot.IIN{}, f.err
	}
	return f.bound[chatID], nil
}

func (f *fakeData) Unbind(_ context.Context, chatID int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return f.err
	}
	delete(f.bound, chatID)
	return nil
}

func (f *fakeData) Applications(_ context.Context, iin kezekbot.IIN) ([]kezekbot.Application, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	var out []kezekbot.Application
	for _, d := range f.apps {
		if d.VisibleTo(iin) {
			out = append(out, d.Application)
		}
	}
	slices.SortFunc(out, func(a, b kezekbot.Application) int {
		return cmp.Or(b.RegisteredAt.Compare(a.RegisteredAt), cmp.Compare(b.ID, a.ID))
	})
	return out, nil
}

func (f *fakeData) Application(_ context.Context, iin kezekbot.IIN, id int64) (kezekbot.ApplicationDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return kezekbot.ApplicationDetail{}, f.err
	}
	for _, d := range f.apps {
		if d.ID == id && d.VisibleTo(iin) {
			d.Referrals = slices.Clone(d.Referrals)
			return d, nil
		}
	}
	return kezekbot.ApplicationDetail{}, kezekbot.Errorf(kezekbot.ENOTFOUND, "application %d not found", id)
}

// setReferral changes a referral in place (another device, the department, the clock).
func (f *fakeData) setReferral(refID int64, fn func(*kezekbot.Referral)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.apps {
		for j := range f.apps[i].Referrals {
			if f.apps[i].Referrals[j].ID == refID {
				fn(&f.apps[i].Referrals[j])
			}
		}
	}
}

// fakeLinks hands out numbered links and records what it was asked.
type fakeLinks struct {
	mu        sync.Mutex
	now       func() time.Time
	issued    []flows.SignRequest
	cancelled []string
	err       error
}

func (l *fakeLinks) Issue(_ context.Context, req flows.SignRequest) (flows.Link, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return flows.Link{}, l.err
	}
	l.issued = append(l.issued, req)
	n := len(l.issued)
	return flows.Link{
		URL:     fmt.Sprintf("https://sign.kezekbot.example/l/%d", n),
		Expires: l.now().Add(15 * time.Minute),
		Nonce:   fmt.Sprintf("nonce-%d", n),
	}, nil
}

func (l *fakeLinks) Cancel(_ context.Context, _ int64, nonce string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cancelled = append(l.cancelled, nonce)
	return nil
}

// ---- fixture ----

var t0 = time.Date(2026, 9, 1, 10, 0, 0, 0, time.FixedZone("Astana", 5*3600))

// mkIIN completes an 11-digit prefix with its check digit.
func mkIIN(prefix string) kezekbot.IIN {
	d, ok := kezekbot.IINCheckDigit(prefix)
	if !ok {
		panic("no IIN with prefix " + prefix)
	}
	return kezekbot.MustParseIIN(prefix + string(rune('0'+d)))
}

var (
	iinA  = kezekbot.MustParseIIN("791028302728")
	iinB  = mkIIN("85030540012")
	child = mkIIN("22061260012")
)

const (
	chatA = int64(1001)
	chatB = int64(1002)
)

type fixture struct {
	data  *fakeData
	links *fakeLinks
	now   time.Time
	m     *flows.Machine
	revs  uint32
}

func kg(id int64, name string) kezekbot.Kindergarten {
	return kezekbot.Kindergarten{ID: id, Name: name, Address: "Астана, ул. Кенесары, " + fmt.Sprint(id), Lat: 51.128, Lon: 71.43}
}

func app(id int64, owner kezekbot.IIN, name string, reg time.Time, status kezekbot.Status, refs ...kezekbot.Referral) kezekbot.ApplicationDetail {
	for i := range refs {
		refs[i].ApplicationID = id
	}
	return kezekbot.ApplicationDetail{
		Application: kezekbot.Application{
			ID: id, Number: fmt.Sprintf("УО.2024.%06d.1", id), ChildName: name, ChildIIN: child,
			ChildBirthDate: child.BirthDate(), ApplicantName: "Иванова Мария Петровна", ApplicantIIN: owner,
			QueueNumber: int(id), Benefit: kezekbot.BenefitNone, RegisteredAt: reg, Status: status,
			StatusChangedAt: reg, QueuedSince: reg,
		},
		Referrals: refs,
		History:   []kezekbot.HistoryEntry{{At: reg, Event: kezekbot.EventRegistered, Status: kezekbot.StatusQueued, QueueNumber: int(id)}},
		Documents: []kezekbot.Document{{Kind: "birth_certificate", Number: "I-АК 123456", IssuedAt: reg}},
	}
}

func ref(id int64, k kezekbot.Kindergarten, issued time.Time) kezekbot.Referral {
	return kezekbot.Referral{ID: id, Kindergarten: k, IssuedAt: issued, State: kezekbot.ReferralActive, EnrolBefore: issued.Add(5 * 24 * time.Hour)}
}

// newFixture: parent A (chat A) has
//
//	app 1: queued, no referral
//	app 2: referral 20 (ЧДС 1) issued 2h ago — revocable
//	app 3: referral 30 issued 30h ago — window closed
//	app 4: referrals 40 and 41 issued 1h ago — both revocable
//	apps 5..9: queued (for paging)
//
// parent B (chat B) has app 100 with referral 1000, revocable.
func newFixture() *fixture {
	f := &fixture{now: t0}
	f.data = &fakeData{bound: map[int64]kezekbot.IIN{chatA: iinA, chatB: iinB}}
	day := 24 * time.Hour
	f.data.apps = []kezekbot.ApplicationDetail{
		app(1, iinA, "Иванов Алексей Петрович", t0.Add(-300*day), kezekbot.StatusQueued),
		app(2, iinA, "Иванова Айгерим", t0.Add(-400*day), kezekbot.StatusReferralIssued, ref(20, kg(1, "ЧДС 1"), t0.Add(-2*time.Hour))),
		app(3, iinA, "Иванов Берик", t0.Add(-500*day), kezekbot.StatusReferralIssued, ref(30, kg(2, "Ясли-сад «Балапан»"), t0.Add(-30*time.Hour))),
		app(4, iinA, "Иванов Дамир", t0.Add(-600*day), kezekbot.StatusReferralIssued,
			ref(40, kg(3, "Детский сад №3"), t0.Add(-time.Hour)), ref(41, kg(4, "Детский сад №4"), t0.Add(-time.Hour))),
		app(100, iinB, "Петров Пётр", t0.Add(-100*day), kezekbot.StatusReferralIssued, ref(1000, kg(5, "Чужой сад"), t0.Add(-time.Hour))),
	}
	for id := int64(5); id <= 9; id++ {
		f.data.apps = append(f.data.apps, app(id, iinA, fmt.Sprintf("Сидоров%d Иван", id), t0.Add(-time.Duration(700+id)*day), kezekbot.StatusQueued))
	}
	f.links = &fakeLinks{now: func() time.Time { return f.now }}
	f.m = &flows.Machine{
		Data:  f.data,
		Links: f.links,
		Now:   func() time.Time { return f.now },
		Rand:  func() uint32 { f.revs++; return 100 + f.revs },
	}
	return f
}

// step runs one step and checks the invariants every step must keep.
func (f *fixture) step(t testing.TB, chat int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error) {
	t.Helper()
	next, effs, err := f.m.Step(context.Background(), chat, st, ev)
	checkInvariants(t, st, ev, next, effs)
	return next, effs, err
}

func checkInvariants(t testing.TB, st flows.State, ev flows.Event, next flows.State, effs []flows.Effect) {
	t.Helper()
	answers, shows := 0, 0
	for i, e := range effs {
		switch e := e.(type) {
		case flows.Answer:
			answers++
			if i != 0 {
				t.Errorf("Answer is effect %d, want first", i)
			}
		case flows.Show:
			if e.Screen.Kind == flows.ScreenLinkUsed {
				// The spent link's message loses its buttons: an edit of that message, before
				// the outcome goes out as a new one, and only after a signature report.
				_, signed := ev.(flows.Signed)
				if i != 0 || e.New || len(e.Screen.Buttons) > 0 || !signed || st.MsgID == 0 ||
					i+1 >= len(effs) || !effs[i+1].(flows.Show).New {
					t.Errorf("link_used must be the first effect, an edit without buttons of the link's message, followed by a new message: %+v", effs)
				}
			} else {
				shows++
			}
			if e.Screen.Rev == 0 || e.Screen.Rev != next.Rev {
				t.Errorf("Show rev %d, state rev %d", e.Screen.Rev, next.Rev)
			}
			if e.Screen.Rev == st.Rev {
				t.Errorf("Show reuses the old revision %d", st.Rev)
			}
			if e.Screen.Lang != flows.Kazakh && e.Screen.Lang != flows.Russian {
				t.Errorf("Show without language: %q", e.Screen.Lang)
			}
			for _, row := range e.Screen.Buttons {
				for _, b := range row {
					if (b.URL == "") == (b.Action == "") {
						t.Errorf("button %+v must have exactly one of URL and Action", b)
					}
					if b.Action != "" && len(flows.EncodeCallback(b, e.Screen.Rev)) > flows.MaxCallbackLen {
						t.Errorf("callback data too long for %+v", b)
					}
				}
			}
		}
	}
	_, isPress := ev.(flows.Press)
	_, isBad := ev.(flows.BadPress)
	_, isForeign := ev.(flows.ForeignPress)
	if isPress || isBad || isForeign {
		if answers != 1 {
			t.Errorf("press got %d answers, want exactly 1", answers)
		}
	} else if answers != 0 {
		t.Errorf("%T got %d answers", ev, answers)
	}
	if shows > 1 {
		t.Errorf("%d Shows in one step, want at most 1", shows)
	}
	if shows == 0 && next.Rev != st.Rev {
		t.Errorf("revision changed without a Show")
	}
}

// summary is a compact, stable description of effects for tables and the golden file.
func summary(effs []flows.Effect) string {
	var parts []string
	for _, e := range effs {
		switch e := e.(type) {
		case flows.Answer:
			s := "answer(" + e.Key
			if e.Alert {
				s += ",alert"
			}
			parts = append(parts, s+")")
		case flows.Show:
			s := "show(" + string(e.Screen.Kind)
			if e.New {
				s += ",new"
			}
			if e.Screen.Notice != "" {
				s += "," + e.Screen.Notice
			}
			if e.Screen.ErrCode != "" {
				s += ",err=" + e.Screen.ErrCode
			}
			parts = append(parts, s+")")
		default:
			parts = append(parts, fmt.Sprintf("%T", e))
		}
	}
	return strings.Join(parts, " ")
}

func screenOf(t testing.TB, effs []flows.Effect) flows.Screen {
	t.Helper()
	for _, e := range effs {
		if s, ok := e.(flows.Show); ok && s.Screen.Kind != flows.ScreenLinkUsed {
			return s.Screen
		}
	}
	t.Fatalf("no Show in %s", summary(effs))
	return flows.Screen{}
}

// buttons lists "action:id" of a screen's callback buttons.
func buttons(s flows.Screen) []string {
	var out []string
	for _, row := range s.Buttons {
		for _, b := range row {
			if b.Action != "" {
				out = append(out, fmt.Sprintf("%s:%d", b.Action, b.ID))
			} else {
				out = append(out, "url:"+b.Label)
			}
		}
	}
	sort.Strings(out)
	return out
}

func hasButton(s flows.Screen, act flows.ButtonAction) bool {
	for _, row := range s.Buttons {
		for _, b := range row {
			if b.Action == act {
				return true
			}
		}
	}
	return false
}

// press builds a press of action/id on the live screen of st.
func press(st flows.State, act flows.ButtonAction, id int64) flows.Press {
	return flows.Press{Action: act, ID: id, Rev: st.Rev, MsgID: st.MsgID}
}

var errBoom = errors.New("connection refused")
