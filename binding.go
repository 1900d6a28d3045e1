package kezekbot

// ErrBoundElsewhere refuses a second chat for an IIN that is bound to a chat already: one IIN,
// one chat. Bind phishing (issue 17) is an attacker who asks for a bind link in his own chat
// and has a parent sign it; refusing the second binding means a parent who already uses the
// bot cannot be taken over that way, and a parent who really moves to another Telegram
// account says so first with /logout in the old one. Code EFORBIDDEN; test with errors.Is.
var ErrBoundElsewhere = &Error{Code: EFORBIDDEN, Message: "this IIN is bound to another chat; /logout there first"}
