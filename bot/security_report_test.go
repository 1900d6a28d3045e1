package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"

	"github.com/go-telegram/bot/models"
)

// mutate returns a deterministic malformed or hostile variant of seed: flipped, inserted,
// deleted or duplicated bytes, truncation, type confusion, huge or negative numbers, invalid
// UTF-8, deep nesting, duplicated keys.
func mutate(r *rand.Rand, seed []byte) []byte {
	b := bytes.Clone(seed)
	for range 1 + r.IntN(3) {
		if len(b) == 0 {
			b = []byte("{")
		}
		i := r.IntN(len(b))
		switch r.IntN(10) {
		case 0:
			b[i] ^= byte(1 << r.IntN(8))
		case 1:
			b = append(b[:i], append([]byte{byte(r.IntN(256))}, b[i:]...)...)
		case 2:
			b = append(b[:i], b[min(len(b), i+1+r.IntN(8)):]...)
		case 3:
			b = b[:i]
		case 4:
			b = bytes.Replace(b, []byte(`"update_id":`), []byte(`"update_id":`+[]string{"-1", "0", "1e3", `"7"`, "9223372036854775808", "null", "[]", "1.5"}[r.IntN(8)]+`,"x":`), 1)
		case 5:
			b = bytes.Replace(b, []byte(`"text":"`), []byte("\"text\":\"\xff\xfe\\ud800"), 1)
		case 6:
			b = append([]byte(`{"update_id":1,"message":`+string(bytes.Repeat([]byte(`{"a":`), 100+r.IntN(1000)))), b...)
		case 7:
			b = bytes.Replace(b, []byte(`"chat":{`), []byte(`"chat":{"id":"x","id":-1,`), 1)
		case 8:
			b = append(b, b...)
		case 9:
			b = bytes.Replace(b, []byte(`:`), []byte(`:{"$ne":null},"k":`), 1)
		}
	}
	return b
}

// TestSecurityReportUpdates sends 12,000 fuzzed updates to the webhook (with the right
// secret) and 1,000 with a wrong or missing secret, and counts what got through that should
// not: an update routed that encoding/json would not decode to the same update, with a
// non-positive update_id, or without the secret. `make security` prints the line.
func TestSecurityReportUpdates(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 2026))
	seeds := make([][]byte, 0, len(fastUpdates))
	for _, s := range fastUpdates {
		seeds = append(seeds, []byte(s))
	}
	var routedUpd *models.Update
	h := NewWebhook(handlerFunc(func(_ context.Context, upd *models.Update) error {
		routedUpd = upd
		in := &Intake{}
		in.classify(upd) // routing reads outside input too
		_ = chatOf(upd)
		return nil
	}), "s3cr3t", 1<<16, quiet)

	const n, noSecret = 12_000, 1_000
	var tried, routed, refused, bad int
	for i := range n + noSecret {
		body := mutate(r, seeds[r.IntN(len(seeds))])
		req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		if i < n {
			req.Header.Set(SecretHeader, "s3cr3t")
		} else if i%2 == 0 {
			req.Header.Set(SecretHeader, "s3cr3"+strconv.Itoa(i))
		}
		routedUpd = nil
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		tried++
		if routedUpd == nil {
			refused++
			continue
		}
		routed++
		want := new(models.Update)
		if i >= n || w.Code != 200 || routedUpd.ID <= 0 || json.Unmarshal(body, want) != nil || !reflect.DeepEqual(routedUpd, want) {
			bad++
			t.Errorf("accepted what it should not (code %d): %q", w.Code, body)
		}
	}
	t.Logf("security: webhook updates: %d hostile requests tried (%d fuzzed with the secret, %d without it), %d refused, %d routed as valid updates, %d accepted that should not have been",
		tried, n, noSecret, refused, routed, bad)
	if tried < 10_000 || bad != 0 {
		t.Fail()
	}
}
