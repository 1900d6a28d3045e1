package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/kezekbot/kezekbot"
	"github.com/pressly/goose/v3"
)

func TestMigrate(t *testing.T) {
	t.Run("FromEmpty", func(t *testing.T) {
		db, _ := MustOpenDB(t) // pgtest migrated an empty schema
		v, err := db.MigrationVersion(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if want := newestMigration(t); v != want {
			t.Fatalf("version = %d, want %d", v, want)
		}
		for _, table := range []string{"kindergartens", "applicants", "children", "applications", "referrals",
			"application_history", "documents", "telegram_bindings", "audit_log", "outbox"} {
			var n int
			if err := db.Pool().QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				t.Errorf("table %s: %v", table, err)
			}
		}
	})
	t.Run("DownAndUp", func(t *testing.T) {
		// The Down sections must undo everything, so that a bad release can be rolled back.
		db, _ := MustOpenDB(t)
		sqlDB := stdlib.OpenDBFromPool(db.Pool())
		defer sqlDB.Close()
		p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, os.DirFS("migrations"), goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.DownTo(t.Context(), 0); err != nil {
			t.Fatalf("down: %v", err)
		}
		var left []string
		rows, err := db.Pool().Query(t.Context(), `SELECT c.relname || ':' || c.relkind::text FROM pg_class c
			WHERE c.relnamespace = current_schema()::regnamespace AND c.relname NOT LIKE 'goose%'
			UNION ALL SELECT p.proname::text FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace`)
		if err != nil {
			t.Fatal(err)
		}
		if left, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Errorf("left after down: %v", left)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("up again: %v", err)
		}
	})
	t.Run("Again", func(t *testing.T) {
		db, _ := MustOpenDB(t)
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
	})
}

// newestMigration returns the highest version among the migration files.
func newestMigration(t *testing.T) int64 {
	t.Helper()
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var newest int64
	for _, f := range files {
		v, _, ok := strings.Cut(f.Name(), "_")
		if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil && strings.HasSuffix(f.Name(), ".sql") {
			newest = max(newest, n)
		}
	}
	return newest
}

