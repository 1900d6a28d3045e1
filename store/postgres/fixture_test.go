package postgres_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// now is the pinned clock of most tests, in microseconds like PostgreSQL.
var now = time.Date(2026, 3, 14, 10, 30, 0, 0, time.UTC)

// fixture builds test data straight in SQL: the store has no API to create applications,
// the city's system does that.
type fixture struct {
	db     *postgres.DB
	serial atomic.Int64 // IIN serials and application numbers
}

// MustOpenDB returns a migrated DB on its own schema with the clock pinned at now.
func MustOpenDB(tb testing.TB) (*postgres.DB, *fixture) {
	tb.Helper()
	db := pgtest.New(tb)
	db.Now = func() time.Time { return now }
	f := &fixture{db: db}
	f.kindergarten(tb, "Ясли-сад №1 «Тест»")
	return db, f
}

// iin returns a new valid IIN for someone born on birth.
func (f *fixture) iin(tb testing.TB, birth time.Time, sex kezekbot.Sex) kezekbot.IIN {
	tb.Helper()
	century := (birth.Year()/100 - 17) * 2 // 1800s → 2, 1900s → 4, 2000s → 6: female
	if sex == kezekbot.Male {
		century--
	}
	for {
		prefix := fmt.Sprintf("%s%d%04d", birth.Format("060102"), century, f.serial.Add(1)%10000)
		if d, ok := kezekbot.IINCheckDigit(prefix); ok {
			return kezekbot.MustParseIIN(fmt.Sprintf("%s%d", prefix, d))
		}
	}
}

// parent returns a new applicant's IIN (the applicants row is created with the first
// application).
func (f *fixture) parent(tb testing.TB) kezekbot.IIN {
	tb.Helper()
	return f.iin(tb, time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), kezekbot.Female)
}

type appSpec struct {
	Applicant  kezekbot.IIN
	Benefit    kezekbot.Benefit // default none
	Birth      time.Time        // child's birth date, default 2021-05-10
	Registered time.Time        // default 2021-06-01 09:00 UTC
	Status     kezekbot.Status  // default queued, or referral_issued with an active referral
	Referrals  []refSpec
	Documents  []kezekbot.Document
	History    []kezekbot.HistoryEntry
}

type refSpec struct {
	IssuedAt time.Time
	State    kezekbot.ReferralState // default active
	ClosedAt time.Time              // default IssuedAt+1h for a closed referral
	Reason   string                 // default "передумали" for a revoked referral
}

