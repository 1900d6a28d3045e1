// Package bot is kezekbot's Telegram adapter: it turns updates into flows events (Intake),
// carries out the effects through one Sender, and receives updates by webhook (NewWebhook) or
// long polling (Poller).
//
// go-telegram/bot is used as the Bot API client only. Its update loop is not: its webhook
// handler answers 200 before (and whatever) it handles, its poller confirms updates before
// handling them, it runs handlers without per-chat order or recover (notes/bots.md §1).
package bot
