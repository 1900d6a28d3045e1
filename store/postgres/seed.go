package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot"
)

// DemoParent is an applicant in the demo data. The sandbox issues test certificates for these
// IINs so that a demo user can bind as one of them.
type DemoParent struct {
	Name string
	IIN  string
	Lang string // "kk" or "ru"
	// Note says what the demo data holds for this parent (shown by the sandbox).
	Note string
}

// DemoParents are the applicants Seed creates. The IINs are made up (valid check digits,
// adults born in the 1980s–90s); no real person is meant.
//
//   - 0 has a referral issued 10 minutes before the seed time (revocable) and a queued
//     large-family application;
//   - 1 has a referral issued two days before (active, no longer revocable), an application
//     whose referral was revoked earlier, and an enrolled child;
//   - 2 has twins queued with a primary-right benefit and a removed application with an
//     expired referral;
//   - 3 is a foster parent with 12 applications (the list pages), one of them revocable.
var DemoParents = []DemoParent{
	{Name: "Жұмабаева Әсел Нұрланқызы", IIN: "880412401274", Lang: "kk",
		Note: "a referral issued 10 minutes ago: revocable (УО.2021.004518.1)"},
	{Name: "Ахметов Ерлан Серикович", IIN: "871109303456", Lang: "ru",
		Note: "a referral issued 2 days ago (too late to revoke), one revoked earlier, an enrolled child"},
	{Name: "Ким Ольга Викторовна", IIN: "910302400781", Lang: "ru",
		Note: "twins in the queue with a benefit, an application removed from the queue"},
	{Name: "Омарова Гүлнар Асылбекқызы", IIN: "850725405124", Lang: "kk",
		Note: "12 applications (pages); one referral issued 3 hours ago: revocable (УО.2020.004102.1)"},
}

type demoKindergarten struct {
	name, address string
	lat, lon      float64
}

// Kindergartens in the demo: names in the style of Astana's municipal ДДО, addresses on real
// streets of the five districts, coordinates near those streets.
var demoKindergartens = []demoKindergarten{
	{"Ясли-сад №57 «Ақбота»", "г. Астана, район Есиль, ул. Сыганак, 18/1", 51.1241, 71.4297},
	{"Детский сад №12 «Балауса»", "г. Астана, район Сарыарка, ул. Бейбитшилик, 43", 51.1781, 71.4104},
	{"Ясли-сад №84 «Айгөлек»", "г. Астана, район Алматы, ул. Жубанова, 7", 51.1489, 71.4865},
	{"Ясли-сад №33 «Балдырған»", "г. Астана, район Байконур, ул. Кенесары, 52", 51.1667, 71.4426},
	{"Частный детский сад «Күншуақ»", "г. Астана, район Нура, пр. Улы Дала, 29", 51.1186, 71.3981},
	{"Ясли-сад №95 «Еркетай»", "г. Астана, район Есиль, пр. Мангилик Ел, 40", 51.0975, 71.4178},
	{"Ясли-сад №3 «Шұғыла»", "г. Астана, район Сарыарка, пр. Сарыарка, 11", 51.1716, 71.4219},
	{"Детский сад №71 «Нұрсәт»", "г. Астана, район Алматы, пр. Абылай хана, 14", 51.1520, 71.4720},
}

// astana is the city's offset (UTC+5 all year); registration times are local.
var astana = time.FixedZone("Asia/Astana", 5*3600)

type demoRef struct {
	kg     int           // index into demoKindergartens
	ago    time.Duration // issued this long before the seed time
	state  kezekbot.ReferralState
	closed time.Duration // closed this long after issue
	reason string
}

type demoApp struct {
	parent     int
	number     string
	child      string
	birth      string // YYYY-MM-DD
	male       bool
	benefit    kezekbot.Benefit
	registered string // local time, "2006-01-02 15:04:05"
	con        string // «Номер ЦОН» for applications filed at a service centre
	status     kezekbot.Status
	frozen     int           // queue number kept by an application that left the queue
	removedAgo time.Duration // StatusRemoved: when
	refs       []demoRef
}

