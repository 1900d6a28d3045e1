package bot

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/go-telegram/bot/models"
)

// DefaultMaxBody caps a webhook request body. Telegram's updates are a few KiB.
const DefaultMaxBody = 1 << 20

// SecretHeader carries the webhook secret_token set with setWebhook.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Handler is what the webhook hands updates to: *Intake.
type Handler interface {
	Handle(ctx context.Context, upd *models.Update) error
}

type webhook struct {
	in      Handler
	secret  []byte
	maxBody int64
	log     *slog.Logger
}

// NewWebhook returns the webhook endpoint. Unlike go-telegram/bot's, it refuses a wrong
// secret (401, compared in constant time), and answers 200 only once the update is handled or
// deliberately dropped, so Telegram redelivers what failed (500). An empty secret accepts any
// request: for local use only. maxBody ≤ 0 means DefaultMaxBody.
func NewWebhook(in Handler, secret string, maxBody int64, log *slog.Logger) http.Handler {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	if log == nil {
		log = slog.Default()
	}
	return &webhook{in: in, secret: []byte(secret), maxBody: maxBody, log: log}
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (wh *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if len(wh.secret) > 0 && subtle.ConstantTimeCompare([]byte(r.Header.Get(SecretHeader)), wh.secret) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 { // don't keep a rare huge buffer alive
			bodyPool.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, wh.maxBody)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	upd, err := decodeUpdate(buf.Bytes())
	if err != nil {
		// Not an update: retrying would not help, and the sender is not Telegram anyway.
		wh.log.Warn("webhook: bad update", "err", err, "bytes", buf.Len())
		http.Error(w, "bad update", http.StatusBadRequest)
		return
	}
	var rep webhookReply
	if err := wh.in.Handle(withWebhookReply(r.Context(), &rep), upd); err != nil {
		if r.Context().Err() == nil {
			wh.log.Warn("webhook: update not handled, Telegram will retry", "update_id", upd.ID, "err", err)
		}
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	if rep.answer == "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	// The turn is committed: the 200 may carry the callback query's answer (webhookReply).
	out := getBuf()
	defer putBuf(out)
	out.B = appendWebhookAnswer(out.B[:0], rep.answer)
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.B)
}

// decodeUpdate parses a webhook body: exactly one JSON object with a positive update_id. The
// common updates take fastDecodeUpdate's path; the rest, and anything odd, encoding/json's.
func decodeUpdate(body []byte) (*models.Update, error) {
	upd, ok := fastDecodeUpdate(body)
	if !ok {
		upd = new(models.Update)
		if err := json.Unmarshal(body, upd); err != nil {
			return nil, err
		}
	}
	if upd.ID <= 0 {
		return nil, errors.New("update_id missing or not positive")
	}
	return upd, nil
}
