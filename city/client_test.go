package city_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
)

var (
	parentIIN = kezekbot.MustParseIIN("880412401274")
	otherIIN  = kezekbot.MustParseIIN("871109303456")
	childIIN  = kezekbot.MustParseIIN("210214500019")
)

// testApp is a valid snapshot of application id of parentIIN with one active referral 10.
func testApp(id int64) city.Application {
	issued := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	d := kezekbot.ApplicationDetail{
		Application: kezekbot.Application{
			ID: id, Number: "УО.2021.004518.1", ChildName: "Жұмабаев Нұрислам", ChildIIN: childIIN,
			ChildBirthDate: time.Date(2021, 2, 14, 0, 0, 0, 0, time.UTC), ApplicantName: "Жұмабаева Әсел",
			ApplicantIIN: parentIIN, Benefit: kezekbot.BenefitNone, RegisteredAt: time.Date(2021, 3, 2, 6, 24, 37, 0, time.UTC),
			Status: kezekbot.StatusReferralIssued, StatusChangedAt: issued, QueuedSince: time.Date(2021, 3, 2, 6, 24, 37, 0, time.UTC),
			QueueNumber: 1,
		},
		Referrals: []kezekbot.Referral{{ID: 10, ApplicationID: id, Kindergarten: kezekbot.Kindergarten{ID: 1, Name: "Ясли-сад №57", Address: "ул. Сыганак, 18/1", Lat: 51.1, Lon: 71.4},
			IssuedAt: issued, State: kezekbot.ReferralActive, EnrolBefore: time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC)}},
		History:   []kezekbot.HistoryEntry{{At: issued, Event: kezekbot.EventReferralIssued, Status: kezekbot.StatusReferralIssued}},
		Documents: []kezekbot.Document{{Kind: "birth_certificate", Number: "№ 1", IssuedAt: time.Date(2021, 2, 20, 0, 0, 0, 0, time.UTC)}},
	}
	return city.FromDetail(d, 3)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type answer struct {
	status int
	ct     string
	body   string
	header map[string]string
}

func serve(t *testing.T, a answer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		if a.ct != "" {
			w.Header().Set("Content-Type", a.ct)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) CityRequest(endpoint, result string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, endpoint+"/"+result)
}

