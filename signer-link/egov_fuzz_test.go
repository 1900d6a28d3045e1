package signerlink

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseEGovPut feeds the PUT body parser anything: it never panics, accepts only a
// non-blank document of at most MaxBodySize bytes, and gives back exactly the documentXml a
// well-formed body carries.
func FuzzParseEGovPut(f *testing.F) {
	good, _ := json.Marshal(map[string]any{"signMethod": "XML", "documentsToSign": []any{map[string]any{
		"id": 1, "nameRu": "Вход", "meta": []any{map[string]string{"name": "a", "value": "b"}}, "documentXml": "<a>1</a>",
	}}})
	for _, s := range []string{
		string(good),
		`{"documentsToSign":[{"id":1,"documentXml":"<a/>"}]}`,
		`{"signMethod":"CMS_WITH_DATA","documentsToSign":[{"id":1,"documentXml":"<a/>"}]}`,
		`{"documentsToSign":[{"id":1.0,"documentXml":"<a/>"}]}`,
		`{"documentsToSign":[{"id":"1","documentXml":"<a/>"}]}`,
		`{"documentsToSign":[{"id":1,"documentXml":"<a/>"}]} {}`,
		`{"documentsToSign":[{"id":1,"documentXml":null}]}`,
		`{"documentsToSign":[]}`, `[]`, `null`, ``, `{`, `"\ud800"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		xml, reason := ParseEGovPut(body)
		switch reason {
		case "":
			if len(xml) == 0 || len(xml) > MaxBodySize || strings.TrimSpace(string(xml)) == "" {
				t.Fatalf("accepted a document of %d bytes", len(xml))
			}
			// What was accepted survives a round trip through the protocol's shape.
			again, _ := json.Marshal(map[string]any{"documentsToSign": []any{map[string]any{"id": 1, "documentXml": string(xml)}}})
			if back, r := ParseEGovPut(again); r != "" || string(back) != string(xml) {
				t.Fatalf("round trip: %q (%s)", back, r)
			}
		case "egov_body", "too_large":
			if xml != nil {
				t.Fatal("refused but returned a document")
			}
		default:
			t.Fatalf("unknown reason %q", reason)
		}
	})
}

func TestParseEGovPut(t *testing.T) {
	for _, tc := range []struct {
		body, want, reason string
	}{
		{`{"signMethod":"XML","documentsToSign":[{"id":1,"documentXml":"<a/>","extra":1}],"version":1}`, "<a/>", ""},
		{`{"documentsToSign":[{"id":1,"documentXml":"\u003ca/\u003e"}]}`, "<a/>", ""},
		{`{"signMethod":"CMS_SIGN_ONLY","documentsToSign":[{"id":1,"documentXml":"<a/>"}]}`, "", "egov_body"},
		{`{"documentsToSign":[{"id":2,"documentXml":"<a/>"}]}`, "", "egov_body"},
		{`{"documentsToSign":[{"id":1,"documentXml":"<a/>"},{"id":1,"documentXml":"<b/>"}]}`, "", "egov_body"},
		{`{"documentsToSign":[{"id":1,"documentXml":"  "}]}`, "", "egov_body"},
		{`{"documentsToSign":[{"id":1,"documentXml":"<a/>"}]}x`, "", "egov_body"},
		{`{"documentsToSign":[{"id":1,"documentXml":"` + strings.Repeat("x", MaxBodySize+1) + `"}]}`, "", "too_large"},
	} {
		got, reason := ParseEGovPut([]byte(tc.body))
		if string(got) != tc.want || reason != tc.reason {
			t.Errorf("%.60s → %q %q, want %q %q", tc.body, got, reason, tc.want, tc.reason)
		}
	}
}

// BenchmarkQRPNG is the cost of the QR code the page shows (drawn per request, not cached).
func BenchmarkQRPNG(b *testing.B) {
	link := "mobileSign:https://kezek.example.kz/s/" + strings.Repeat("A", 112) + "/egov"
	for b.Loop() {
		if _, err := qrPNG(link); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEGovPut is the cost of reading a PUT to API №2 with a 5 KB signed document.
func BenchmarkParseEGovPut(b *testing.B) {
	body, _ := json.Marshal(map[string]any{"signMethod": "XML", "documentsToSign": []any{map[string]any{
		"id": 1, "documentXml": "<a>" + strings.Repeat("x", 5000) + "</a>",
	}}})
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, r := ParseEGovPut(body); r != "" {
			b.Fatal(r)
		}
	}
}
