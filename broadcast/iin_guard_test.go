package broadcast_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/broadcast"
)

// disguisedIINs are one valid IIN (900506400124) written the ways that passed the old
// 12-contiguous-ASCII-digits guard (issue 17, finding 6).
var disguisedIINs = []string{
	"900506400124",
	"900506 400124",
	"900-506-400-124",
	"9.0.0.5.0.6.4.0.0.1.2.4",
	"9\u200b0\u200b0\u200b5\u200b0\u200b6\u200b4\u200b0\u200b0\u200b1\u200b2\u200b4",
	"９００５０６４００１２４",
	"900506\u00a0400124",
}

// TestBroadcastAndEventsRefuseDisguisedIINs: the admin API refuses a broadcast text (ru or kk)
// and an imported event's kindergarten name that carries an IIN in any of its disguises.
func TestBroadcastAndEventsRefuseDisguisedIINs(t *testing.T) {
	for _, iin := range disguisedIINs {
		for _, field := range []string{"text_ru", "text_kk"} {
			body, _ := json.Marshal(map[string]any{"audience": map[string]any{"kindergarten_id": 3}, field: "Ребёнок " + iin + " зачислен"})
			if _, err := broadcast.ParseBroadcastRequest(body); err == nil || !strings.Contains(err.Error(), "IIN") {
				t.Errorf("%s %q accepted: %v", field, iin, err)
			}
		}
		body, _ := json.Marshal([]any{map[string]any{"kind": "referral_issued", "payload": map[string]any{
			"application_number": "УО.2021.000001.1", "kindergarten": "Ясли-сад №7 " + iin}}})
		if _, err := broadcast.ParseEvents(body); err == nil {
			t.Errorf("kindergarten with %q accepted", iin)
		}
	}
	// Ordinary texts still pass.
	body := []byte(`{"audience":{"kindergarten_id":3},"text_ru":"Приём документов 15.09.2026 с 09:00, тел. +7 (7172) 55-12-34"}`)
	if _, err := broadcast.ParseBroadcastRequest(body); err != nil {
		t.Errorf("ordinary text refused: %v", err)
	}
	ev := []byte(`[{"kind":"referral_issued","payload":{"application_number":"УО.2021.000001.1","kindergarten":"Ясли-сад №7 «Балдырған»"}}]`)
	if _, err := broadcast.ParseEvents(ev); err != nil {
		t.Errorf("ordinary event refused: %v", err)
	}
}