func newClient(t *testing.T, url string, mod func(*city.Config)) *city.Client {
	t.Helper()
	cfg := city.Config{BaseURL: url, Token: "s3cret-token-do-not-print"}
	if mod != nil {
		mod(&cfg)
	}
	c, err := city.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestApplicationAnswers(t *testing.T) {
	good := mustJSON(t, testApp(7))
	other := testApp(7)
	other.Applicant.IIN = otherIIN
	broken := testApp(7)
	broken.Status = "lost"
	const jsonCT, problemCT = "application/json", "application/problem+json"
	tests := []struct {
		name   string
		a      answer
		want   string // ok, problem:<code>, unavailable, contract
		result string
	}{
		{"ok", answer{200, jsonCT, good, nil}, "ok", city.ResultOK},
		{"ok with charset", answer{200, "application/json; charset=utf-8", good, nil}, "ok", city.ResultOK},
		{"not found", answer{404, problemCT, `{"code":"not_found","message":"no such application"}`, nil}, "problem:not_found", city.ResultNotFound},
		{"404 with another code", answer{404, problemCT, `{"code":"not_active"}`, nil}, "contract", city.ResultContract},
		{"404 without body", answer{404, "text/plain", "404 page not found", nil}, "contract", city.ResultContract},
		{"422 unknown code", answer{422, problemCT, `{"code":"because"}`, nil}, "contract", city.ResultContract},
		{"500", answer{500, "text/plain", "boom", nil}, "unavailable", city.ResultUnavailable},
		{"502", answer{502, "", "", nil}, "unavailable", city.ResultUnavailable},
		{"429", answer{429, "", "", map[string]string{"Retry-After": "7"}}, "unavailable", city.ResultUnavailable},
		{"401", answer{401, "", "", nil}, "unavailable", city.ResultUnavailable},
		{"403", answer{403, "", "", nil}, "unavailable", city.ResultUnavailable},
		{"302", answer{302, "", "", map[string]string{"Location": "http://elsewhere.example/"}}, "contract", city.ResultContract},
		{"418", answer{418, "", "", nil}, "contract", city.ResultContract},
		{"malformed JSON", answer{200, jsonCT, `{"id": 7, "revision":`, nil}, "contract", city.ResultContract},
		{"trailing data", answer{200, jsonCT, good + `{}`, nil}, "contract", city.ResultContract},
		{"unknown field", answer{200, jsonCT, strings.Replace(good, `{"id":7`, `{"extra":1,"id":7`, 1), nil}, "contract", city.ResultContract},
		{"wrong content type", answer{200, "text/html", good, nil}, "contract", city.ResultContract},
		{"no content type", answer{200, "", good, nil}, "contract", city.ResultContract},
		{"another applicant", answer{200, jsonCT, mustJSON(t, other), nil}, "contract", city.ResultContract},
		{"bad snapshot", answer{200, jsonCT, mustJSON(t, broken), nil}, "contract", city.ResultContract},
		{"another id", answer{200, jsonCT, mustJSON(t, testApp(8)), nil}, "contract", city.ResultContract},
		{"bad IIN", answer{200, jsonCT, strings.Replace(good, "880412401274", "880412401275", 1), nil}, "contract", city.ResultContract},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			srv := serve(t, tt.a)
			c := newClient(t, srv.URL, func(c *city.Config) { c.Metrics = rec })
			got, err := c.Application(t.Context(), parentIIN, 7)
			checkErr(t, err, tt.want)
			if tt.want == "ok" && got.ID != 7 {
				t.Errorf("got application %d", got.ID)
			}
			if len(rec.seen) != 1 || rec.seen[0] != "application/"+tt.result {
				t.Errorf("metrics saw %v, want application/%s", rec.seen, tt.result)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the token: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), parentIIN.Digits()) {
				t.Errorf("error shows the IIN: %v", err)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	var (
		p  *city.Problem
		u  *city.Unavailable
		ce *city.ContractError
	)
	switch {
	case want == "ok":
		if err != nil {
			t.Fatalf("err = %v, want none", err)
		}
	case strings.HasPrefix(want, "problem:"):
		if !errors.As(err, &p) || p.Code != strings.TrimPrefix(want, "problem:") {
			t.Fatalf("err = %#v, want a problem %s", err, want)
		}
	case want == "unavailable":
		if !errors.As(err, &u) {
			t.Fatalf("err = %#v, want *Unavailable", err)
		}
	case want == "contract":
		if !errors.As(err, &ce) {
			t.Fatalf("err = %#v, want *ContractError", err)
		}
	default:
		t.Fatalf("bad want %q", want)
	}
}

func TestRetryAfter(t *testing.T) {
	later := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		header   string
		min, max time.Duration
	}{
		{"", 0, 0},
		{"12", 12 * time.Second, 12 * time.Second},
		{"0", 0, 0},
		{"-5", 0, 0},
		{"999999", time.Hour, time.Hour},
		{later, 80 * time.Second, 91 * time.Second},
		{"Mon, 02 Jan 2006 15:04:05 GMT", 0, 0}, // in the past
		{"soon", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			srv := serve(t, answer{503, "", "", map[string]string{"Retry-After": tt.header}})
			_, err := newClient(t, srv.URL, nil).Applications(t.Context(), parentIIN)
			var u *city.Unavailable
			if !errors.As(err, &u) {
				t.Fatalf("err = %v", err)
			}
			if u.RetryAfter < tt.min || u.RetryAfter > tt.max {
				t.Errorf("RetryAfter = %v, want %v..%v", u.RetryAfter, tt.min, tt.max)
			}
		})
	}
}

