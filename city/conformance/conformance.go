// Package conformance is the conformance kit of the city contract (`kezekbot city check`): it
// runs every operation of api/queue.yaml against a city endpoint through kezekbot's own client
// — reads, the change feed, a revocation of a test application, its idempotent replay and
// refusals — and reports one row per check with what was wrong.
//
// The revocation is real: it revokes the test referral. Run the kit against a test
// application the city keeps for this purpose, never against a family's.
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
)

// Client is the part of *city.Client the kit uses.
type Client interface {
	Applications(ctx context.Context, iin kezekbot.IIN) ([]city.Application, error)
	Application(ctx context.Context, iin kezekbot.IIN, id int64) (city.Application, error)
	Revoke(ctx context.Context, req city.RevokeRequest) (city.RevokeAccepted, error)
	Changes(ctx context.Context, after string, limit int) (city.ChangePage, error)
}

// Options say what to test with.
type Options struct {
	// IIN is the test applicant; Application one of their applications with an active
	// referral issued less than 24 hours ago.
	IIN         kezekbot.IIN
	Application int64
	// Referral is the referral to revoke; 0 picks the application's first active referral.
	Referral int64
	// SignedXML, CertSerial and CertIssuer replace the kit's unsigned test document, for a
	// city that verifies signatures: a document signed for the test by a certificate the city
	// trusts. Empty: the kit sends TestDocument.
	SignedXML  string
	CertSerial string
	CertIssuer string
	// MaxFeedPages bounds the walk to the end of the change feed (default 50 pages of 1000).
	MaxFeedPages int
	Now          func() time.Time
}

// Row is one check's result.
type Row struct {
	Check  string
	Result string // Pass, Fail or Skip
	Detail string
}

// Results.
const (
	Pass = "pass"
	Fail = "FAIL"
	Skip = "skip"
)

// Failed reports whether any row failed.
func Failed(rows []Row) bool {
	return slices.ContainsFunc(rows, func(r Row) bool { return r.Result == Fail })
}

// TestDocument is the document the kit sends in place of a parent's signed revocation. It is
// not signed and says so: the contract lets a city verify signatures (and refuse with
// signature_rejected); a city that does must be tested with Options.SignedXML.
func TestDocument(app, ref int64, nonce string, at time.Time) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<kezekbotConformanceTest xmlns="urn:kezekbot:city-check:1">
  <!-- NOT SIGNED. A test document of "kezekbot city check", not a parent's revocation. -->
  <purpose>contract conformance test; carries no signature and authorises nothing</purpose>
  <application>%d</application>
  <referral>%d</referral>
  <nonce>%s</nonce>
  <at>%s</at>
