// Package fakeegov stands in for the eGov mobile app in tests and the sandbox. Given what a
// parent's phone gets — the QR code's mobileSign: link or the same-device launcher URL — it
// speaks the app's side of the protocol: API №1 (GET: description, organisation, the document
// URI and its one-time token), API №2 (GET: the XML to sign; PUT: the signed XML back), and
// signs with TEST keys from xmlsigtest instead of asking a person.
//
// The protocol as followed here is the one in ../shared/notes/ecp.md §5 and gost-mobile.md §4;
// what the real app does beyond it (the allow-list of domains, Accept-Language, its own
// retries) is not imitated. TEST KEYS, NOT REAL.
package fakeegov

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// Mode is how the "parent" in the app behaves.
type Mode int

const (
	// Sign signs with the key the document asks for: AUTH to sign in (bind), SIGN to revoke.
	Sign Mode = iota
	// WrongKey signs with the other key, like a parent who picks the wrong one.
	WrongKey
)

// Options configure a Client.
type Options struct {
	// Auth and Sign are the parent's keys.
	Auth, Sign *xmlsigtest.Person
	// KeysFor, when set, picks the keys by the document instead (the sandbox holds several
	// demo parents and signs as the one the document was issued to).
	KeysFor func(doc string) (auth, sign *xmlsigtest.Person)
	Mode    Mode
	// HTTP is the client for the API calls; a client with a 30 s timeout when nil.
	HTTP *http.Client
}

// Client is a fake eGov mobile app. It is safe for concurrent use.
type Client struct {
	o    Options
	http *http.Client
}

// New returns a client.
func New(o Options) *Client {
	c := &Client{o: o, http: o.HTTP}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	return c
}

// API1 is API №1's answer.
type API1 struct {
	Description  string `json:"description"`
	ExpiryDate   string `json:"expiry_date"`
	Organisation struct {
		NameRu string `json:"nameRu"`
		NameKz string `json:"nameKz"`
		NameEn string `json:"nameEn"`
		BIN    string `json:"bin"`
	} `json:"organisation"`
	Document struct {
		URI       string `json:"uri"`
		AuthType  string `json:"auth_type"`
		AuthToken string `json:"auth_token"`
	} `json:"document"`
}

// Document is API №2's answer (and, with the XML signed, the PUT's body).
type Document struct {
	SignMethod      string `json:"signMethod"`
	DocumentsToSign []struct {
		ID          int    `json:"id"`
		NameRu      string `json:"nameRu"`
		NameKz      string `json:"nameKz"`
		NameEn      string `json:"nameEn"`
		Meta        []Meta `json:"meta"`
		DocumentXML string `json:"documentXml"`
	} `json:"documentsToSign"`
}

// Meta is one line the app shows about a document.
type Meta struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Answer is the server's answer to a call: the HTTP status and the protocol's JSON
// ({"status":"success"} or {"status":"error","code","message"}).
type Answer struct {
	StatusCode int
	Status     string `json:"status"`
	Code       string `json:"code"`
	Message    string `json:"message"`
}

// API1URL finds the API №1 URL in what the phone got: "mobileSign:<url>" (the QR code), a
// launcher URL with the API №1 URL in its link parameter, or the URL itself.
func API1URL(link string) (string, error) {
	link = strings.TrimSpace(link)
	if rest, ok := cutPrefixFold(link, "mobileSign:"); ok {
		link = rest
	} else if u, err := url.Parse(link); err == nil && u.Query().Get("link") != "" {
		link = u.Query().Get("link")
	}
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("fake eGov mobile: %q holds no API №1 URL", clip(link))
	}
	return u.String(), nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Open calls API №1.
func (c *Client) Open(ctx context.Context, api1 string) (*API1, Answer, error) {
	var a API1
	ans, err := c.do(ctx, http.MethodGet, api1, "", nil, &a)
	if err != nil || ans.StatusCode != http.StatusOK {
		return nil, ans, err
	}
	if a.Document.URI == "" {
		return nil, ans, errors.New("fake eGov mobile: API №1 gave no document URI")
	}
	return &a, ans, nil
}