const day = 24 * time.Hour

var demoApps = []demoApp{
	{parent: 0, number: "УО.2021.004518.1", child: "Жұмабаев Нұрислам Ерланұлы", birth: "2021-02-14", male: true,
		benefit: kezekbot.BenefitNone, registered: "2021-03-02 11:24:37", status: kezekbot.StatusReferralIssued, frozen: 1,
		refs: []demoRef{{kg: 0, ago: 10 * time.Minute, state: kezekbot.ReferralActive}}},
	{parent: 0, number: "УО.2023.011207.1", child: "Жұмабаева Айым Ерланқызы", birth: "2023-06-30",
		benefit: kezekbot.BenefitLargeFamily, registered: "2023-07-18 09:05:12", status: kezekbot.StatusQueued},

	{parent: 1, number: "УО.2021.003390.1", child: "Ахметова София Ерлановна", birth: "2021-01-08",
		benefit: kezekbot.BenefitMilitary, registered: "2021-01-27 16:42:03", status: kezekbot.StatusReferralIssued, frozen: 1,
		refs: []demoRef{{kg: 2, ago: 2 * day, state: kezekbot.ReferralActive}}},
	{parent: 1, number: "УО.2022.007741.1", child: "Ахметов Тимур Ерланович", birth: "2022-04-19", male: true,
		benefit: kezekbot.BenefitNone, registered: "2022-05-11 10:15:40", status: kezekbot.StatusQueued,
		refs: []demoRef{{kg: 4, ago: 40 * day, state: kezekbot.ReferralRevoked, closed: 3 * time.Hour, reason: "Далеко от дома, выбрали сад ближе"}}},
	{parent: 1, number: "УО.2019.002154.1", child: "Ахметова Алина Ерлановна", birth: "2019-09-03",
		benefit: kezekbot.BenefitNone, registered: "2019-10-01 12:00:18", status: kezekbot.StatusEnrolled, frozen: 2,
		refs: []demoRef{{kg: 3, ago: 400 * day, state: kezekbot.ReferralUsed, closed: 4 * day}}},

	{parent: 2, number: "УО.2022.009963.1", child: "Ким Даниэль Александрович", birth: "2022-08-25", male: true,
		benefit: kezekbot.BenefitDisabledParent, registered: "2022-09-14 14:31:55", status: kezekbot.StatusQueued},
	{parent: 2, number: "УО.2022.009964.1", child: "Ким Диана Александровна", birth: "2022-08-25",
		benefit: kezekbot.BenefitDisabledParent, registered: "2022-09-14 14:33:02", status: kezekbot.StatusQueued},
	{parent: 2, number: "УО.2020.005870.1", child: "Ким Мария Александровна", birth: "2020-05-17",
		benefit: kezekbot.BenefitNone, registered: "2020-06-02 09:48:21", status: kezekbot.StatusRemoved, frozen: 5, removedAgo: 200 * day,
		refs: []demoRef{{kg: 6, ago: 230 * day, state: kezekbot.ReferralExpired, closed: 5 * day}}},

	// A foster family («патронатная семья»): many children, most with the no-parental-care
	// benefit, filed at a service centre.
	{parent: 3, number: "УО.2019.001873.1", child: "Серіков Әлихан Дәуренұлы", birth: "2019-04-11", male: true,
		benefit: kezekbot.BenefitNoParentalCare, registered: "2019-05-06 10:02:44", con: "ЦОН-02-2019-004417", status: kezekbot.StatusEnrolled, frozen: 1,
		refs: []demoRef{{kg: 1, ago: 380 * day, state: kezekbot.ReferralUsed, closed: 2 * day}}},
	{parent: 3, number: "УО.2020.004102.1", child: "Серікова Томирис Дәуренқызы", birth: "2020-02-27",
		benefit: kezekbot.BenefitNoParentalCare, registered: "2020-03-16 15:20:09", con: "ЦОН-02-2020-001932", status: kezekbot.StatusReferralIssued, frozen: 1,
		refs: []demoRef{{kg: 6, ago: 3 * time.Hour, state: kezekbot.ReferralActive}}},
	{parent: 3, number: "УО.2020.006655.1", child: "Бекова Аружан Маратқызы", birth: "2020-07-09",
		benefit: kezekbot.BenefitNoParentalCare, registered: "2020-08-03 11:47:31", status: kezekbot.StatusQueued,
		refs: []demoRef{{kg: 5, ago: 120 * day, state: kezekbot.ReferralExpired, closed: 5 * day}}},
	{parent: 3, number: "УО.2020.006656.1", child: "Бекова Медина Маратқызы", birth: "2020-07-09",
		benefit: kezekbot.BenefitNoParentalCare, registered: "2020-08-03 11:49:05", status: kezekbot.StatusQueued},
	{parent: 3, number: "УО.2021.002210.1", child: "Қайратов Алдияр Ерболұлы", birth: "2021-01-21", male: true,
		benefit: kezekbot.BenefitNoParentalCare, registered: "2021-02-08 09:12:40", con: "ЦОН-05-2021-000877", status: kezekbot.StatusQueued},
	{parent: 3, number: "УО.2021.008843.1", child: "Маратова Інжу Асқарқызы", birth: "2021-09-30",
		benefit: kezekbot.BenefitSpecialNeeds, registered: "2021-10-19 16:05:58", status: kezekbot.StatusQueued},
	{parent: 3, number: "УО.2022.001405.1", child: "Асанов Айсұлтан Нұрболұлы", birth: "2022-01-05", male: true,
		benefit: kezekbot.BenefitNoParentalCare, registered: "2022-01-24 10:30:00", status: kezekbot.StatusQueued},
	{parent: 3, number: "УО.2022.010390.1", child: "Нұрланова Аяла Бауыржанқызы", birth: "2022-10-12",
		benefit: kezekbot.BenefitNone, registered: "2022-11-01 12:44:17", status: kezekbot.StatusRemoved, frozen: 14, removedAgo: 90 * day},
	{parent: 3, number: "УО.2023.003318.1", child: "Ержанов Бекзат Ержанұлы", birth: "2023-02-18", male: true,
		benefit: kezekbot.BenefitNoParentalCare, registered: "2023-03-09 09:58:26", status: kezekbot.StatusQueued},
	{parent: 3, number: "УО.2023.009021.1", child: "Тимурова Амина Тимурқызы", birth: "2023-08-02",
		benefit: kezekbot.BenefitNoParentalCare, registered: "2023-08-21 14:14:14", status: kezekbot.StatusQueued},
	{parent: 3, number: "УО.2024.000512.1", child: "Данияров Рамазан Даниярұлы", birth: "2024-01-03", male: true,
		benefit: kezekbot.BenefitNoParentalCare, registered: "2024-01-22 11:01:39", status: kezekbot.StatusQueued},
	{parent: 3, number: "УО.2024.006120.1", child: "Болатова Жансая Болатқызы", birth: "2024-06-14",
		benefit: kezekbot.BenefitNoParentalCare, registered: "2024-07-02 10:20:31", status: kezekbot.StatusQueued},
}

