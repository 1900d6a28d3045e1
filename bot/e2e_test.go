package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/bot/render"
	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
)

var parentIIN = kezekbot.MustParseIIN("791028302728")

// memData is flows.Data in memory: chats listed in bound are bound to parentIIN, who has two
// applications. Not a store test: the dialog's reads are not what is tested here.
type memData struct {
	mu    sync.Mutex
	bound map[int64]bool // nil = every chat is bound
}

func (d *memData) BoundIIN(_ context.Context, chatID int64) (kezekbot.IIN, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bound == nil || d.bound[chatID] {
		return parentIIN, nil
	}
	return kezekbot.IIN{}, &kezekbot.Error{Code: kezekbot.ENOTFOUND, Message: "not bound"}
}

func (d *memData) Unbind(_ context.Context, chatID int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bound != nil {
		delete(d.bound, chatID)
	}
	return nil
}

var memApps = []kezekbot.Application{
	{ID: 11, Number: "УО.2018.000027.1", ChildName: "Child One", ApplicantIIN: parentIIN, QueueNumber: 15, Status: kezekbot.Status("queued"),
		RegisteredAt: time.Date(2019, 3, 1, 10, 0, 0, 0, time.UTC)},
	{ID: 12, Number: "УО.2020.000101.1", ChildName: "Child Two", ApplicantIIN: parentIIN, QueueNumber: 230, Status: kezekbot.Status("queued"),
		RegisteredAt: time.Date(2021, 5, 2, 10, 0, 0, 0, time.UTC)},
}

func (d *memData) Applications(context.Context, kezekbot.IIN) ([]kezekbot.Application, error) {
	return slices.Clone(memApps), nil
}

func (d *memData) Application(_ context.Context, _ kezekbot.IIN, id int64) (kezekbot.ApplicationDetail, error) {
	for _, a := range memApps {
		if a.ID == id {
			return kezekbot.ApplicationDetail{Application: a}, nil
		}
	}
	return kezekbot.ApplicationDetail{}, &kezekbot.Error{Code: kezekbot.ENOTFOUND, Message: "no application"}
}

type memLinks struct{ n atomic.Int64 }

func (l *memLinks) Issue(_ context.Context, req flows.SignRequest) (flows.Link, error) {
	n := l.n.Add(1)
	return flows.Link{URL: fmt.Sprintf("https://sign.example.org/s/%d", n), Expires: time.Now().Add(15 * time.Minute), Nonce: fmt.Sprint(n)}, nil
}

// newRealFixture is newFixture with the real dialog and renderer.
func newRealFixture(tb testing.TB, data *memData, tweak func(*IntakeOptions)) *fixture {
	tb.Helper()
	cat, err := i18n.Default()
	if err != nil {
		tb.Fatal(err)
	}
	m := &flows.Machine{Data: data, Links: &memLinks{}}
	return newFixture(tb, func(o *IntakeOptions) {
		o.Steps = m
		o.Render = RenderAdapter{render.New(cat)}
		if tweak != nil {
			tweak(o)
		}
	})
}

// button finds the callback data of the first button whose data has action act.
func button(tb testing.TB, markup string, act flows.ButtonAction) string {
	tb.Helper()
	var kb models.InlineKeyboardMarkup
	if err := json.Unmarshal([]byte(markup), &kb); err != nil {
		tb.Fatalf("reply_markup %q: %v", markup, err)
	}
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			if p, err := flows.ParseCallback(b.CallbackData); err == nil && p.Action == act {
				return b.CallbackData
			}
		}
	}
	tb.Fatalf("no %q button in %s", act, markup)
	return ""
}

