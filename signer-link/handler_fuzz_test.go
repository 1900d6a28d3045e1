package signerlink

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

type fuzzLinks struct{}

func (fuzzLinks) ReplaceLink(context.Context, string, string, []byte, time.Duration) error {
	return nil
}
func (fuzzLinks) Link(context.Context, string) ([]byte, error) {
	return nil, kezekbot.Errorf(kezekbot.ENOTFOUND, "no link")
}
func (fuzzLinks) ConsumeLink(context.Context, string) ([]byte, error) {
	return nil, kezekbot.Errorf(kezekbot.ENOTFOUND, "no link")
}

type fuzzStore struct{}

func (fuzzStore) Application(context.Context, kezekbot.IIN, int64) (kezekbot.ApplicationDetail, error) {
	return kezekbot.ApplicationDetail{}, kezekbot.Errorf(kezekbot.ENOTFOUND, "no")
}
func (fuzzStore) Bind(context.Context, int64, string, kezekbot.Evidence) error { return nil }
func (fuzzStore) RevokeReferral(context.Context, kezekbot.RevokeRequest) (kezekbot.RevokeResult, error) {
	return kezekbot.RevokeResult{}, nil
}

type fuzzVerifier struct{}

func (fuzzVerifier) Verify(context.Context, []byte, xmlsig.Policy) (*xmlsig.Result, error) {
	return nil, &xmlsig.Error{Reason: xmlsig.ReasonSignatureInvalid}
}

type fuzzResumer struct{}

func (fuzzResumer) Inject(context.Context, int64, flows.Event) error { return nil }

// FuzzHandler throws arbitrary paths, methods, headers and bodies at the handler: it must
// never panic, always send the security headers, and never answer 2xx to a POST (no link
// exists).
func FuzzHandler(f *testing.F) {
	svc, err := New(Config{PublicURL: "https://kezekbot.example", Keys: Keys{Current: testKey(1, 'k')},
		Links: fuzzLinks{}, Store: fuzzStore{}, Verifier: fuzzVerifier{}, Resumer: fuzzResumer{}})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := svc.keys.encodeToken(sampleClaims())
	h := svc.Handler()
	for _, seed := range []struct{ method, path, ct, lang, body string }{
		{"GET", "/s/" + good, "", "kk", ""},
		{"POST", "/s/" + good, "application/xml", "", "<a/>"},
		{"POST", "/s/" + good, "application/x-www-form-urlencoded", "", "xml=%3Ca%2F%3E&csrf=x"},
		{"GET", "/s/static/sign.js", "", "", ""},
		{"GET", "/s/" + good + "/document", "", "", ""},
		{"PUT", "/s/x", "", "ru", ""},
		{"GET", "/other", "", "", ""},
	} {
		f.Add(seed.method, seed.path, seed.ct, seed.lang, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, method, path, ct, lang string, body []byte) {
		// Built by hand: the server has already parsed method and path; the handler must cope
		// with whatever strings they hold.
		req := httptest.NewRequest(http.MethodGet, "https://kezekbot.example/", bytes.NewReader(body))
		req.Method = method
		req.URL.Path = path
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Accept-Language", lang)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Header().Get("Content-Security-Policy") == "" || w.Header().Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%s %s: security headers missing", method, path)
		}
		if method == http.MethodPost && w.Code < 300 {
			t.Fatalf("POST %s → %d", path, w.Code)
		}
	})
}

func FuzzLangFromAcceptLanguage(f *testing.F) {
	for _, s := range []string{"", "kk", "ru-RU,ru;q=0.9", "en, kk;q=0.5", ",,;;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if l := langFromAcceptLanguage(s); l != flows.Kazakh && l != flows.Russian {
			t.Fatalf("%q → %q", s, l)
		}
	})
}