var demoPhones = []string{"+77012345678", "+77785551203", "+77472009814", "+77057730412"}
var demoEmails = []string{"asel.zhumabayeva@example.kz", "e.akhmetov@example.kz", "olga.kim@example.kz", "gulnar.omarova@example.kz"}

// Seed writes the demo data (kezekbot seed --demo): DemoParents, their children and
// applications, referrals timed against now (one issued 10 minutes before, revocable; one two
// days before, active but no longer revocable; one revoked 40 days before), history and
// documents, and eight kindergartens. Running it again replaces the demo data in place:
// kindergartens, applicants, children and applications are matched by name+address, IIN and
// application number and keep their ids; referrals, history and documents of demo
// applications are written anew. Bindings, audit and outbox rows are left alone. The queues of
// the demo birth years are renumbered.
func (db *DB) Seed(ctx context.Context, now time.Time) error {
	now = now.Truncate(time.Microsecond)
	apps, err := planDemo(now)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return seed(ctx, tx, apps, now)
	})
	if err != nil {
		return fmt.Errorf("seed: %w", dbError(err, "demo data"))
	}
	return nil
}

// plannedApp is a demoApp with its times resolved against the seed time.
type plannedApp struct {
	demoApp
	childIIN      kezekbot.IIN
	birth         time.Time
	registered    time.Time
	statusChanged time.Time
	refs          []plannedRef
	id            int64
}

