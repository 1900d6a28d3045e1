package main

import (
	"context"
	"net/http/httptest"
	"testing"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
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
