package refcity

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot/city"
)

// RunPusher posts the change log to kezekbot (Config.PushURL + city.PushPath), from the first
// change on, in batches, each signed with X-Kezek-Signature. A batch counts as delivered only
// on a 2xx; anything else is retried with exponential backoff (200 ms doubling to 30 s, with
// jitter) until it is. It returns when ctx is done. Without a PushURL it returns at once.
func (c *City) RunPusher(ctx context.Context) error {
	if c.cfg.PushURL == "" {
		return nil
	}
	hc := c.cfg.PushClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	batch := c.cfg.PushBatch
	if batch <= 0 {
		batch = 100
	}
	url := strings.TrimRight(c.cfg.PushURL, "/") + city.PushPath
	sent, failures := 0, 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		c.mu.Lock()
		pending := c.changes[sent:min(len(c.changes), sent+batch)]
		pending = pending[:len(pending):len(pending)]
		dup, reorder := c.roll(c.faults.DuplicateRate), c.roll(c.faults.OutOfOrderRate)
		c.mu.Unlock()
		if len(pending) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-c.wake:
			case <-tick.C:
			}
			continue
		}
		// The deliveries of this round: out of order sends the second half first, a duplicate
		// sends the last delivery again.
		rounds := [][]city.Change{pending}
		if reorder && len(pending) > 1 {
			h := len(pending) / 2
			rounds = [][]city.Change{pending[h:], pending[:h]}
		}
		if dup {
			rounds = append(rounds, rounds[len(rounds)-1])
		}
		var err error
		for _, r := range rounds {
			if err = c.push(ctx, hc, url, r); err != nil {
				break
			}
		}
		if err == nil {
			sent += len(pending)
			failures = 0
			continue
		}
		failures++
		c.log.Warn("refcity: push failed; retrying", "changes", len(pending), "attempt", failures, "err", err)
		backoff := min(30*time.Second, 200*time.Millisecond<<min(failures-1, 8))
		backoff = backoff/2 + rand.N(backoff/2+1)
		if !sleep(ctx, backoff) {
			return nil
		}
	}
}

func (c *City) push(ctx context.Context, hc *http.Client, url string, changes []city.Change) error {
	body, err := json.Marshal(city.ChangePage{Changes: changes})
	if err != nil {
		return fmt.Errorf("encode push: %w", err)
	}
	if limit := cmp.Or(c.cfg.PushMaxBody, city.MaxPushBody); len(body) > limit && len(changes) > 1 {
		// kezekbot answers 413 above its limit: send the batch in halves, in order.
		h := len(changes) / 2
		if err := c.push(ctx, hc, url, changes[:h]); err != nil {
			return err
		}
		return c.push(ctx, hc, url, changes[h:])
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(city.HeaderSignature, city.Sign(c.cfg.PushSecret, c.now(), body))
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("kezekbot answered HTTP %d", resp.StatusCode)
	}
	return nil
}
