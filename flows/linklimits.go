package flows

import "errors"

// Attempt limits of signing links (issue 12).

// RejectedSpent (Signed.Rejected) says the link died: it took too many failed signature
// attempts (wrong key, wrong IIN, a broken signature), on the page or from eGov mobile. The
// chat drops the link and goes back to where a new one is asked for, saying so.
const RejectedSpent = "spent"

// ErrTooManyLinks is what Links.Issue returns (wrapped) when the chat asked for too many
// signing links too quickly. The chat says so and keeps its screen (and a link still alive)
// instead of issuing one.
var ErrTooManyLinks = errors.New("too many signing links requested; try again in a minute")
