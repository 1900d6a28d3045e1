package refcity_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/conformance"
	"github.com/kezekbot/kezekbot/city/refcity"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// validating is a transport that checks every request the client sends and every answer the
// reference city gives against api/queue.yaml (kin-openapi, JSON Schema 2020-12).
type validating struct {
	router routers.Router
	mu     sync.Mutex
	errs   []string
	n      int
}

func (v *validating) fail(format string, args ...any) {
	v.mu.Lock()
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
	v.mu.Unlock()
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.fail("%s %s: no route: %v", req.Method, req.URL.Path, err)
		return http.DefaultTransport.RoundTrip(req)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		v.fail("request %s %s: %v", req.Method, req.URL.Path, err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: opts}
	out.SetBodyBytes(rb)
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		v.fail("answer to %s %s (HTTP %d): %v", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	v.mu.Lock()
	v.n++
	v.mu.Unlock()
	return resp, nil
}

// TestTrafficMatchesTheDocument runs the conformance kit and the refusals through a
// transport that validates both directions against api/queue.yaml: the client's requests and
// the reference city's answers keep the document, not only the Go types.
func TestTrafficMatchesTheDocument(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../../api/queue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("api/queue.yaml is not a valid OpenAPI document: %v", err)
	}
	now := time.Now()
	demo, err := postgres.DemoDetails(now)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := refcity.New(refcity.Config{}, demo)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	doc.Servers = openapi3.Servers{{URL: srv.URL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	v := &validating{router: router}
	c, err := city.NewClient(city.Config{BaseURL: srv.URL, HTTPClient: &http.Client{Transport: v}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range demo {
		if len(d.Revocable(now)) == 0 {
			continue
		}
		rows := conformance.Run(t.Context(), c, conformance.Options{IIN: d.ApplicantIIN, Application: d.ID})
		if conformance.Failed(rows) {
			t.Errorf("kit failed for application %d: %+v", d.ID, rows)
		}
	}
	old := demo[2] // a referral two days old: window_closed
	_, _ = c.Revoke(t.Context(), revokeReq(old, old.Referrals[0].ID, "old"))
	// A push body (the change log as the pusher sends it) against the webhook's schema.
	b, _ := json.Marshal(city.ChangePage{Changes: rc.ChangeLog()})
	var body any
	_ = json.Unmarshal(b, &body)
	if err := doc.Components.Schemas["ChangePage"].Value.VisitJSON(body, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("push body: %v", err)
	}
	if len(v.errs) > 0 || v.n < 30 {
		t.Errorf("%d exchanges, %d off the document:\n%v", v.n, len(v.errs), v.errs)
	}
}