type plannedRef struct {
	demoRef
	issued, closed time.Time
}

func planDemo(now time.Time) ([]plannedApp, error) {
	var out []plannedApp
	for i, a := range demoApps {
		p := plannedApp{demoApp: a}
		var err error
		if p.birth, err = time.Parse(time.DateOnly, a.birth); err != nil {
			return nil, fmt.Errorf("demo application %s: %w", a.number, err)
		}
		if p.registered, err = time.ParseInLocation(time.DateTime, a.registered, astana); err != nil {
			return nil, fmt.Errorf("demo application %s: %w", a.number, err)
		}
		if p.childIIN, err = demoChildIIN(p.birth, a.male, 4100+i*37); err != nil {
			return nil, fmt.Errorf("demo application %s: %w", a.number, err)
		}
		p.statusChanged = p.registered
		for _, r := range a.refs {
			pr := plannedRef{demoRef: r, issued: now.Add(-r.ago)}
			if r.state != kezekbot.ReferralActive {
				pr.closed = pr.issued.Add(r.closed)
			}
			p.statusChanged = latest(p.statusChanged, pr.issued, pr.closed)
			p.refs = append(p.refs, pr)
		}
		if a.removedAgo > 0 {
			p.statusChanged = latest(p.statusChanged, now.Add(-a.removedAgo))
		}
		// The demo's stories are told backwards from now; a clock earlier than the stories'
		// registrations would make a referral older than its application.
		for _, r := range p.refs {
			if r.issued.Before(p.registered) {
				return nil, kezekbot.Errorf(kezekbot.EINVALID, "demo data needs a later clock than %s", now.Format(time.DateOnly))
			}
		}
		out = append(out, p)
	}
	return out, nil
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// demoChildIIN makes a valid 2000s IIN for a child born on birth, trying serials from serial
// on until one has a check digit.
func demoChildIIN(birth time.Time, male bool, serial int) (kezekbot.IIN, error) {
	sex := 6
	if male {
		sex = 5
	}
	for s := serial; s < serial+20; s++ {
		prefix := fmt.Sprintf("%s%d%04d", birth.Format("060102"), sex, s%10000)
		if d, ok := kezekbot.IINCheckDigit(prefix); ok {
			return kezekbot.ParseIIN(fmt.Sprintf("%s%d", prefix, d))
		}
	}
	return kezekbot.IIN{}, fmt.Errorf("no valid IIN near serial %d", serial)
}

func seed(ctx context.Context, tx pgx.Tx, apps []plannedApp, now time.Time) error {
	// Queue locks first, in order: revocations take a row lock and then their year's lock, so
	// taking the years' locks before any row keeps the two from deadlocking.
	var years []int16
	for _, a := range apps {
		years = append(years, int16(a.birth.Year()))
	}
	slices.Sort(years)
	years = slices.Compact(years)
	for _, y := range years {
		if err := lockQueue(ctx, tx, y); err != nil {
			return err
		}
	}

	kgIDs := make([]int64, len(demoKindergartens))
	for i, k := range demoKindergartens {
		err := tx.QueryRow(ctx, `INSERT INTO kindergartens (name, address, lat, lon) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name, address) DO UPDATE SET lat = excluded.lat, lon = excluded.lon RETURNING id`,
			k.name, k.address, k.lat, k.lon).Scan(&kgIDs[i])
		if err != nil {
			return fmt.Errorf("kindergarten %d: %w", i, err)
		}
	}
	parentIDs := make([]int64, len(DemoParents))
	for i, p := range DemoParents {
		err := tx.QueryRow(ctx, `INSERT INTO applicants (iin, name, phone, email) VALUES ($1, $2, $3, $4)
			ON CONFLICT (iin) DO UPDATE SET name = excluded.name, phone = excluded.phone, email = excluded.email RETURNING id`,
			p.IIN, p.Name, demoPhones[i], demoEmails[i]).Scan(&parentIDs[i])
		if err != nil {
			return fmt.Errorf("demo parent %d: %w", i, err)
		}
	}

	var appIDs []int64
	for i := range apps {
		a := &apps[i]
		var childID int64
		err := tx.QueryRow(ctx, `INSERT INTO children (iin, name, birth_date) VALUES ($1, $2, $3)
			ON CONFLICT (iin) DO UPDATE SET name = excluded.name, birth_date = excluded.birth_date RETURNING id`,
			a.childIIN.Digits(), a.child, a.birth).Scan(&childID)
		if err != nil {
			return fmt.Errorf("demo child of %s: %w", a.number, err)
		}
		// Queued applications get placeholder numbers; renumberQueue below gives the real
		// ones before the deferred uniqueness check at commit.
		queue, benefitQueue := a.frozen, 0
		if a.status == kezekbot.StatusQueued {
			queue = 1
			if a.benefit.Category() != kezekbot.CategoryGeneral {
				benefitQueue = 1
			}
		}
		err = tx.QueryRow(ctx, `INSERT INTO applications (number, child_id, applicant_id, benefit, registered_at,
				con_number, status, status_changed_at, queued_since, queue_number, benefit_queue_number)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $5, $9, $10)
			ON CONFLICT (number) DO UPDATE SET child_id = excluded.child_id, applicant_id = excluded.applicant_id,
				benefit = excluded.benefit, registered_at = excluded.registered_at, pep_number = excluded.pep_number,
				con_number = excluded.con_number, status = excluded.status, status_changed_at = excluded.status_changed_at,
				queued_since = excluded.queued_since, queue_number = excluded.queue_number,
				benefit_queue_number = excluded.benefit_queue_number, version = applications.version + 1
			RETURNING id`,
			a.number, childID, parentIDs[a.parent], a.benefit, a.registered, a.con, a.status, a.statusChanged,
			queue, benefitQueue).Scan(&a.id)
		if err != nil {
			return fmt.Errorf("demo application %s: %w", a.number, err)
		}
		appIDs = append(appIDs, a.id)
	}

	for _, table := range []string{"referrals", "application_history", "documents"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE application_id = ANY($1)`, appIDs); err != nil {
			return fmt.Errorf("clear demo %s: %w", table, err)
		}
	}
	for _, y := range years {
		if err := renumberQueue(ctx, tx, y); err != nil {
			return err
		}
	}
	for i, a := range apps {
		if err := seedDetails(ctx, tx, a, kgIDs, i, now); err != nil {
			return fmt.Errorf("demo application %s: %w", a.number, err)
		}
	}
	return nil
}

// seedDetails writes an application's referrals, documents and history, as demoReferral,
// demoHistory and demoDocuments tell them.
func seedDetails(ctx context.Context, tx pgx.Tx, a plannedApp, kgIDs []int64, i int, now time.Time) error {
	var queue int32
	if err := tx.QueryRow(ctx, `SELECT queue_number FROM applications WHERE id = $1`, a.id).Scan(&queue); err != nil {
		return fmt.Errorf("read queue number: %w", err)
	}
	for _, r := range a.refs {
		ref := demoReferral(r)
		var closed *time.Time
		if !ref.ClosedAt.IsZero() {
			closed = &ref.ClosedAt
		}
		_, err := tx.Exec(ctx, `INSERT INTO referrals (application_id, kindergarten_id, issued_at, state, closed_at,
				revoke_reason, enrol_before, extendable)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			a.id, kgIDs[r.kg], ref.IssuedAt, ref.State, closed, ref.RevokeReason, ref.EnrolBefore, ref.Extendable)
		if err != nil {
			return fmt.Errorf("referral: %w", err)
		}
	}
	for _, e := range demoHistory(a, int(queue), now) {
		if _, err := tx.Exec(ctx, `INSERT INTO application_history (application_id, at, event, status, queue_number, note)
			VALUES ($1, $2, $3, $4, $5, $6)`, a.id, e.At, e.Event, e.Status, int32(e.QueueNumber), e.Note); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	for _, d := range demoDocuments(a, i) {
		if _, err := tx.Exec(ctx, `INSERT INTO documents (application_id, kind, number, issued_at) VALUES ($1, $2, $3, $4)`,
			a.id, d.Kind, d.Number, d.IssuedAt); err != nil {
			return fmt.Errorf("document: %w", err)
		}
	}
	return nil
}

// demoReferral is a planned referral without ids: its kindergarten's name, address and place,
// the enrolment deadline five days after issue (an Astana date), extendable for every other
// kindergarten.
func demoReferral(r plannedRef) kezekbot.Referral {
	k := demoKindergartens[r.kg]
	enrolBefore := r.issued.In(astana).AddDate(0, 0, 5)
	enrolBefore = time.Date(enrolBefore.Year(), enrolBefore.Month(), enrolBefore.Day(), 0, 0, 0, 0, time.UTC)
	return kezekbot.Referral{
		Kindergarten: kezekbot.Kindergarten{Name: k.name, Address: k.address, Lat: k.lat, Lon: k.lon},
		IssuedAt:     r.issued,
		State:        r.state,
		ClosedAt:     r.closed,
		RevokeReason: r.reason,
		EnrolBefore:  enrolBefore,
		Extendable:   r.kg%2 == 0,
	}
}

// demoHistory tells an application's history from its referrals: registration, then each
// referral's issue and its end. queue is the application's queue number.
func demoHistory(a plannedApp, queue int, now time.Time) []kezekbot.HistoryEntry {
	events := []kezekbot.HistoryEntry{{At: a.registered, Event: kezekbot.EventRegistered, Status: kezekbot.StatusQueued, QueueNumber: queue}}
	for _, r := range a.refs {
		events = append(events, kezekbot.HistoryEntry{At: r.issued, Event: kezekbot.EventReferralIssued, Status: kezekbot.StatusReferralIssued, Note: demoKindergartens[r.kg].name})
		switch r.state {
		case kezekbot.ReferralRevoked:
			events = append(events, kezekbot.HistoryEntry{At: r.closed, Event: kezekbot.EventReferralRevoked, Status: kezekbot.StatusQueued, QueueNumber: queue, Note: r.reason})
		case kezekbot.ReferralExpired:
			events = append(events, kezekbot.HistoryEntry{At: r.closed, Event: kezekbot.EventReferralExpired, Status: kezekbot.StatusQueued, QueueNumber: queue})
		case kezekbot.ReferralUsed:
			events = append(events, kezekbot.HistoryEntry{At: r.closed, Event: kezekbot.EventEnrolled, Status: kezekbot.StatusEnrolled, Note: demoKindergartens[r.kg].name})
		}
	}
	if a.status == kezekbot.StatusRemoved {
		events = append(events, kezekbot.HistoryEntry{At: now.Add(-a.removedAgo), Event: kezekbot.EventStatusChanged, Status: kezekbot.StatusRemoved, Note: "Снято по заявлению заявителя"})
	}
	return events
}

// demoDocuments are the documents on file for the i-th demo application.
func demoDocuments(a plannedApp, i int) []kezekbot.Document {
	docs := []kezekbot.Document{
		{Kind: "birth_certificate", Number: fmt.Sprintf("№ %07d", 3104417+i*7919), IssuedAt: a.birth.AddDate(0, 0, 9)},
		{Kind: "applicant_id", Number: fmt.Sprintf("0%08d", 41572093+a.parent*1000003), IssuedAt: time.Date(2018, 4, 16+a.parent, 0, 0, 0, 0, time.UTC)},
	}
	if a.benefit != kezekbot.BenefitNone {
		reg := a.registered.In(astana)
		docs = append(docs, kezekbot.Document{Kind: "benefit_certificate", Number: fmt.Sprintf("%d/%02d-%04d", reg.Year(), int(reg.Month()), 118+i*13),
			IssuedAt: time.Date(reg.Year(), reg.Month(), reg.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -6)})
	}
	return docs
}

// DemoDetails is the demo data set (the one Seed writes) as the city would hold it at now, for
// the reference city: the same parents, children, applications, referrals, history and
// documents. Ids are positions, since there is no database to give them: application i is
// i+1, kindergarten k is k+1, referrals are numbered 1, 2, … in order. Queue numbers are
// kezekbot.QueuePositions over the queued applications of each birth year, which is the order
// Seed's renumbering gives in a database holding only the demo.
func DemoDetails(now time.Time) ([]kezekbot.ApplicationDetail, error) {
	now = now.Truncate(time.Microsecond)
	apps, err := planDemo(now)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	for i := range apps {
		apps[i].id = int64(i + 1)
	}
	keys := map[int][]kezekbot.QueueKey{}
	for _, a := range apps {
		if a.status == kezekbot.StatusQueued {
			keys[a.birth.Year()] = append(keys[a.birth.Year()], kezekbot.QueueKey{Category: a.benefit.Category(), RegisteredAt: a.registered, ID: a.id})
		}
	}
	pos := map[int64]kezekbot.Position{}
	for _, ks := range keys {
		for id, p := range kezekbot.QueuePositions(ks) {
			pos[id] = p
		}
	}
	var out []kezekbot.ApplicationDetail
	var refID int64
	for i, a := range apps {
		p := DemoParents[a.parent]
		queue, benefitQueue := a.frozen, 0
		if a.status == kezekbot.StatusQueued {
			queue, benefitQueue = pos[a.id].Queue, pos[a.id].Benefit
		}
		d := kezekbot.ApplicationDetail{Application: kezekbot.Application{
			ID:                 a.id,
			Number:             a.number,
			ChildName:          a.child,
			ChildIIN:           a.childIIN,
			ChildBirthDate:     a.birth,
			ApplicantName:      p.Name,
			ApplicantIIN:       kezekbot.MustParseIIN(p.IIN),
			Phone:              demoPhones[a.parent],
			Email:              demoEmails[a.parent],
			QueueNumber:        queue,
			BenefitQueueNumber: benefitQueue,
			Benefit:            a.benefit,
			RegisteredAt:       a.registered,
			CONNumber:          a.con,
			Status:             a.status,
			StatusChangedAt:    a.statusChanged,
			QueuedSince:        a.registered,
		}}
		for _, r := range a.refs {
			refID++
			ref := demoReferral(r)
			ref.ID, ref.ApplicationID, ref.Kindergarten.ID = refID, a.id, int64(r.kg+1)
			d.Referrals = append(d.Referrals, ref)
		}
		d.History = demoHistory(a, queue, now)
		d.Documents = demoDocuments(a, i)
		out = append(out, d)
	}
	return out, nil
}
