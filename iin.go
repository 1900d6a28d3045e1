package kezekbot

import (
	"fmt"
	"log/slog"
	"time"
)

// IIN is a Kazakhstan individual identification number (ЖСН / ИИН): 12 digits, YYMMDD, a
// century-and-sex digit, a 4-digit serial and a check digit. The zero value means "no IIN".
//
// String and LogValue mask it, because an IIN gives away a birth date and opens other
// registries; Digits returns it in clear for storage and comparison.
type IIN struct{ s string }

// Sex of the person an IIN belongs to, from its 7th digit.
type Sex int8

const (
	SexUnknown Sex = iota
	Male
	Female
)

var (
	iinWeights1 = [11]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	iinWeights2 = [11]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2}
)

// ParseIIN validates s as an individual's IIN: 12 ASCII digits, a real birth date, a century
// digit 1–6 and the check digit of the two-pass algorithm (a number whose both passes give 10
// is never issued). Errors have code EINVALID.
func ParseIIN(s string) (IIN, error) {
	if len(s) != 12 {
		return IIN{}, Errorf(EINVALID, "IIN must be 12 digits, got %d characters", len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return IIN{}, Errorf(EINVALID, "IIN must be 12 digits, found a non-digit at position %d", i+1)
		}
	}
	if _, err := iinBirthDate(s); err != nil {
		return IIN{}, err
	}
	want, ok := IINCheckDigit(s[:11])
	if !ok {
		return IIN{}, Errorf(EINVALID, "IIN is never issued: both check-digit passes give 10")
	}
	if int(s[11]-'0') != want {
		return IIN{}, Errorf(EINVALID, "IIN check digit is wrong")
	}
	return IIN{s: s}, nil
}

// MustParseIIN is ParseIIN for constants in tests and demo data; it panics on a bad IIN.
func MustParseIIN(s string) IIN {
	iin, err := ParseIIN(s)
	if err != nil {
		panic(fmt.Sprintf("MustParseIIN(%q): %v", s, err))
	}
	return iin
}

// IINCheckDigit computes the check digit of the first 11 digits of an IIN. ok is false when
// both passes give 10: such a prefix has no valid IIN. prefix must be 11 ASCII digits.
func IINCheckDigit(prefix string) (digit int, ok bool) {
	if len(prefix) != 11 {
		return 0, false
	}
	sum := func(w *[11]int) int {
		t := 0
		for i := 0; i < 11; i++ {
			t += int(prefix[i]-'0') * w[i]
		}
		return t % 11
	}
	c := sum(&iinWeights1)
	if c == 10 {
		c = sum(&iinWeights2)
		if c == 10 {
			return 0, false
		}
	}
	return c, true
}

func iinBirthDate(s string) (time.Time, error) {
	var century int
	switch s[6] {
	case '1', '2':
		century = 1800
	case '3', '4':
		century = 1900
	case '5', '6':
		century = 2000
	default:
		return time.Time{}, Errorf(EINVALID, "IIN 7th digit %c is not a century/sex digit of a person", s[6])
	}
	yy := int(s[0]-'0')*10 + int(s[1]-'0')
	mm := int(s[2]-'0')*10 + int(s[3]-'0')
	dd := int(s[4]-'0')*10 + int(s[5]-'0')
	d := time.Date(century+yy, time.Month(mm), dd, 0, 0, 0, 0, time.UTC)
	if mm < 1 || mm > 12 || d.Day() != dd || int(d.Month()) != mm {
		return time.Time{}, Errorf(EINVALID, "IIN does not start with a real date (YYMMDD)")
	}
	return d, nil
}

// IsZero reports whether the IIN is unset.
func (n IIN) IsZero() bool { return n.s == "" }

// Digits returns the 12 digits in clear. Use it for storage and comparison, never for logs.
func (n IIN) Digits() string { return n.s }

// BirthDate returns the date encoded in the IIN (UTC midnight).
func (n IIN) BirthDate() time.Time {
	if n.s == "" {
		return time.Time{}
	}
	d, _ := iinBirthDate(n.s)
	return d
}

// Sex returns the sex encoded in the 7th digit.
func (n IIN) Sex() Sex {
	if n.s == "" {
		return SexUnknown
	}
	if (n.s[6]-'0')%2 == 1 {
		return Male
	}
	return Female
}

// Masked shows the first four and the last two digits, as the portal does for a child's IIN
// on screen: 0612******12.
func (n IIN) Masked() string {
	if n.s == "" {
		return ""
	}
	return n.s[:4] + "******" + n.s[10:]
}

// String returns the masked form, so that an IIN printed by accident leaks little.
func (n IIN) String() string { return n.Masked() }

// LogValue keeps only the last two digits in logs.
func (n IIN) LogValue() slog.Value {
	if n.s == "" {
		return slog.StringValue("")
	}
	return slog.StringValue("**********" + n.s[10:])
}

// Equal reports whether two IINs are the same number.
func (n IIN) Equal(o IIN) bool { return n.s == o.s }

// MarshalText stores the IIN in clear (JSON in Redis, evidence); it is not a log format.
func (n IIN) MarshalText() ([]byte, error) { return []byte(n.s), nil }

// UnmarshalText parses and validates; an empty text gives the zero IIN.
func (n *IIN) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*n = IIN{}
		return nil
	}
	v, err := ParseIIN(string(b))
	if err != nil {
		return err
	}
	*n = v
	return nil
}
