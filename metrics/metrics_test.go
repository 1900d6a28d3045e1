package metrics

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNilMetricsIsNoop(t *testing.T) {
	var m *Metrics
	// None of these may panic.
	m.UpdateReceived(UpdateMessage)
	m.UpdateHandled(UpdateMessage, time.Millisecond, errors.New("x"))
	m.APICall("sendMessage", ResultOK)
	m.StateEntered("menu")
	m.Signature(SignatureRejected, "expired")
	m.Revocation(ResultOK)
	m.Delivery("sent")
	m.QueueLag(time.Second)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("nil Handler: status %d, want 404", rec.Code)
	}
}

func TestRecording(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)

	m.UpdateReceived(UpdateMessage)
	m.UpdateReceived(UpdateMessage)
	m.UpdateReceived("inline_query") // not asked for: counted as other
	m.UpdateHandled(UpdateCallbackQuery, 3*time.Millisecond, nil)
	m.UpdateHandled(UpdateCallbackQuery, 40*time.Millisecond, errors.New("boom"))
	m.APICall("sendMessage", ResultOK)
	m.APICall("sendMessage", ResultRateLimited)
	m.APICall("sendMessage", ResultRateLimited)
	m.StateEntered("")
	m.StateEntered("menu")
	m.Signature(SignatureVerified, "")
	m.Signature(SignatureRejected, "iin_mismatch")
	m.Revocation(ResultOK)
	m.Delivery("blocked")
	m.QueueLag(1500 * time.Millisecond)

	checks := []struct {
		c    prometheus.Collector
		want float64
	}{
		{m.updates[kindMessage].received, 2},
		{m.updates[kindOther].received, 1},
		{m.updates[kindCallbackQuery].handled, 2},
		{m.updates[kindCallbackQuery].failed, 1},
		{m.apiCalls.get([2]string{"sendMessage", "429"}), 2},
		{m.apiCalls.get([2]string{"sendMessage", "ok"}), 1},
		{m.states.get(""), 1},
		{m.signatures.get([2]string{"rejected", "iin_mismatch"}), 1},
		{m.revokes.get("ok"), 1},
		{m.deliveries.get("blocked"), 1},
		{m.queueLag, 1.5},
	}
	for i, c := range checks {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("check %d: got %v, want %v", i, got, c.want)
		}
	}

	// The exposition names the label values callers and dashboards rely on.
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`kezekbot_updates_received_total{type="message"} 2`,
		`kezekbot_updates_received_total{type="other"} 1`,
		`kezekbot_updates_failed_total{type="callback_query"} 1`,
		`kezekbot_update_handling_seconds_bucket{type="callback_query",le="0.003"} 1`,
		`kezekbot_update_handling_seconds_bucket{type="callback_query",le="0.05"} 2`,
		`kezekbot_telegram_api_calls_total{method="sendMessage",result="429"} 2`,
		`kezekbot_dialog_states_entered_total{state="new"} 1`,
		`kezekbot_dialog_states_entered_total{state="menu"} 1`,
		`kezekbot_signatures_total{reason="none",result="verified"} 1`,
		`kezekbot_signatures_total{reason="iin_mismatch",result="rejected"} 1`,
		`kezekbot_revocations_total{result="ok"} 1`,
		`kezekbot_broadcast_deliveries_total{state="blocked"} 1`,
		`kezekbot_queue_lag_seconds 1.5`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

func TestLintMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

func TestNewTwiceReusesCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := New(reg)
	b := New(reg)
	a.Revocation("ok")
	b.Revocation("ok")
	if got := testutil.ToFloat64(a.revokes.get("ok")); got != 2 {
		t.Fatalf("two recorders on one registry: got %v, want 2 in the shared series", got)
	}
}

func TestNewNilRegistryHasRuntimeMetrics(t *testing.T) {
	m := New(nil)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(b), "go_goroutines") {
		t.Fatalf("New(nil) registry lacks the Go collector")
	}
}