// sqlState runs stmt in a transaction and returns the SQLSTATE it fails with, at the
// statement or at commit (deferred constraints), or "" when it succeeds.
func sqlState(t *testing.T, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, stmt string, args ...any) string {
	t.Helper()
	tx, err := db.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	_, err = tx.Exec(t.Context(), stmt, args...)
	if err == nil {
		err = tx.Commit(t.Context())
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	return ""
}

func TestSchemaConstraints(t *testing.T) {
	db, f := MustOpenDB(t)
	parent := f.parent(t)
	queued, _ := f.addApp(t, appSpec{Applicant: parent})
	issued, refs := f.addApp(t, appSpec{Applicant: parent, Referrals: []refSpec{{IssuedAt: now.Add(-time.Hour)}}})
	other, _ := f.addApp(t, appSpec{Applicant: parent, Benefit: kezekbot.BenefitMilitary})
	childIIN := f.iin(t, time.Date(2022, 2, 3, 0, 0, 0, 0, time.UTC), kezekbot.Female)

	for _, tt := range []struct {
		name string
		want string // SQLSTATE
		stmt string
		args []any
	}{
		{"StatusUnknown", "23514", `UPDATE applications SET status = 'lost' WHERE id = $1`, []any{queued}},
		{"BenefitUnknown", "23514", `UPDATE applications SET benefit = 'vip' WHERE id = $1`, []any{queued}},
		{"BenefitCategoryIsGenerated", "428C9", `UPDATE applications SET benefit_category = 1 WHERE id = $1`, []any{queued}},
		{"GeneralQueueHasNoBenefitNumber", "23514", `UPDATE applications SET benefit_queue_number = 4 WHERE id = $1`, []any{queued}},
		{"QueuedNeedsNumber", "23514", `UPDATE applications SET queue_number = 0 WHERE id = $1`, []any{queued}},
		{"QueueNumberTaken", "23P01", `UPDATE applications SET queue_number = (SELECT queue_number FROM applications WHERE id = $2) WHERE id = $1`, []any{queued, other}},
		{"StatusIssuedWithoutReferral", "23514", `UPDATE applications SET status = 'referral_issued' WHERE id = $1`, []any{queued}},
		{"QueuedWithActiveReferral", "23514", `UPDATE applications SET status = 'queued' WHERE id = $1`, []any{issued}},
		{"ReferralStateUnknown", "23514", `UPDATE referrals SET state = 'lost' WHERE id = $1`, []any{refs[0]}},
		{"ActiveReferralClosed", "23514", `UPDATE referrals SET closed_at = issued_at WHERE id = $1`, []any{refs[0]}},
		{"RevokedWithoutReason", "23514", `UPDATE referrals SET state = 'revoked', closed_at = issued_at WHERE id = $1`, []any{refs[0]}},
		{"ClosedBeforeIssue", "23514", `UPDATE referrals SET state = 'expired', closed_at = issued_at - interval '1 second' WHERE id = $1`, []any{refs[0]}},
		{"ApplicantIINCheckDigit", "23514", `UPDATE applicants SET iin = '880412401275'`, nil},
		{"ChildIINNotBirthDate", "23514", `INSERT INTO children (iin, name, birth_date) VALUES ($1, 'x', '2022-02-04')`, []any{childIIN.Digits()}},
		{"ChildIINOK", "", `INSERT INTO children (iin, name, birth_date) VALUES ($1, 'x', '2022-02-03')`, []any{childIIN.Digits()}},
		{"ApplicationNumberTaken", "23505", `UPDATE applications SET number = (SELECT number FROM applications WHERE id = $2) WHERE id = $1`, []any{queued, other}},
		{"DocumentKind", "23514", `INSERT INTO documents (application_id, kind, issued_at) VALUES ($1, 'Birth Certificate', '2021-05-20')`, []any{queued}},
		{"HistoryEvent", "23514", `INSERT INTO application_history (application_id, at, event, status) VALUES ($1, now(), 'teleported', 'queued')`, []any{queued}},
		{"BindingLang", "23514", `INSERT INTO telegram_bindings (chat_id, iin, lang, bound_at) VALUES (1, $1, 'en', now())`, []any{parent.Digits()}},
		{"BindingIIN", "23514", `INSERT INTO telegram_bindings (chat_id, iin, lang, bound_at) VALUES (1, '123456789012', 'ru', now())`, nil},
		{"AuditSignedWithoutNonce", "23514", `INSERT INTO audit_log (at, chat_id, action, evidence_xml) VALUES (now(), 1, 'revoke', '\x3c613e')`, nil},
		{"AuditSignedWithoutEvidence", "23514", `INSERT INTO audit_log (at, chat_id, action, nonce) VALUES (now(), 1, 'bind', 'n1')`, nil},
		{"OutboxIIN", "23514", `INSERT INTO outbox (kind, iin, created_at) VALUES ('x', '123456789012', now())`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := sqlState(t, db.Pool(), tt.stmt, tt.args...); got != tt.want {
				t.Fatalf("SQLSTATE = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSchemaMatchesDomain holds the schema's lists and functions to the domain package's.
func TestSchemaMatchesDomain(t *testing.T) {
	db, f := MustOpenDB(t)
	parent := f.parent(t)
	id, _ := f.addApp(t, appSpec{Applicant: parent})

	t.Run("Benefits", func(t *testing.T) {
		for _, b := range kezekbot.Benefits {
			var cat int
			err := db.Pool().QueryRow(t.Context(), `UPDATE applications SET benefit = $2,
					benefit_queue_number = CASE WHEN $2 = 'none' THEN 0 ELSE 1 END
				WHERE id = $1 RETURNING benefit_category`, id, b).Scan(&cat)
			if err != nil {
				t.Fatalf("benefit %s: %v", b, err)
			}
			if kezekbot.BenefitCategory(cat) != b.Category() {
				t.Errorf("benefit %s: category %d in SQL, %d in Go", b, cat, b.Category())
			}
		}
	})
	t.Run("Statuses", func(t *testing.T) {
		for _, s := range kezekbot.Statuses {
			if s == kezekbot.StatusReferralIssued {
				continue // needs an active referral; covered by the fixtures
			}
			if got := sqlState(t, db.Pool(), `UPDATE applications SET status = $2 WHERE id = $1`, id, s); got != "" {
				t.Errorf("status %s: SQLSTATE %s", s, got)
			}
		}
	})
	t.Run("HistoryEvents", func(t *testing.T) {
		for _, e := range []kezekbot.HistoryEvent{kezekbot.EventRegistered, kezekbot.EventReferralIssued, kezekbot.EventReferralRevoked,
			kezekbot.EventReferralExpired, kezekbot.EventEnrolled, kezekbot.EventQueueChanged, kezekbot.EventStatusChanged} {
			if got := sqlState(t, db.Pool(), `INSERT INTO application_history (application_id, at, event, status) VALUES ($1, now(), $2, 'queued')`, id, e); got != "" {
				t.Errorf("event %s: SQLSTATE %s", e, got)
			}
		}
	})
	t.Run("ReferralStates", func(t *testing.T) {
		issued, refs := f.addApp(t, appSpec{Applicant: parent, Referrals: []refSpec{{IssuedAt: now.Add(-time.Hour)}}})
		for _, s := range kezekbot.ReferralStates {
			if s == kezekbot.ReferralActive {
				continue // the fixture's referral is active
			}
			// The application leaves referral_issued in the same transaction, as the schema
			// wants no status without an active referral.
			got := sqlState(t, db.Pool(), `WITH a AS (UPDATE applications SET status = 'enrolled' WHERE id = $3)
				UPDATE referrals SET state = $2, closed_at = issued_at,
					revoke_reason = CASE WHEN $2 = 'revoked' THEN 'причина' ELSE '' END
				WHERE id = $1`, refs[0], s, issued)
			if got != "" {
				t.Errorf("referral state %s: SQLSTATE %s", s, got)
			}
		}
	})
	t.Run("IINCheckDigit", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		prefixes := []string{"06121160001", "20051561094", "79102830272"}
		for range 2000 {
			prefixes = append(prefixes, fmt.Sprintf("%011d", rng.Int64N(1e11)))
		}
		rows, err := db.Pool().Query(t.Context(), `SELECT p, iin_check_digit(p) FROM unnest($1::text[]) AS p`, prefixes)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct {
			p string
			d *int32
		}, error) {
			var v struct {
				p string
				d *int32
			}
			err := row.Scan(&v.p, &v.d)
			return v, err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range got {
			want, ok := kezekbot.IINCheckDigit(g.p)
			if ok != (g.d != nil) || (ok && int(*g.d) != want) {
				t.Fatalf("prefix %s: SQL %v, Go %d/%v", g.p, g.d, want, ok)
			}
		}
	})
}
