package main

import (
	"context"
	"errors"
	"fmt"

	tgbot "github.com/go-telegram/bot"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/bot"
	signerlink "github.com/kezekbot/kezekbot/signer-link"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// telegramAccounts names the account of a chat for the bind page (signerlink.AccountLookup):
// the Bot API's getChat, so the page shows what Telegram says now, not what a message said.
type telegramAccounts struct{ b *tgbot.Bot }

func (a telegramAccounts) Account(ctx context.Context, chatID int64) (signerlink.Account, error) {
	c, err := a.b.GetChat(ctx, &tgbot.GetChatParams{ChatID: chatID})
	if err != nil {
		return signerlink.Account{}, fmt.Errorf("getChat: %w", err)
	}
	if c == nil {
		return signerlink.Account{}, errors.New("getChat: empty answer")
	}
	return signerlink.Account{FirstName: c.FirstName, LastName: c.LastName, Username: c.Username}, nil
}

// bindAlerts sends a plain-text alert to every chat bound to an IIN (signerlink.BindAlerter).
type bindAlerts struct {
	db     *postgres.DB
	sender *bot.Sender
}

func (a bindAlerts) AlertChatsOf(ctx context.Context, iin kezekbot.IIN, text string) error {
	chats, err := a.db.ChatsOfIIN(ctx, iin)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range chats {
		if _, err := a.sender.SendMessage(ctx, c, bot.Message{Text: text}); err != nil {
			errs = append(errs, fmt.Errorf("alert chat %d: %w", c, err))
		}
	}
	return errors.Join(errs...)
}
