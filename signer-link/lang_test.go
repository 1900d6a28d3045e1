package signerlink_test

import (
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/flows"
)

var (
	postAttr = regexp.MustCompile(`data-post="([^"]+)"`)
	docAttr  = regexp.MustCompile(`data-document="([^"]+)"`)
)

// TestPageLanguageCarriesToTheResult: a Kazakh link whose page the parent switched to
// «Русский» answers the signature in Russian, like the rest of the page (and the other way
// round). The page's script posts to data-post and fetches data-document; both say the page's
// language.
func TestPageLanguageCarriesToTheResult(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		link, page flows.Lang
		toggle     string
		want       string
	}{
		{flows.Kazakh, flows.Russian, "?lang=ru", "направление отозвано"},
		{flows.Russian, flows.Kazakh, "?lang=kk", "жолдама кері қайтарылды"},
		{flows.Kazakh, flows.Kazakh, "", "жолдама кері қайтарылды"},
	} {
		p := e.parent(2 * time.Hour)
		link := e.issueRevoke(p, tc.link)
		b := e.browser()
		if st := b.open(link.URL + tc.toggle); st != http.StatusOK || !strings.Contains(b.page, `lang="`+string(tc.page)+`"`) {
			t.Fatalf("%s page → %d", tc.page, st)
		}
		post, doc := postAttr.FindStringSubmatch(b.page), docAttr.FindStringSubmatch(b.page)
		if post == nil || doc == nil {
			t.Fatalf("page lacks data-post / data-document:\n%s", b.page)
		}
		for _, u := range []string{post[1], doc[1]} {
			if !strings.HasSuffix(html.UnescapeString(u), "lang="+string(tc.page)) {
				t.Errorf("%s page sends its requests to %q", tc.page, u)
			}
		}
		// The script's own requests, to the addresses the page gave it.
		b.link = e.srv.URL + html.UnescapeString(post[1])
		r := b.post(e.sign(b.documentAt(e.srv.URL+html.UnescapeString(doc[1])), p.Sign))
		wantStatus(t, r, http.StatusOK, "ok")
		if !strings.Contains(r.Message, tc.want) {
			t.Errorf("link %s, page %s: the result says %q, want %q", tc.link, tc.page, r.Message, tc.want)
		}
		e.res.next(t)
	}
}

// documentAt GETs the document from url as the page's script does.
func (b *browser) documentAt(url string) []byte {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-CSRF-Token", b.csrf)
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatalf("GET document: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.e.t.Fatalf("GET document: %d %s", resp.StatusCode, body)
	}
	return body
}