// TestEndToEnd: webhook → Intake → real flows.Machine → real renderer → fake Bot API, with the
// state in real Redis.
func TestEndToEnd(t *testing.T) {
	data := &memData{bound: map[int64]bool{}}
	f := newRealFixture(t, data, nil)
	ctx := testCtx(t)
	hook := httptest.NewServer(NewWebhook(f.in, "e2e-secret", 0, quiet))
	defer hook.Close()
	// post returns the webhook answer's body: a call Telegram makes for the bot, or "".
	post := func(upd *models.Update) string {
		t.Helper()
		upd.ID = f.id()
		body, _ := json.Marshal(upd)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
		req.Header.Set(SecretHeader, "e2e-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("webhook status %d", resp.StatusCode)
		}
		return string(b)
	}
	const chat = 7001

	// An unbound parent: /start greets with a bind button.
	post(textUpdate(0, chat, "/start"))
	sends := f.srv.CallsOf("sendMessage")
	if len(sends) != 1 || sends[0].ChatID() != chat || sends[0].Params["parse_mode"] != render.ParseMode {
		t.Fatalf("sends = %+v", sends)
	}
	st, ok := f.state(t, chat)
	if !ok || st.Name != flows.SUnbound || st.Lang != flows.Kazakh || st.MsgID != sends[0].MessageID() {
		t.Fatalf("state = %+v %v", st, ok)
	}
	bind := button(t, sends[0].Params["reply_markup"], flows.ActBind)

	// «Bind» edits the greeting into the signing link and answers the press silently, in the
	// webhook answer rather than by a Bot API call.
	press := pressUpdate(0, chat, st.MsgID, bind)
	answer := post(press)
	st, _ = f.state(t, chat)
	if st.Name != flows.SBinding || st.Nonce == "" {
		t.Fatalf("state after bind = %+v", st)
	}
	if want := `{"method":"answerCallbackQuery","callback_query_id":"` + press.CallbackQuery.ID + `"}`; answer != want {
		t.Fatalf("webhook answer = %q, want %q", answer, want)
	}
	if n := len(f.srv.CallsOf("answerCallbackQuery")); n != 0 {
		t.Fatalf("answers by Bot API call = %d", n)
	}
	edits := f.srv.CallsOf("editMessageText")
	if len(edits) != 1 || edits[0].Params["message_id"] != fmt.Sprint(st.MsgID) {
		t.Fatalf("edits = %+v", edits)
	}

	// The signer-link reports the signature: the bound screen comes as a new message.
	data.mu.Lock()
	data.bound[chat] = true
	data.mu.Unlock()
	if err := f.in.Inject(ctx, chat, flows.Signed{Action: kezekbot.ActionBind, Nonce: st.Nonce, OK: true, IIN: parentIIN}); err != nil {
		t.Fatal(err)
	}
	st2, _ := f.state(t, chat)
	if st2.Name != flows.SMenu || st2.MsgID == st.MsgID {
		t.Fatalf("state after Signed = %+v", st2)
	}
	last := f.srv.CallsOf("sendMessage")
	apps := button(t, last[len(last)-1].Params["reply_markup"], flows.ActApps)

	// «Журнал заявлений» lists the applications in the live message.
	post(pressUpdate(0, chat, st2.MsgID, apps))
	st3, _ := f.state(t, chat)
	if st3.Name != flows.SList {
		t.Fatalf("state after apps = %+v", st3)
	}
	text, _ := f.srv.MessageText(chat, st3.MsgID)
	if !bytes.Contains([]byte(text), []byte("УО.2018.000027.1")) {
		t.Fatalf("list = %q", text)
	}

	// A stale press (the bind button of the first screen) is answered, not acted upon.
	before := len(f.srv.Calls())
	post(pressUpdate(0, chat, st3.MsgID, bind))
	if st4, _ := f.state(t, chat); st4.Name != flows.SList {
		t.Fatalf("state after a stale press = %+v", st4)
	}
	var answered bool
	for _, c := range f.srv.CallsSince(before) {
		answered = answered || c.Method == "answerCallbackQuery"
	}
	if !answered {
		t.Fatal("stale press not answered (an answer with a text never rides on the webhook answer)")
	}
}

func labelled(side string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pprof.SetGoroutineLabels(pprof.WithLabels(r.Context(), pprof.Labels("side", side)))
		h.ServeHTTP(w, r)
	})
}

// BenchmarkIntakeWebhook: HTTP POST of an update into the webhook handler → real dialog and
// renderer → state in Redis → reply recorded at the fake Bot API. Like loadgen, each chat
// alternates /start and a press of the «Журнал заявлений» button of the last reply, never with
// two updates in flight; b.N updates over many chats, in parallel.
func BenchmarkIntakeWebhook(b *testing.B) {
	f := newRealFixture(b, &memData{}, nil)
	// Profile labels split the CPU profile by side (-tagfocus side=bot): a goroutine keeps
	// them, and goroutines it starts (the connections it dials) inherit them.
	f.srv.Close()
	f.srv = telegramtest.New()
	fakeURL := f.srv.URL
	fake := httptest.NewServer(labelled("fake", f.srv.Handler))
	defer fake.Close()
	s, err := NewSender(testToken, SenderOptions{APIURL: fake.URL, Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	f.in.o.Send = s
	_ = fakeURL
	hook := httptest.NewServer(labelled("bot", NewWebhook(f.in, "bench-secret", 0, quiet)))
	defer hook.Close()
	client := &http.Client{Transport: NewTransport()}
	url := hook.URL + "/telegram/webhook"
	var chats atomic.Int64
	var updID atomic.Int64
	updID.Store(time.Now().UnixNano() / 1000)
	lat := make(chan []time.Duration, 16*runtime.GOMAXPROCS(0))

	// 16 × GOMAXPROCS clients, like loadgen's -concurrency 32 on 2 cores.
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("side", "client")))
		chat := 9_000_000 + chats.Add(1)
		var ds []time.Duration
		var live int
		var rev uint32
		var buf bytes.Buffer
		i := 0
		for pb.Next() {
			var upd *models.Update
			if i%2 == 0 || live == 0 {
				upd = textUpdate(updID.Add(1), chat, "/start")
			} else {
				upd = pressUpdate(updID.Add(1), chat, live, flows.EncodeCallback(flows.Button{Action: flows.ActApps}, rev))
			}
			i++
			buf.Reset()
			_ = json.NewEncoder(&buf).Encode(upd)
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(buf.Bytes()))
			req.Header.Set(SecretHeader, "bench-secret")
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			ds = append(ds, time.Since(t0))
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			// The handler answers only after the reply went out, so the state is final here;
			// the next press uses the live message and revision, as a parent's client would.
			if upd.Message != nil {
				id, _, markup, ok := f.srv.LastMessage(chat)
				if !ok {
					b.Error("no reply to /start")
					return
				}
				p, err := flows.ParseCallback(button(b, markup, flows.ActApps))
				if err != nil {
					b.Error(err)
					return
				}
				live, rev = id, p.Rev
			}
		}
		lat <- ds
	})
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for range cap(lat) {
		select {
		case ds := <-lat:
			all = append(all, ds...)
		default:
		}
	}
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "updates/s")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50_ms")
	replies := len(f.srv.CallsOf("sendMessage")) + len(f.srv.CallsOf("editMessageText"))
	if replies < len(all) {
		b.Fatalf("%d replies for %d updates", replies, len(all))
	}
}
