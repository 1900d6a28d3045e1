package kezekbot_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
)

func TestParseIIN(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		birth   string
		sex     kezekbot.Sex
	}{
		{name: "first pass", in: "791028302728", birth: "1979-10-28", sex: kezekbot.Male},
		{name: "first pass 2000s", in: "031231500126", birth: "2003-12-31", sex: kezekbot.Male},
		{name: "needs second pass", in: "061211600012", birth: "2006-12-11", sex: kezekbot.Female},
		{name: "second pass synthetic", in: "200515610902", birth: "2020-05-15", sex: kezekbot.Female},
		{name: "portal example is not a person", in: "123456789012", wantErr: "century"},
		{name: "second pass gives another digit", in: "061211600013", wantErr: "check digit"},
		{name: "wrong check digit", in: "791028302729", wantErr: "check digit"},
		{name: "both passes ten", in: "200515610940", wantErr: "never issued"},
		{name: "too short", in: "79102830272", wantErr: "12 digits"},
		{name: "too long", in: "7910283027281", wantErr: "12 digits"},
		{name: "letters", in: "79102830272a", wantErr: "non-digit"},
		{name: "unicode digits", in: "７９１０２８３０２７２", wantErr: "12 digits"},
		{name: "spaces", in: " 79102830272", wantErr: "non-digit"},
		{name: "century digit 0", in: "791028002728", wantErr: "century"},
		{name: "century digit 7", in: "791028702728", wantErr: "century"},
		{name: "month 13", in: "791328302728", wantErr: "real date"},
		{name: "31 February", in: "790231302728", wantErr: "real date"},
		{name: "empty", in: "", wantErr: "12 digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kezekbot.ParseIIN(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseIIN(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				if kezekbot.ErrorCode(err) != kezekbot.EINVALID {
					t.Fatalf("code = %q, want invalid", kezekbot.ErrorCode(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIIN(%q): %v", tt.in, err)
			}
			if got.Digits() != tt.in {
				t.Fatalf("Digits = %q", got.Digits())
			}
			if b := got.BirthDate().Format(time.DateOnly); b != tt.birth {
				t.Errorf("BirthDate = %s, want %s", b, tt.birth)
			}
			if got.Sex() != tt.sex {
				t.Errorf("Sex = %v, want %v", got.Sex(), tt.sex)
			}
		})
	}
}

// The synthetic prefix from domain.md: no check digit makes it valid.
func TestIINCheckDigitBothPassesTen(t *testing.T) {
	if _, ok := kezekbot.IINCheckDigit("20051561094"); ok {
		t.Fatal("prefix 20051561094 should have no valid check digit")
	}
	for d := 0; d <= 9; d++ {
		if _, err := kezekbot.ParseIIN(fmt.Sprintf("20051561094%d", d)); err == nil {
			t.Fatalf("20051561094%d accepted", d)
		}
	}
}

func TestIINDoesNotLeak(t *testing.T) {
	iin := kezekbot.MustParseIIN("061211600012")
	if s := fmt.Sprint(iin); strings.Contains(s, "061211600012") || s != "0612******12" {
		t.Errorf("fmt shows %q", s)
	}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "iin", iin)
	if strings.Contains(b.String(), "0612116") {
		t.Errorf("slog shows %s", b.String())
	}
	j, err := json.Marshal(struct{ I kezekbot.IIN }{iin})
	if err != nil || string(j) != `{"I":"061211600012"}` {
		t.Fatalf("json = %s, %v", j, err)
	}
	var back struct{ I kezekbot.IIN }
	if err := json.Unmarshal(j, &back); err != nil || !back.I.Equal(iin) {
		t.Fatalf("round trip = %v, %v", back.I, err)
	}
	if err := json.Unmarshal([]byte(`{"I":"123456789012"}`), &back); err == nil {
		t.Fatal("invalid IIN unmarshalled")
	}
}

func FuzzParseIIN(f *testing.F) {
	for _, s := range []string{"791028302728", "061211600012", "123456789012", "", "0000000000000", "99999999999９"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iin, err := kezekbot.ParseIIN(s)
		if err != nil {
			if !iin.IsZero() {
				t.Fatal("error with a non-zero IIN")
			}
			return
		}
		// Whatever parses must be 12 digits whose check digit recomputes, and mask cleanly.
		if iin.Digits() != s || len(s) != 12 {
			t.Fatalf("accepted %q", s)
		}
		d, ok := kezekbot.IINCheckDigit(s[:11])
		if !ok || int(s[11]-'0') != d {
			t.Fatalf("accepted %q with a wrong check digit", s)
		}
		if iin.BirthDate().IsZero() || iin.Sex() == kezekbot.SexUnknown {
			t.Fatalf("accepted %q without a birth date or sex", s)
		}
		if strings.Contains(iin.String(), s[4:10]) {
			t.Fatalf("mask leaks %q", iin.String())
		}
	})
}
