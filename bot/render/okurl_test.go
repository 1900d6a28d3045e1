package render

import "testing"

// TestOKURL: https anywhere, plain http only to the loopback address the sandbox serves on.
func TestOKURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://kezekbot.kz/s/abc", true},
		{"https://2gis.kz/astana/geo/71.43,51.12", true},
		{"http://127.0.0.1:8080/s/abc", true},
		{"http://localhost:8080/s/abc", true},
		{"http://[::1]:8080/s/abc", true},
		{"http://plain.example/s/abc", false},
		{"http://10.0.0.1/s/abc", false},
		{"http://127.0.0.1.example/s/abc", false},
		{"javascript:alert(1)", false},
		{"tg://resolve?domain=x", false},
		{"https:///nohost", false},
		{"//127.0.0.1/s/abc", false},
	} {
		if got := okURL(tc.url); got != tc.ok {
			t.Errorf("okURL(%q) = %v, want %v", tc.url, got, tc.ok)
		}
	}
}