// Fetch calls API №2 with GET and the token (empty: no Authorization header).
func (c *Client) Fetch(ctx context.Context, uri, token string) (*Document, Answer, error) {
	var d Document
	ans, err := c.do(ctx, http.MethodGet, uri, token, nil, &d)
	if err != nil || ans.StatusCode != http.StatusOK {
		return nil, ans, err
	}
	if d.SignMethod != "XML" || len(d.DocumentsToSign) != 1 {
		return nil, ans, fmt.Errorf("fake eGov mobile: API №2 wants %q with %d documents, only XML with one is supported", d.SignMethod, len(d.DocumentsToSign))
	}
	return &d, ans, nil
}

// Put sends body to API №2 with PUT, as application/json.
func (c *Client) Put(ctx context.Context, uri, token string, body []byte) (Answer, error) {
	return c.do(ctx, http.MethodPut, uri, token, body, nil)
}

// SignDocument signs d's XML the way the parent in the app would (Options.Mode) and returns
// the PUT body: d with documentXml replaced by the signed XML.
func (c *Client) SignDocument(d *Document) ([]byte, error) {
	doc := d.DocumentsToSign[0].DocumentXML
	auth, sign := c.o.Auth, c.o.Sign
	if c.o.KeysFor != nil {
		auth, sign = c.o.KeysFor(doc)
	}
	wantAuth := strings.Contains(doc, "<action>bind</action>")
	if c.o.Mode == WrongKey {
		wantAuth = !wantAuth
	}
	p := sign
	if wantAuth {
		p = auth
	}
	if p == nil {
		return nil, errors.New("fake eGov mobile: no key for this document")
	}
	signed, err := xmlsigtest.Sign([]byte(doc), p)
	if err != nil {
		return nil, fmt.Errorf("fake eGov mobile: %w", err)
	}
	out := *d
	out.DocumentsToSign = append(out.DocumentsToSign[:0:0], d.DocumentsToSign...)
	out.DocumentsToSign[0].DocumentXML = string(signed)
	return json.Marshal(out)
}

// SignLink does what the app does with a scanned or tapped link: API №1, API №2 GET, sign,
// API №2 PUT. It returns the PUT's answer; err is for a failure before it (the answer then
// is the failed call's).
func (c *Client) SignLink(ctx context.Context, link string) (Answer, error) {
	api1, err := API1URL(link)
	if err != nil {
		return Answer{}, err
	}
	a, ans, err := c.Open(ctx, api1)
	if err != nil {
		return ans, err
	}
	if a == nil {
		return ans, fmt.Errorf("fake eGov mobile: API №1 answered %d %s", ans.StatusCode, ans.Code)
	}
	switch a.Document.AuthType {
	case "Token", "Bearer", "None":
	default:
		return ans, fmt.Errorf("fake eGov mobile: auth type %q is not supported", a.Document.AuthType)
	}
	d, ans, err := c.Fetch(ctx, a.Document.URI, a.Document.AuthToken)
	if err != nil {
		return ans, err
	}
	if d == nil {
		return ans, fmt.Errorf("fake eGov mobile: API №2 answered %d %s", ans.StatusCode, ans.Code)
	}
	body, err := c.SignDocument(d)
	if err != nil {
		return Answer{}, err
	}
	return c.Put(ctx, a.Document.URI, a.Document.AuthToken, body)
}

// do makes one call. A JSON answer with status 200 is decoded into out; any other answer into
// the returned Answer.
func (c *Client) do(ctx context.Context, method, uri, token string, body []byte, out any) (Answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, uri, rd)
	if err != nil {
		return Answer{}, fmt.Errorf("fake eGov mobile: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("fake eGov mobile: %s: %w", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Answer{StatusCode: resp.StatusCode}, fmt.Errorf("fake eGov mobile: read answer: %w", err)
	}
	ans := Answer{StatusCode: resp.StatusCode}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return ans, fmt.Errorf("fake eGov mobile: %s answered %d with %q, not JSON", method, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return ans, fmt.Errorf("fake eGov mobile: decode answer: %w", err)
		}
		return ans, nil
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return ans, fmt.Errorf("fake eGov mobile: decode answer: %w", err)
	}
	ans.StatusCode = resp.StatusCode
	return ans, nil
}