func TestApplications(t *testing.T) {
	var gotBody city.SearchRequest
	var gotAuth, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.Method+" "+r.URL.Path
		_ = json.NewDecoder(r.Body).Decode(&gotBody)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(city.ApplicationList{Applications: []city.Application{testApp(1), testApp(2)}})
	}))
	defer srv.Close()
	apps, err := newClient(t, srv.URL+"/", nil).Applications(t.Context(), parentIIN)
	if err != nil || len(apps) != 2 {
		t.Fatalf("apps %d, err %v", len(apps), err)
	}
	if gotAuth != "Bearer s3cret-token-do-not-print" || gotPath != "POST /v1/applications/search" || !gotBody.ApplicantIIN.Equal(parentIIN) {
		t.Errorf("request: %q %q %v", gotAuth, gotPath, gotBody.ApplicantIIN)
	}

	// An empty list is fine; a missing one is not; someone else's application is never.
	for body, want := range map[string]string{
		`{"applications":[]}`: "ok",
		`{}`:                  "contract",
		mustJSON(t, city.ApplicationList{Applications: []city.Application{testApp(1), func() city.Application {
			a := testApp(2)
			a.Applicant.IIN = otherIIN
			return a
		}()}}): "contract",
	} {
		srv := serve(t, answer{200, "application/json", body, nil})
		_, err := newClient(t, srv.URL, nil).Applications(t.Context(), parentIIN)
		checkErr(t, err, want)
	}
}

