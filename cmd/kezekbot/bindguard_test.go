package main

import (
	"context"
	"net/http/httptest"
	"testing"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/bot"
	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// TestTelegramAccounts: the bind page's account line comes from the Bot API's getChat.
func TestTelegramAccounts(t *testing.T) {
	api := telegramtest.NewHandler()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	api.SetChat(models.ChatFullInfo{ID: 42, Type: models.ChatTypePrivate, FirstName: "Айгерим", LastName: "К.", Username: "aigerim_k"})
	b, err := tgbot.New(e2eToken, tgbot.WithServerURL(srv.URL), tgbot.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	a, err := telegramAccounts{b: b}.Account(context.Background(), 42)
	if err != nil || a.FirstName != "Айгерим" || a.LastName != "К." || a.Username != "aigerim_k" {
		t.Fatalf("Account = %+v, %v", a, err)
	}
}

// TestBindAlertsReachTheBoundChats: the alert of a refused binding goes to every chat bound to
// the IIN as a Telegram message, and to no one else.
func TestBindAlertsReachTheBoundChats(t *testing.T) {
	db := pgtest.New(t)
	api := telegramtest.NewHandler()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	sender, err := bot.NewSender(e2eToken, bot.SenderOptions{APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	iin := kezekbot.MustParseIIN("900506400124")
	ev := kezekbot.Evidence{IIN: iin, Nonce: "n-alert-1", SignedXML: []byte("<x/>"), Subject: "s"}
	if err := db.Bind(context.Background(), 4242, "kk", ev); err != nil {
		t.Fatal(err)
	}
	if err := (bindAlerts{db: db, sender: sender}).AlertChatsOf(context.Background(), iin, "⚠️ alert"); err != nil {
		t.Fatal(err)
	}
	calls := api.CallsOf("sendMessage")
	if len(calls) != 1 || calls[0].ChatID() != 4242 || calls[0].Params["text"] != "⚠️ alert" {
		t.Fatalf("sendMessage calls = %+v", calls)
	}
	// An IIN bound nowhere: nobody to tell, no error.
	if err := (bindAlerts{db: db, sender: sender}).AlertChatsOf(context.Background(), otherIIN(t), "x"); err != nil {
		t.Fatal(err)
	}
}

// otherIIN is a valid IIN born 1985-01-01, bound to no chat in the test.
func otherIIN(t *testing.T) kezekbot.IIN {
	t.Helper()
	d, ok := kezekbot.IINCheckDigit("85010130012")
	if !ok {
		t.Fatal("no check digit")
	}
	return kezekbot.MustParseIIN("85010130012" + string(rune('0'+d)))
}
