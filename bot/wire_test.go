package bot

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/go-telegram/bot/models"
)

func TestAppendSendMessage(t *testing.T) {
	kb := &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{
		{{Text: "Журнал <заявлений>", CallbackData: "1:apps:0:1"}, {Text: "Sign", URL: "https://e.org/s?a=1&b=2"}},
		{{Text: "Copy", CopyText: models.CopyTextButton{Text: "x"}}, {Text: "App", WebApp: &models.WebAppInfo{URL: "https://e.org/app"}}},
	}}
	tests := []struct {
		name  string
		msgID int
		m     Message
		want  string
	}{
		{"Plain", 0, Message{Text: "hi"}, `{"chat_id":-1001,"text":"hi"}`},
		{"Edit", 7, Message{Text: "a\"b\\c\n\t\x01", ParseMode: "HTML"}, `{"chat_id":-1001,"message_id":7,"text":"a\"b\\c\n\t\u0001","parse_mode":"HTML"}`},
		{"Keyboard", 0, Message{Text: "k", Keyboard: kb}, `{"chat_id":-1001,"text":"k","reply_markup":{"inline_keyboard":[` +
			`[{"text":"Журнал \u003cзаявлений\u003e","callback_data":"1:apps:0:1"},{"text":"Sign","url":"https://e.org/s?a=1\u0026b=2"}],` +
			`[{"text":"Copy","copy_text":{"text":"x"}},{"text":"App","web_app":{"url":"https://e.org/app"}}]]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendSendMessage(nil, -1001, tt.msgID, tt.m))
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatal("invalid JSON")
			}
		})
	}
	if got := string(appendAnswer(nil, "q\"1", "ok", true)); got != `{"callback_query_id":"q\"1","text":"ok","show_alert":true}` {
		t.Fatalf("answer = %s", got)
	}
	// The keyboard reads back as what was given.
	var back struct {
		ReplyMarkup models.InlineKeyboardMarkup `json:"reply_markup"`
	}
	if err := json.Unmarshal(appendSendMessage(nil, 1, 0, Message{Text: "x", Keyboard: kb}), &back); err != nil || !reflect.DeepEqual(&back.ReplyMarkup, kb) {
		t.Fatalf("round trip = %+v, %v", back.ReplyMarkup, err)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "кириллица", "\x00\x1f\"\\<>&", "\u2028\u2029", "\xff\xfe", "a\xe2\x82", "🙂\U0010FFFF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON %q for %q", got, s)
		}
		std, _ := json.Marshal(s)
		var a, b string
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(std, &b)
		if a != b {
			t.Fatalf("%q decodes to %q, encoding/json's to %q", s, a, b)
		}
	})
}

func FuzzScanAnswer(f *testing.F) {
	for _, s := range []string{
		`{"ok":true,"result":{"message_id":12,"from":{"id":1,"is_bot":true},"date":1,"chat":{"id":5,"type":"private"},"text":"a\"b","reply_markup":{"inline_keyboard":[[{"text":"x","callback_data":"y"}]]}}}`,
		`{"ok":true,"result":true}`,
		`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}`,
		`{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`,
		`{"ok":false,"error_code":400,"description":"with \"escape\""}`,
		` { "ok" : true , "result" : [ 1 , -2.5e3 , null , false ] } `,
		`{"ok":true,"result":{"message_id":1e3}}`, `<html>502</html>`, `{"ok":true}x`, `{"ok":tru}`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := scanAnswer(b)
		if !ok {
			return // the caller falls back to encoding/json
		}
		var e struct {
			OK          bool   `json:"ok"`
			ErrorCode   int    `json:"error_code"`
			Description string `json:"description"`
			Parameters  *struct {
				RetryAfter int `json:"retry_after"`
			} `json:"parameters"`
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(b, &e); err != nil {
			var ute *json.UnmarshalTypeError
			if !errors.As(err, &ute) {
				t.Fatalf("scanAnswer accepted %q, encoding/json: %v", b, err)
			}
			return // e.g. "parameters" not an object: scanAnswer skips it, json complains
		}
		var m struct {
			MessageID int `json:"message_id"`
		}
		if len(e.Result) > 0 && e.Result[0] == '{' {
			_ = json.Unmarshal(e.Result, &m)
		}
		ra := 0
		if e.Parameters != nil {
			ra = e.Parameters.RetryAfter
		}
		if a.OK != e.OK || a.ErrorCode != e.ErrorCode || a.Description != e.Description || a.RetryAfter != ra || a.MessageID != m.MessageID {
			t.Fatalf("%q: scanAnswer %+v, encoding/json ok=%v code=%d desc=%q retry=%d msg=%d", b, a, e.OK, e.ErrorCode, e.Description, ra, m.MessageID)
		}
	})
}