func TestOversize(t *testing.T) {
	big := `{"applications":[` + strings.Repeat(mustJSON(t, testApp(1))+",", 3000) + mustJSON(t, testApp(1)) + `]}`
	srv := serve(t, answer{200, "application/json", big, nil})
	_, err := newClient(t, srv.URL, func(c *city.Config) { c.MaxBody = 1 << 20 }).Applications(t.Context(), parentIIN)
	checkErr(t, err, "contract")
	if !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v", err)
	}
	_, err = newClient(t, srv.URL, func(c *city.Config) { c.MaxBody = int64(len(big)) }).Applications(t.Context(), parentIIN)
	checkErr(t, err, "ok")
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client that gave up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
			return
		case <-release:
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"applications":[]}`)
	}))
	defer srv.Close()
	defer close(release)

	rec := &recorder{}
	c := newClient(t, srv.URL, func(c *city.Config) { c.Timeout = 30 * time.Millisecond; c.Metrics = rec })
	_, err := c.Applications(t.Context(), parentIIN)
	var u *city.Unavailable
	if !errors.As(err, &u) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want Unavailable with a deadline", err)
	}
	if rec.seen[0] != "search/timeout" {
		t.Errorf("metrics %v", rec.seen)
	}

	// The caller's deadline wins over the configured timeout.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := c.Applications(ctx, parentIIN); done <- err }()
	time.Sleep(100 * time.Millisecond) // longer than Timeout: the request must still be waiting
	release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatalf("with the caller's deadline: %v", err)
	}
}

func TestNetworkError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = newClient(t, "http://"+addr, nil).Applications(t.Context(), parentIIN)
	checkErr(t, err, "unavailable")
}

func testRevokeRequest() city.RevokeRequest {
	return city.RevokeRequest{
		IdempotencyKey: "rev-7-10-abc", ApplicantIIN: parentIIN, ApplicationID: 7, ReferralID: 10,
		Reason: "Далеко от дома", SignedXML: "<revoke>…</revoke>", SignedAt: time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC),
		CertSerial: "1a2b", CertIssuer: "CN=НУЦ РК (RSA)",
	}
}

func TestRevoke(t *testing.T) {
	after := testApp(7)
	after.Status, after.QueueNumber = string(kezekbot.StatusQueued), 3
	after.Referrals[0].State = string(kezekbot.ReferralRevoked)
	accepted := city.RevokeAccepted{Status: after.Status, QueueNumber: 3, Application: after}
	var gotKey string
	var got city.RevokeRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.Header.Get("Idempotency-Key")
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(accepted)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, nil)
	req := testRevokeRequest()
	res, err := c.Revoke(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.QueueNumber != 3 || gotKey != req.IdempotencyKey || got.SignedXML != req.SignedXML {
		t.Errorf("res %+v key %q xml %q", res.QueueNumber, gotKey, got.SignedXML)
	}

	// Answers that claim acceptance but do not show it.
	for name, mod := range map[string]func(*city.RevokeAccepted){
		"not revoked":      func(a *city.RevokeAccepted) { a.Application.Referrals[0].State = "active" },
		"numbers disagree": func(a *city.RevokeAccepted) { a.QueueNumber = 9 },
		"other app":        func(a *city.RevokeAccepted) { a.Application.ID = 8 },
	} {
		a := accepted
		a.Application = after
		a.Application.Referrals = []city.Referral{after.Referrals[0]}
		mod(&a)
		srv := serve(t, answer{200, "application/json", mustJSON(t, a), nil})
		_, err := newClient(t, srv.URL, nil).Revoke(t.Context(), req)
		var ce *city.ContractError
		if !errors.As(err, &ce) {
			t.Errorf("%s: err = %v, want a contract error", name, err)
		}
	}

	for _, code := range city.RefusalCodes {
		srv := serve(t, answer{422, "application/problem+json", `{"code":"` + code + `"}`, nil})
		_, err := newClient(t, srv.URL, nil).Revoke(t.Context(), req)
		checkErr(t, err, "problem:"+code)
	}

	bad := req
	bad.IdempotencyKey = "has space"
	if _, err := c.Revoke(t.Context(), bad); kezekbot.ErrorCode(err) != kezekbot.EINVALID {
		t.Errorf("bad key: %v", err)
	}
}

func TestChanges(t *testing.T) {
	ch := city.Change{ID: "c-1", Kind: city.ChangeReferralIssued, At: time.Now().UTC(), ReferralID: 10, Application: testApp(7)}
	var gotQuery string
	tests := []struct {
		name  string
		after string
		limit int
		page  city.ChangePage
		want  string
	}{
		{"first page", "", 10, city.ChangePage{Changes: []city.Change{ch}, Next: "1"}, "ok"},
		{"nothing at the start", "", 0, city.ChangePage{Changes: []city.Change{}}, "ok"},
		{"nothing new", "5", 0, city.ChangePage{Changes: []city.Change{}, Next: "5"}, "ok"},
		{"nothing new, cursor moved", "5", 0, city.ChangePage{Changes: []city.Change{}, Next: "6"}, "contract"},
		{"no next", "", 0, city.ChangePage{Changes: []city.Change{ch}}, "contract"},
		{"over the limit", "", 1, city.ChangePage{Changes: []city.Change{ch, ch}, Next: "2"}, "contract"},
		{"unknown kind", "", 0, city.ChangePage{Changes: []city.Change{{ID: "x", Kind: "moved", At: ch.At, Application: ch.Application}}, Next: "1"}, "contract"},
		{"missing referral", "", 0, city.ChangePage{Changes: []city.Change{{ID: "x", Kind: city.ChangeReferralRevoked, At: ch.At, ReferralID: 99, Application: ch.Application}}, Next: "1"}, "contract"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotQuery = r.URL.RawQuery
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(tt.page)
			}))
			defer srv.Close()
			_, err := newClient(t, srv.URL, nil).Changes(t.Context(), tt.after, tt.limit)
			checkErr(t, err, tt.want)
			if tt.after == "5" && gotQuery != "after=5" {
				t.Errorf("query %q", gotQuery)
			}
		})
	}
}

func TestNewClientConfig(t *testing.T) {
	for _, cfg := range []city.Config{
		{BaseURL: ""},
		{BaseURL: "ftp://city.example"},
		{BaseURL: "https://user:pw@city.example"},
		{BaseURL: "https://city.example?x=1"},
		{BaseURL: "https://city.example", Token: "a\nb"},
		{BaseURL: "https://city.example", CertFile: "x.pem"},
		{BaseURL: "https://city.example", CAFile: "/nonexistent/ca.pem"},
		{BaseURL: "https://city.example", CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"},
	} {
		if _, err := city.NewClient(cfg); kezekbot.ErrorCode(err) != kezekbot.EINVALID {
			t.Errorf("%+v: err = %v, want EINVALID", cfg, err)
		}
	}
}

// TestMutualTLS runs the client against a server that requires a client certificate from the
// test CA: with the certificate it works, without one the handshake fails (Unavailable), and
// a server certificate from another CA is refused.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t, "test city CA")
	serverCert := issue(t, ca, caKey, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	clientCert := issue(t, ca, caKey, "kezekbot", x509.ExtKeyUsageClientAuth)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	writePEM(t, filepath.Join(dir, "client.pem"), "CERTIFICATE", clientCert.Certificate[0])
	kb, _ := x509.MarshalPKCS8PrivateKey(clientCert.PrivateKey)
	writePEM(t, filepath.Join(dir, "client.key"), "PRIVATE KEY", kb)
	other, _ := newCA(t, "another CA")
	writePEM(t, filepath.Join(dir, "other.pem"), "CERTIFICATE", other.Raw)

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "kezekbot" {
			w.WriteHeader(403)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"applications":[]}`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()

	mtls := func(c *city.Config) {
		c.Token, c.CertFile, c.KeyFile, c.CAFile = "", filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"), filepath.Join(dir, "ca.pem")
	}
	if _, err := newClient(t, srv.URL, mtls).Applications(t.Context(), parentIIN); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	_, err := newClient(t, srv.URL, func(c *city.Config) { c.CAFile = filepath.Join(dir, "ca.pem") }).Applications(t.Context(), parentIIN)
	checkErr(t, err, "unavailable")
	_, err = newClient(t, srv.URL, func(c *city.Config) { mtls(c); c.CAFile = filepath.Join(dir, "other.pem") }).Applications(t.Context(), parentIIN)
	checkErr(t, err, "unavailable")
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, eku x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku},
	}
	if ip := net.ParseIP(cn); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSignature(t *testing.T) {
	secret := []byte("push-secret")
	body := []byte(`{"changes":[]}`)
	now := time.Unix(1_800_000_000, 0)
	h := city.Sign(secret, now, body)
	tests := []struct {
		name   string
		header string
		body   []byte
		at     time.Time
		want   error
	}{
		{"ok", h, body, now, nil},
		{"ok 4 minutes later", h, body, now.Add(4 * time.Minute), nil},
		{"stale", h, body, now.Add(6 * time.Minute), city.ErrSignatureStale},
		{"future", h, body, now.Add(-6 * time.Minute), city.ErrSignatureStale},
		{"other body", h, []byte(`{"changes":[{}]}`), now, city.ErrSignatureBad},
		{"other secret", city.Sign([]byte("x"), now, body), body, now, city.ErrSignatureBad},
		{"rotation", city.Sign([]byte("x"), now, body) + "," + strings.Split(h, ",")[1], body, now, nil},
		{"missing", "", body, now, city.ErrSignatureMissing},
		{"no v1", "t=1800000000", body, now, city.ErrSignatureMissing},
		{"garbage", "v1=zz,t=1", body, now, city.ErrSignatureMissing},
		{"two t", "t=1800000000,t=1800000000," + strings.Split(h, ",")[1], body, now, city.ErrSignatureMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := city.VerifySignature(secret, tt.header, tt.body, tt.at); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
