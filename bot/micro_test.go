package bot

import (
	"encoding/json"
	"testing"

	"github.com/kezekbot/kezekbot/flows"
)

func BenchmarkDecodeUpdate(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"start", mustJSON(textUpdate(1, 5, "/start"))},
		{"press", mustJSON(pressUpdate(2, 5, 3, flows.EncodeCallback(flows.Button{Action: flows.ActApps}, 77)))},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeUpdate(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeSendResult(b *testing.B) {
	body := []byte(`{"ok":true,"result":{"message_id":12,"from":{"id":777000111,"is_bot":true,"first_name":"Kezek","username":"kezek_test_bot"},"date":1700000000,"chat":{"id":5,"type":"private"},"text":"Журнал заявлений: 2\n\n1. УО.2018.000027.1 — в очереди, №15","reply_markup":{"inline_keyboard":[[{"text":"УО.2018.000027.1","callback_data":"1:open:b:1x2y3z"}],[{"text":"УО.2020.000101.1","callback_data":"1:open:c:1x2y3z"}],[{"text":"« Меню","callback_data":"1:menu:0:1x2y3z"}]]}}}`)
	b.ReportAllocs()
	for b.Loop() {
		var r msgResult
		e := envelope[*msgResult]{Result: &r}
		if err := json.Unmarshal(body, &e); err != nil || r.MessageID != 12 {
			b.Fatal(err)
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func BenchmarkScanAnswer(b *testing.B) {
	body := []byte(`{"ok":true,"result":{"message_id":12,"from":{"id":777000111,"is_bot":true,"first_name":"Kezek","username":"kezek_test_bot"},"date":1700000000,"chat":{"id":5,"type":"private"},"text":"Журнал заявлений: 2\n\n1. УО.2018.000027.1 — в очереди, №15","reply_markup":{"inline_keyboard":[[{"text":"УО.2018.000027.1","callback_data":"1:open:b:1x2y3z"}],[{"text":"УО.2020.000101.1","callback_data":"1:open:c:1x2y3z"}],[{"text":"« Меню","callback_data":"1:menu:0:1x2y3z"}]]}}}`)
	b.ReportAllocs()
	for b.Loop() {
		if a, ok := scanAnswer(body); !ok || a.MessageID != 12 {
			b.Fatal(a, ok)
		}
	}
}
