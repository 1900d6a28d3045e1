// Package audience describes who a staff broadcast goes to. It is pure data shared by the
// staff dialog (flows/staff), the CLI, the admin API and the store, which turns it into one
// INSERT … SELECT so that a million recipients never sit in Go memory.
//
// An Audience names no person: it selects bound, reachable parents by what their applications
// are (a kindergarten, a status, a birth year) or by application numbers, never by IIN or name.
package audience

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/kezekbot/kezekbot"
)

// MaxNumbers caps an explicit list of application numbers, so that one request cannot carry an
// unbounded array into a query.
const MaxNumbers = 10000

// MaxNumberLen is the longest application number we accept («УО.2018.000027.1» is 17 bytes).
const MaxNumberLen = 64

// Audience selects the chats bound to applicants whose applications match every set field;
// the zero Audience is every bound parent.
type Audience struct {
	// KindergartenID: an active or used referral to this kindergarten.
	KindergartenID int64 `json:"kindergarten_id,omitempty"`
	// Status: the application's status.
	Status kezekbot.Status `json:"status,omitempty"`
	// YearFrom..YearTo: the child's birth year (the age group the queue is published by). One
	// of them alone means that single year.
	YearFrom int `json:"year_from,omitempty"`
	YearTo   int `json:"year_to,omitempty"`
	// Numbers: application numbers («Номер заявления»).
	Numbers []string `json:"numbers,omitempty"`
}

// All reports whether a selects every bound parent.
func (a Audience) All() bool {
	return a.KindergartenID == 0 && a.Status == "" && a.YearFrom == 0 && a.YearTo == 0 && len(a.Numbers) == 0
}

// Years returns the birth-year range with a lone bound filled in; 0, 0 when unset.
func (a Audience) Years() (from, to int) {
	from, to = a.YearFrom, a.YearTo
	if from == 0 {
		from = to
	}
	if to == 0 {
		to = from
	}
	return from, to
}

// Validate checks a as input from outside (CLI flags, API JSON, dialog text). Errors have
// code EINVALID.
func (a Audience) Validate() error {
	if a.KindergartenID < 0 {
		return kezekbot.Errorf(kezekbot.EINVALID, "kindergarten id must be positive")
	}
	if a.Status != "" && !a.Status.Valid() {
		return kezekbot.Errorf(kezekbot.EINVALID, "unknown status %q", a.Status)
	}
	from, to := a.Years()
	if from != 0 && (from < 1990 || from > 2100 || to < 1990 || to > 2100) {
		return kezekbot.Errorf(kezekbot.EINVALID, "birth year out of range")
	}
	if from > to {
		return kezekbot.Errorf(kezekbot.EINVALID, "birth years %d–%d are reversed", from, to)
	}
	if len(a.Numbers) > MaxNumbers {
		return kezekbot.Errorf(kezekbot.EINVALID, "at most %d application numbers", MaxNumbers)
	}
	for _, n := range a.Numbers {
		if err := checkNumber(n); err != nil {
			return err
		}
	}
	return nil
}

func checkNumber(n string) error {
	if n == "" || len(n) > MaxNumberLen {
		return kezekbot.Errorf(kezekbot.EINVALID, "application number must be 1–%d bytes", MaxNumberLen)
	}
	for _, r := range n {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == ',' || r == ';' || r == unicode.ReplacementChar {
			return kezekbot.Errorf(kezekbot.EINVALID, "application number contains a separator or control character")
		}
	}
	return nil
}

// ParseNumbers splits a list of application numbers typed by a person or passed on the
// command line: separated by commas, semicolons or white space, duplicates dropped, order
// kept. It validates every number.
func ParseNumbers(s string) ([]string, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		if err := checkNumber(f); err != nil {
			return nil, err
		}
		if !slices.Contains(out, f) {
			if len(out) == MaxNumbers {
				return nil, kezekbot.Errorf(kezekbot.EINVALID, "at most %d application numbers", MaxNumbers)
			}
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, kezekbot.Errorf(kezekbot.EINVALID, "no application numbers")
	}
	return out, nil
}

// ParseYears parses "2020" or "2019-2021" (also with an en dash).
func ParseYears(s string) (from, to int, err error) {
	s = strings.TrimSpace(s)
	a, b, ok := strings.Cut(strings.ReplaceAll(s, "–", "-"), "-")
	from, err1 := strconv.Atoi(strings.TrimSpace(a))
	to = from
	var err2 error
	if ok {
		to, err2 = strconv.Atoi(strings.TrimSpace(b))
	}
	// 0 would read as "unset" in an Audience, so it is checked here, not left to Validate.
	if err1 != nil || err2 != nil || from <= 0 || to <= 0 {
		return 0, 0, kezekbot.Errorf(kezekbot.EINVALID, "birth year must be YYYY or YYYY-YYYY")
	}
	if err := (Audience{YearFrom: from, YearTo: to}).Validate(); err != nil {
		return 0, 0, err
	}
	return from, to, nil
}

// String describes a for operators and logs; it lists at most a few numbers.
func (a Audience) String() string {
	if a.All() {
		return "all bound parents"
	}
	var parts []string
	if a.KindergartenID != 0 {
		parts = append(parts, fmt.Sprintf("kindergarten %d", a.KindergartenID))
	}
	if a.Status != "" {
		parts = append(parts, "status "+string(a.Status))
	}
	if from, to := a.Years(); from != 0 {
		if from == to {
			parts = append(parts, fmt.Sprintf("born %d", from))
		} else {
			parts = append(parts, fmt.Sprintf("born %d–%d", from, to))
		}
	}
	if n := len(a.Numbers); n > 0 {
		if n <= 3 {
			parts = append(parts, "applications "+strings.Join(a.Numbers, ", "))
		} else {
			parts = append(parts, fmt.Sprintf("%d applications", n))
		}
	}
	return strings.Join(parts, ", ")
}