func TestLabelCardinalityIsCapped(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	for i := 0; i < 3*maxSeries; i++ {
		m.StateEntered(fmt.Sprintf("s%d", i))
	}
	m.StateEntered("\xff\xfe")                    // invalid UTF-8 would make WithLabelValues panic
	m.Delivery(strings.Repeat("x", 200))          // an error text by mistake
	m.Signature(SignatureRejected, "\xc3\x28bad") // invalid in the second label
	if n := testutil.CollectAndCount(reg, "kezekbot_dialog_states_entered_total"); n > maxSeries+1 {
		t.Fatalf("states series = %d, want at most %d", n, maxSeries+1)
	}
	if got := testutil.ToFloat64(m.states.get("another")); got < 1 {
		t.Fatalf("overflow series not counted: %v", got)
	}
	if got := testutil.ToFloat64(m.deliveries.get(strings.Repeat("x", 200))); got != 1 {
		t.Fatalf("long value: %v", got)
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				m.APICall(fmt.Sprintf("m%d", i%10), ResultOK)
				m.UpdateReceived(UpdateMessage)
			}
		}()
	}
	wg.Wait()
	var total float64
	for i := 0; i < 10; i++ {
		total += testutil.ToFloat64(m.apiCalls.get([2]string{fmt.Sprintf("m%d", i), ResultOK}))
	}
	if total != 8*200 {
		t.Fatalf("api calls = %v, want %d", total, 8*200)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	m := New(prometheus.NewRegistry())
	err := errors.New("x")
	m.APICall("sendMessage", ResultOK) // warm the cache
	m.StateEntered("menu")
	allocs := testing.AllocsPerRun(1000, func() {
		m.UpdateReceived(UpdateCallbackQuery)
		m.UpdateHandled(UpdateCallbackQuery, 2*time.Millisecond, err)
		m.APICall("sendMessage", ResultOK)
		m.StateEntered("menu")
	})
	if allocs != 0 {
		t.Fatalf("hot path allocates %v times per update", allocs)
	}
}

func BenchmarkUpdateReceived(b *testing.B) {
	m := New(prometheus.NewRegistry())
	b.ReportAllocs()
	for b.Loop() {
		m.UpdateReceived(UpdateMessage)
	}
}

func BenchmarkUpdateHandled(b *testing.B) {
	m := New(prometheus.NewRegistry())
	b.ReportAllocs()
	for b.Loop() {
		m.UpdateHandled(UpdateCallbackQuery, 2*time.Millisecond, nil)
	}
}

func BenchmarkAPICall(b *testing.B) {
	m := New(prometheus.NewRegistry())
	b.ReportAllocs()
	for b.Loop() {
		m.APICall("editMessageText", ResultOK)
	}
}

func BenchmarkStateEntered(b *testing.B) {
	m := New(prometheus.NewRegistry())
	b.ReportAllocs()
	for b.Loop() {
		m.StateEntered("revoke_confirm")
	}
}

func BenchmarkAPICallParallel(b *testing.B) {
	m := New(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.APICall("sendMessage", ResultOK)
		}
	})
}

// BenchmarkWithLabelValues is the baseline the cache is for: resolving the child per call.
func BenchmarkWithLabelValues(b *testing.B) {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"method", "result"})
	b.ReportAllocs()
	for b.Loop() {
		v.WithLabelValues("editMessageText", ResultOK).Inc()
	}
}

func BenchmarkNil(b *testing.B) {
	var m *Metrics
	b.ReportAllocs()
	for b.Loop() {
		m.UpdateHandled(UpdateMessage, time.Millisecond, nil)
	}
}

func TestOCSPMetric(t *testing.T) {
	reg := NewRegistry()
	m := New(reg)
	m.OCSP("good", false)
	m.OCSP("good", true)
	m.OCSP("good", true)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`kezekbot_ocsp_checks_total{result="good",source="cache"} 2`,
		`kezekbot_ocsp_checks_total{result="good",source="responder"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
