package audience

import (
	"slices"
	"testing"
)

func TestParseYears(t *testing.T) {
	tests := []struct {
		in       string
		from, to int
		ok       bool
	}{
		{"2021", 2021, 2021, true},
		{" 2019-2021 ", 2019, 2021, true},
		{"2019–2021", 2019, 2021, true},
		{"2021-2019", 0, 0, false},
		{"21", 0, 0, false},
		{"2021-", 0, 0, false},
		{"abc", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		from, to, err := ParseYears(tt.in)
		if (err == nil) != tt.ok || from != tt.from || to != tt.to {
			t.Errorf("ParseYears(%q) = %d, %d, %v", tt.in, from, to, err)
		}
	}
}

func TestParseNumbers(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"УО.2018.000027.1", []string{"УО.2018.000027.1"}},
		{"a, b;c\nd  a", []string{"a", "b", "c", "d"}},
		{" , ; ", nil},
		{"a\x00b", nil},
	}
	for _, tt := range tests {
		got, err := ParseNumbers(tt.in)
		if !slices.Equal(got, tt.want) || (err == nil) != (tt.want != nil) {
			t.Errorf("ParseNumbers(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		a  Audience
		ok bool
	}{
		{Audience{}, true},
		{Audience{KindergartenID: 1, Status: "queued", YearFrom: 2020, YearTo: 2021, Numbers: []string{"x"}}, true},
		{Audience{KindergartenID: -1}, false},
		{Audience{Status: "gone"}, false},
		{Audience{YearTo: 1800}, false},
		{Audience{Numbers: []string{""}}, false},
		{Audience{Numbers: make([]string, MaxNumbers+1)}, false},
	}
	for _, tt := range tests {
		if err := tt.a.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v", tt.a, err)
		}
	}
}

func FuzzParseNumbers(f *testing.F) {
	f.Add("УО.2018.000027.1, УО.2018.000028.1")
	f.Fuzz(func(t *testing.T, s string) {
		ns, err := ParseNumbers(s)
		if err != nil {
			return
		}
		if err := (Audience{Numbers: ns}).Validate(); err != nil {
			t.Fatalf("ParseNumbers(%q) = %q fails Validate: %v", s, ns, err)
		}
	})
}

func FuzzParseYears(f *testing.F) {
	f.Add("2019-2021")
	f.Fuzz(func(t *testing.T, s string) {
		from, to, err := ParseYears(s)
		if err == nil && (from > to || from < 1990 || to > 2100) {
			t.Fatalf("ParseYears(%q) = %d, %d", s, from, to)
		}
	})
}
