package fakeegov

import "testing"

func TestAPI1URL(t *testing.T) {
	const api1 = "https://kezek.example.kz/s/abc/egov"
	for _, tc := range []struct{ in, want string }{
		{"mobileSign:" + api1, api1},
		{"MOBILESIGN:" + api1, api1},
		{"https://m.egov.kz/mobileSign/?link=https%3A%2F%2Fkezek.example.kz%2Fs%2Fabc%2Fegov", api1},
		{"https://m.egov.kz/mobileSign/?link=https%3A%2F%2Fkezek.example.kz%2Fs%2Fabc%2Fegov&isi=1476128386&ibi=kz.egov.mobile", api1},
		{" " + api1 + " ", api1},
		{"mobileSign:javascript:alert(1)", ""},
		{"https://m.egov.kz/mobileSign/?link=ftp%3A%2F%2Fx", ""},
		{"", ""},
	} {
		got, err := API1URL(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("API1URL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