</kezekbotConformanceTest>
`, app, ref, nonce, at.UTC().Format(time.RFC3339))
}

// strangerIIN is a valid IIN no test applicant has (the check digit example of the IIN
// rules); the test application must be invisible to it.
var strangerIIN = kezekbot.MustParseIIN("791028302728")

// madeUpID is an application id no city hands out in this century.
const madeUpID = int64(9_000_000_000_000_000_001)

// Run runs every check in order and returns the rows. Checks that depend on an earlier one
// that failed are skipped with the reason.
func Run(ctx context.Context, c Client, o Options) []Row {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxFeedPages <= 0 {
		o.MaxFeedPages = 50
	}
	var rows []Row
	add := func(check, result, format string, args ...any) {
		rows = append(rows, Row{check, result, fmt.Sprintf(format, args...)})
	}

	// Reads.
	apps, err := c.Applications(ctx, o.IIN)
	switch {
	case err != nil:
		add("search", Fail, "%s", describe(err))
	case !slices.ContainsFunc(apps, func(a city.Application) bool { return a.ID == o.Application }):
		add("search", Fail, "%d applications, the test application %d not among them", len(apps), o.Application)
	default:
		add("search", Pass, "%d applications, the test application among them", len(apps))
	}
	if _, err := c.Applications(ctx, strangerIIN); err != nil {
		add("search: another applicant", Fail, "%s", describe(err))
	} else {
		add("search: another applicant", Pass, "answered (the client checks every application is the asker's)")
	}

	app, appErr := c.Application(ctx, o.IIN, o.Application)
	ref := o.Referral
	appOK := false
	if appErr != nil {
		add("application", Fail, "%s", describe(appErr))
	} else {
		if ref == 0 {
			for _, r := range app.Referrals {
				if r.State == string(kezekbot.ReferralActive) {
					ref = r.ID
					break
				}
			}
		}
		i := slices.IndexFunc(app.Referrals, func(r city.Referral) bool { return r.ID == ref })
		switch {
		case ref == 0:
			add("application", Fail, "application %d has no active referral to revoke; issue one for the test", app.ID)
		case i < 0:
			add("application", Fail, "application %d has no referral %d", app.ID, ref)
		case app.Referrals[i].State != string(kezekbot.ReferralActive):
			add("application", Fail, "referral %d is %s; the test needs an active one", ref, app.Referrals[i].State)
		case !o.Now().Before(app.Referrals[i].IssuedAt.Add(kezekbot.RevocationWindow)):
			add("application", Fail, "referral %d was issued more than 24 hours ago; the test needs a fresh one", ref)
		default:
			appOK = true
			add("application", Pass, "revision %d, %d referrals, %d history rows, %d documents; revoking referral %d",
				app.Revision, len(app.Referrals), len(app.History), len(app.Documents), ref)
		}
	}
	notFound := func(check string, err error) {
		var p *city.Problem
		switch {
		case err == nil:
			add(check, Fail, "answered 200 with an application; want 404 not_found")
		case errors.As(err, &p) && p.Code == city.RefuseNotFound:
			add(check, Pass, "404 not_found")
		default:
			add(check, Fail, "want 404 not_found, got %s", describe(err))
		}
	}
	_, err = c.Application(ctx, o.IIN, madeUpID)
	notFound("application: made-up id", err)
	_, err = c.Application(ctx, strangerIIN, o.Application)
	notFound("application: another applicant", err)

	// The change feed.
	first, err := c.Changes(ctx, "", 2)
	if err != nil {
		add("changes: first page", Fail, "%s", describe(err))
		add("changes: cursor stability", Skip, "needs a first page")
	} else {
		add("changes: first page", Pass, "%d changes, next %q", len(first.Changes), short(first.Next))
		again, err := c.Changes(ctx, "", 2)
		switch {
		case err != nil:
			add("changes: cursor stability", Fail, "asking again: %s", describe(err))
		case again.Next != first.Next || !slices.Equal(ids(again.Changes), ids(first.Changes)):
			// Order within a page and repeats are allowed; the changes and the cursor are not
			// allowed to differ.
			add("changes: cursor stability", Fail, "the same cursor gave another page (next %q vs %q)", short(again.Next), short(first.Next))
		default:
			add("changes: cursor stability", Pass, "the same cursor gives the same page")
		}
	}
	// The end of the feed, so that the revocation's change can be looked for after it.
	end, walked, endErr := feedEnd(ctx, c, first.Next, o.MaxFeedPages)
	if endErr != nil {
		add("changes: to the end", Fail, "%s", describe(endErr))
	} else if walked < 0 {
		add("changes: to the end", Skip, "more than %d pages; the revocation's change is not looked for", o.MaxFeedPages)
	} else {
		add("changes: to the end", Pass, "%d more changes; an empty page keeps the cursor", walked)
	}

	// The revocation, its replay, refusals.
	if !appOK {
		for _, c := range []string{"revocation", "revocation: replay", "revocation: replay with another body", "refusal: revoked again", "refusal: unknown referral", "changes: the revocation"} {
			add(c, Skip, "needs the test application with an active referral")
		}
		return rows
	}
	nonce := randomHex(8)
	req := city.RevokeRequest{
		IdempotencyKey: "kezekbot-city-check-" + nonce, ApplicantIIN: o.IIN, ApplicationID: o.Application, ReferralID: ref,
		Reason: "kezekbot city check: conformance test", SignedAt: o.Now().UTC().Truncate(time.Second),
		SignedXML: o.SignedXML, CertSerial: o.CertSerial, CertIssuer: o.CertIssuer,
	}
	if req.SignedXML == "" {
		req.SignedXML = TestDocument(o.Application, ref, nonce, req.SignedAt)
		req.CertSerial, req.CertIssuer = "00", "CN=kezekbot city check (no certificate)"
	}
	res, err := c.Revoke(ctx, req)
	var p *city.Problem
	if err != nil {
		msg := describe(err)
		if errors.As(err, &p) && p.Code == city.RefuseSignatureRejected && o.SignedXML == "" {
			msg += " — the city verifies signatures; give the kit a signed test document (--signed-xml)"
		}
		add("revocation", Fail, "%s", msg)
		for _, c := range []string{"revocation: replay", "revocation: replay with another body", "refusal: revoked again", "changes: the revocation"} {
			add(c, Skip, "needs an accepted revocation")
		}
	} else {
		add("revocation", Pass, "accepted: %s, queue %d, benefit queue %d, revision %d", res.Status, res.QueueNumber, res.BenefitQueueNumber, res.Application.Revision)
		again, err := c.Revoke(ctx, req)
		switch {
		case err != nil:
			add("revocation: replay", Fail, "the same key again: %s", describe(err))
		case again.Status != res.Status || again.QueueNumber != res.QueueNumber || again.BenefitQueueNumber != res.BenefitQueueNumber ||
			again.Application.Revision != res.Application.Revision:
			add("revocation: replay", Fail, "the same key gave another answer (revision %d, then %d)", res.Application.Revision, again.Application.Revision)
		default:
			add("revocation: replay", Pass, "the same key gives the first answer")
		}
		other := req
		other.Reason += " (changed)"
		_, err = c.Revoke(ctx, other)
		switch {
		case errors.As(err, &p) && p.Code == city.RefuseInvalid:
			add("revocation: replay with another body", Pass, "422 invalid_request")
		default:
			add("revocation: replay with another body", Fail, "the same key with another body: want 422 invalid_request, got %s", describe(err))
		}
		second := req
		second.IdempotencyKey += "-again"
		_, err = c.Revoke(ctx, second)
		switch {
		case errors.As(err, &p) && p.Code == city.RefuseNotActive:
			add("refusal: revoked again", Pass, "422 not_active")
		default:
			add("refusal: revoked again", Fail, "want 422 not_active, got %s", describe(err))
		}
		if endErr != nil || walked < 0 {
			add("changes: the revocation", Skip, "the end of the feed is unknown")
		} else if found, err := findRevocation(ctx, c, end, ref, o.MaxFeedPages); err != nil {
			add("changes: the revocation", Fail, "%s", describe(err))
		} else if !found {
			add("changes: the revocation", Fail, "no referral_revoked change for referral %d after the revocation", ref)
		} else {
			add("changes: the revocation", Pass, "referral_revoked in the feed")
		}
	}
	bogus := req
	bogus.IdempotencyKey += "-bogus"
	bogus.ReferralID = madeUpID
	_, err = c.Revoke(ctx, bogus)
	switch {
	case errors.As(err, &p) && p.Code == city.RefuseNotFound:
		add("refusal: unknown referral", Pass, "422 not_found")
	default:
		add("refusal: unknown referral", Fail, "want 422 not_found, got %s", describe(err))
	}
	// Keep the rows in the documented order.
	order := []string{"revocation", "revocation: replay", "revocation: replay with another body", "refusal: revoked again", "refusal: unknown referral", "changes: the revocation"}
	tail := rows[len(rows)-len(order):]
	slices.SortStableFunc(tail, func(a, b Row) int { return slices.Index(order, a.Check) - slices.Index(order, b.Check) })
	return rows
}

// feedEnd walks the feed from cursor to an empty page and returns the cursor there and how
// many changes it passed; walked is -1 when maxPages were not enough.
func feedEnd(ctx context.Context, c Client, cursor string, maxPages int) (string, int, error) {
	n := 0
	for range maxPages {
		page, err := c.Changes(ctx, cursor, city.MaxPageLimit)
		if err != nil {
			return "", 0, err
		}
		if len(page.Changes) == 0 {
			if page.Next != cursor {
				return "", 0, fmt.Errorf("an empty page moved the cursor")
			}
			return cursor, n, nil
		}
		n += len(page.Changes)
		cursor = page.Next
	}
	return "", -1, nil
}

func findRevocation(ctx context.Context, c Client, cursor string, ref int64, maxPages int) (bool, error) {
	for range maxPages {
		page, err := c.Changes(ctx, cursor, city.MaxPageLimit)
		if err != nil {
			return false, err
		}
		if slices.ContainsFunc(page.Changes, func(ch city.Change) bool {
			return ch.Kind == city.ChangeReferralRevoked && ch.ReferralID == ref
		}) {
			return true, nil
		}
		if len(page.Changes) == 0 {
			return false, nil
		}
		cursor = page.Next
	}
	return false, nil
}

// ids are a page's change ids as a set (sorted, repeats once): a feed may reorder a page
// and repeat changes.
func ids(chs []city.Change) []string {
	out := make([]string, len(chs))
	for i, c := range chs {
		out[i] = c.ID
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func short(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// describe says what an error means for an integrator.
func describe(err error) string {
	var (
		p  *city.Problem
		u  *city.Unavailable
		ce *city.ContractError
	)
	switch {
	case err == nil:
		return "success"
	case errors.As(err, &p):
		return fmt.Sprintf("problem %s (%s)", p.Code, strings.TrimSpace(short2(p.Message)))
	case errors.As(err, &u):
		if errors.Is(err, city.ErrUnauthorized) {
			return "credentials refused (401/403): check the token or the client certificate"
		}
		return "unavailable: " + u.Err.Error()
	case errors.As(err, &ce):
		return "breaks the contract: " + ce.Err.Error()
	}
	return err.Error()
}

func short2(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