// addApp inserts an application with a new child and its referrals in one transaction (the
// schema checks status against referrals at commit). Queued applications get placeholder
// numbers far from real ones; tests that care renumber through RevokeReferral or compare
// against kezekbot.QueuePositions.
func (f *fixture) addApp(tb testing.TB, s appSpec) (appID int64, refIDs []int64) {
	tb.Helper()
	if s.Benefit == "" {
		s.Benefit = kezekbot.BenefitNone
	}
	if s.Birth.IsZero() {
		s.Birth = time.Date(2021, 5, 10, 0, 0, 0, 0, time.UTC)
	}
	if s.Registered.IsZero() {
		s.Registered = time.Date(2021, 6, 1, 9, 0, 0, 0, time.UTC)
	}
	if s.Status == "" {
		s.Status = kezekbot.StatusQueued
		for _, r := range s.Referrals {
			if r.State == "" || r.State == kezekbot.ReferralActive {
				s.Status = kezekbot.StatusReferralIssued
			}
		}
	}
	n := f.serial.Add(1)
	// Queued: a placeholder distinct per fixture, so per year. Others: 0, the number an
	// application that never stood in our queue has; revoking must cope with it.
	placeholder, benefitPlaceholder := 0, 0
	if s.Status == kezekbot.StatusQueued {
		placeholder = 100000 + int(n)
		if s.Benefit.Category() != kezekbot.CategoryGeneral {
			benefitPlaceholder = placeholder
		}
	}
	child := f.iin(tb, s.Birth, kezekbot.Male)
	err := pgx.BeginFunc(context.Background(), f.db.Pool(), func(tx pgx.Tx) error {
		var applicantID, childID int64
		if err := tx.QueryRow(context.Background(), `INSERT INTO applicants (iin, name, phone, email) VALUES ($1, 'Тест Заявитель', '7770000000', 't@example.kz')
			ON CONFLICT (iin) DO UPDATE SET name = excluded.name RETURNING id`, s.Applicant.Digits()).Scan(&applicantID); err != nil {
			return fmt.Errorf("applicant: %w", err)
		}
		if err := tx.QueryRow(context.Background(), `INSERT INTO children (iin, name, birth_date) VALUES ($1, $2, $3) RETURNING id`,
			child.Digits(), fmt.Sprintf("Ребёнок %d", n), s.Birth).Scan(&childID); err != nil {
			return fmt.Errorf("child: %w", err)
		}
		if err := tx.QueryRow(context.Background(), `INSERT INTO applications (number, child_id, applicant_id, benefit,
				registered_at, status, status_changed_at, queued_since, queue_number, benefit_queue_number)
			VALUES ($1, $2, $3, $4, $5, $6, $5, $5, $7, $8) RETURNING id`,
			fmt.Sprintf("УО.%d.%06d.1", s.Registered.Year(), n), childID, applicantID, s.Benefit, s.Registered, s.Status,
			placeholder, benefitPlaceholder).Scan(&appID); err != nil {
			return fmt.Errorf("application: %w", err)
		}
		for _, r := range s.Referrals {
			if r.State == "" {
				r.State = kezekbot.ReferralActive
			}
			var closed *time.Time
			if r.State != kezekbot.ReferralActive {
				if r.ClosedAt.IsZero() {
					r.ClosedAt = r.IssuedAt.Add(time.Hour)
				}
				closed = &r.ClosedAt
			}
			if r.State == kezekbot.ReferralRevoked && r.Reason == "" {
				r.Reason = "передумали"
			}
			var id int64
			if err := tx.QueryRow(context.Background(), `INSERT INTO referrals (application_id, kindergarten_id, issued_at, state, closed_at, revoke_reason, enrol_before, extendable)
				VALUES ($1, (SELECT id FROM kindergartens ORDER BY id LIMIT 1), $2, $3, $4, $5, $6, true) RETURNING id`,
				appID, r.IssuedAt, r.State, closed, r.Reason, r.IssuedAt.AddDate(0, 0, 5)).Scan(&id); err != nil {
				return fmt.Errorf("referral: %w", err)
			}
			refIDs = append(refIDs, id)
		}
		for _, d := range s.Documents {
			if _, err := tx.Exec(context.Background(), `INSERT INTO documents (application_id, kind, number, issued_at) VALUES ($1, $2, $3, $4)`,
				appID, d.Kind, d.Number, d.IssuedAt); err != nil {
				return fmt.Errorf("document: %w", err)
			}
		}
		for _, h := range s.History {
			if _, err := tx.Exec(context.Background(), `INSERT INTO application_history (application_id, at, event, status, queue_number, note) VALUES ($1, $2, $3, $4, $5, $6)`,
				appID, h.At, h.Event, h.Status, h.QueueNumber, h.Note); err != nil {
				return fmt.Errorf("history: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("add application: %v", err)
	}
	return appID, refIDs
}

// kindergarten inserts one kindergarten; referrals created by addApp point at the first.
func (f *fixture) kindergarten(tb testing.TB, name string) int64 {
	tb.Helper()
	var id int64
	err := f.db.Pool().QueryRow(context.Background(), `INSERT INTO kindergartens (name, address, lat, lon)
		VALUES ($1, 'г. Астана, ул. Сыганак, 10', 51.128, 71.430) RETURNING id`, name).Scan(&id)
	if err != nil {
		tb.Fatalf("add kindergarten: %v", err)
	}
	return id
}

var nonces atomic.Int64

// evidence returns acceptable evidence for iin with a fresh nonce.
func evidence(iin kezekbot.IIN) kezekbot.Evidence {
	return kezekbot.Evidence{
		SignedXML:  []byte(`<?xml version="1.0"?><revoke><signed/></revoke>`),
		IIN:        iin,
		Subject:    "CN=ТЕСТ ТЕСТ,SERIALNUMBER=IIN" + iin.Digits(),
		Serial:     "4f1a2b",
		Issuer:     "CN=НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA) TEST",
		NotBefore:  now.AddDate(-1, 0, 0),
		NotAfter:   now.AddDate(1, 0, 0),
		VerifiedAt: now,
		Nonce:      fmt.Sprintf("nonce-%d", nonces.Add(1)),
	}
}

// wantCode fails unless err carries the domain code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := kezekbot.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// pgtestNew is MustOpenDB without the fixture's kindergarten, for tests of the demo seed.
func pgtestNew(tb testing.TB) *postgres.DB {
	tb.Helper()
	db := pgtest.New(tb)
	db.Now = func() time.Time { return now }
	return db
}
