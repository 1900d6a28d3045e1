package bot

import "context"

// webhookReply is the one Bot API call the answer to a webhook request may carry
// (https://core.telegram.org/bots/api#making-requests-when-getting-updates): Telegram runs it
// as if the bot had called it, without telling whether it worked. The intake uses it for a
// callback query's silent answer, which saves a Bot API round trip per button press.
//
// What rides along must be harmless to send twice and lost at no cost beyond a redelivery:
// the webhook writes it with the 200, and the 200 is written only after the turn committed. If
// that answer never reaches Telegram, Telegram delivers the update again; the redelivery is a
// duplicate, and the intake answers the query again in that response (a silent answer to a
// query already answered is refused by Telegram and changes nothing the user sees). Answers
// with a text or an alert are never carried: a redelivery could not repeat their text.
type webhookReply struct {
	// answer is the callback_query_id to answer silently; "" carries nothing.
	answer string
}

type webhookReplyKey struct{}

// withWebhookReply returns ctx carrying rep, for the intake to fill while handling one update.
func withWebhookReply(ctx context.Context, rep *webhookReply) context.Context {
	return context.WithValue(ctx, webhookReplyKey{}, rep)
}

// webhookReplyFrom returns the reply slot of the webhook request ctx belongs to, nil when the
// update did not come by webhook (polling, an internal event).
func webhookReplyFrom(ctx context.Context) *webhookReply {
	rep, _ := ctx.Value(webhookReplyKey{}).(*webhookReply)
	return rep
}

// appendWebhookAnswer writes the webhook answer body that answers a callback query silently.
func appendWebhookAnswer(b []byte, queryID string) []byte {
	b = append(b, `{"method":"answerCallbackQuery","callback_query_id":`...)
	b = appendString(b, queryID)
	return append(b, '}')
}
