package bot

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/go-telegram/bot/models"
)

// Bodies as Telegram and the load generator send them. The fast path must take all of these.
var fastUpdates = []string{
	// /start from a private chat (the load generator's shape).
	`{"update_id":826001,"message":{"message_id":1,"from":{"id":42001,"is_bot":false,"first_name":"Айгерим","last_name":"Parent42001","username":"parent_42001","language_code":"kk"},"chat":{"id":42001,"first_name":"Айгерим","last_name":"Parent42001","username":"parent_42001","type":"private"},"date":1700000000,"text":"/start","entities":[{"offset":0,"length":6,"type":"bot_command"}]}}`,
	// A button press on the bot's message, with its keyboard.
	`{"update_id":826002,"callback_query":{"id":"4242001","from":{"id":42001,"is_bot":false,"first_name":"Айгерим","language_code":"ru"},"message":{"message_id":2,"from":{"id":777,"is_bot":true,"first_name":"Bot","username":"peer_test_bot"},"chat":{"id":42001,"first_name":"Айгерим","type":"private"},"date":1700000001,"text":"Сәлеметсіз бе! \u003cb\u003e\n","reply_markup":{"inline_keyboard":[[{"text":"Қазақша","callback_data":"1:kk:0:1"},{"text":"Русский","callback_data":"1:ru:0:1"}],[{"text":"Сайт","url":"https://example.kz/"}]]}},"chat_instance":"-332607919","data":"1:ru:0:1"}}`,
	// Telegram escapes non-ASCII and may escape '/'.
	"{\"update_id\":9,\"message\":{\"message_id\":5,\"from\":{\"id\":1,\"is_bot\":false,\"first_name\":\"\\u0410\\u0439\",\"language_code\":\"ru\",\"is_premium\":true},\"chat\":{\"id\":1,\"first_name\":\"\\u0410\",\"type\":\"private\"},\"date\":1700000000,\"text\":\"\\/menu \\ud83d\\ude00 \\t\\\"q\\\"\"}}",
	// An edited message, a group message.
	`{"update_id":10,"edited_message":{"message_id":5,"from":{"id":1,"is_bot":false,"first_name":"A"},"chat":{"id":1,"type":"private"},"date":1,"edit_date":2,"text":"x"}}`,
	`{"update_id":11,"message":{"message_id":7,"from":{"id":1,"is_bot":false,"first_name":"A"},"chat":{"id":-1001234567890,"title":"Parents","type":"supergroup"},"date":1,"text":"/start@kezek_bot"}}`,
	" {\n \"update_id\" : 12 , \"message\" : { \"message_id\" : 1 , \"chat\" : { \"id\" : 5 , \"type\" : \"private\" } , \"date\" : 1 , \"entities\" : [ ] } } \n",
}

func TestFastDecodeUpdate(t *testing.T) {
	for i, body := range fastUpdates {
		got, ok := fastDecodeUpdate([]byte(body))
		if !ok {
			t.Fatalf("%d: fast path refused %s", i, body)
		}
		want := new(models.Update)
		if err := json.Unmarshal([]byte(body), want); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d: fast path decoded\n%+v\nencoding/json\n%+v", i, got, want)
		}
	}
	// Left to encoding/json: unknown, repeated, case-folded or null keys, wrong types,
	// inaccessible messages, numbers that are not plain integers.
	for _, body := range []string{
		`{"update_id":1,"poll":{}}`,
		`{"update_id":1,"update_id":2}`,
		`{"Update_ID":1}`,
		`{"update_id":1,"message":null}`,
		`{"update_id":"1"}`,
		`{"update_id":1e3}`,
		`{"update_id":1.0}`,
		`{"update_id":1234567890123456789}`,
		`{"update_id":1,"callback_query":{"id":"c","message":{"message_id":3,"date":0,"chat":{"id":5,"type":"private"}}}}`,
		`{"update_id":1,"message":{"text":"\x"}}`,
		`{"update_id":1} x`,
		`[]`,
	} {
		if _, ok := fastDecodeUpdate([]byte(body)); ok {
			t.Errorf("fast path took %s", body)
		}
	}
}

// FuzzFastDecodeUpdate: whatever the fast path accepts, encoding/json accepts too and decodes to
// the same models.Update.
func FuzzFastDecodeUpdate(f *testing.F) {
	for _, s := range fastUpdates {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"update_id":1,"message":{"text":"\ud83d"}}`, `{"update_id":1,"message":{"text":"\ud83d\u0041\udc00"}}`,
		"{\"update_id\":1,\"message\":{\"text\":\"\xff\xfe\xc3\"}}", `{"update_id":-0,"message":{"message_id":-5}}`,
		`{"update_id":1,"callback_query":{"message":{"date":1,"reply_markup":{"inline_keyboard":[]}}}}`,
		`{"update_id":1,"callback_query":{"message":{"date":1,"reply_markup":{"inline_keyboard":[[]]}}}}`,
		`{"update_id":1,"message":{"from":{"id":1},"from":{"is_bot":true}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := fastDecodeUpdate(body)
		if !ok {
			return
		}
		want := new(models.Update)
		if err := json.Unmarshal(body, want); err != nil {
			t.Fatalf("fast path took what encoding/json refuses (%v): %q", err, body)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nfast path     %+v\nencoding/json %+v", body, got, want)
		}
	})
}
