package flows

import "strings"

// EventFromText maps the text of an incoming private message to an Event: "/start" → Start,
// another "/command arg" → Command (the name lowercased, any "@botname" dropped), anything
// else → Text. languageCode is the sender's Telegram language_code, used by Start.
func EventFromText(text, languageCode string) Event {
	if !strings.HasPrefix(text, "/") {
		return Text{Text: text}
	}
	head, arg, _ := strings.Cut(text[1:], " ")
	if i := strings.IndexAny(head, "\n\t"); i >= 0 {
		arg = head[i+1:] + " " + arg
		head = head[:i]
	}
	head, _, _ = strings.Cut(head, "@")
	name := strings.ToLower(head)
	if !validCommand(name) {
		return Text{Text: text}
	}
	if name == "start" {
		return Start{TelegramLang: languageCode}
	}
	return Command{Name: name, Arg: strings.TrimSpace(arg)}
}

func validCommand(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// EventFromCallback maps a callback query's data and the id of the message its button was on
// to a Press, or to BadPress when data has our version prefix ("1:") but does not parse, or
// to ForeignPress for any other data (another dialog's button, or hostile). The adapter must
// answer the callback query with the Answer effect the step returns (there is always exactly
// one).
func EventFromCallback(data string, msgID int) Event {
	if len(data) <= len(CallbackVersion) || data[:len(CallbackVersion)] != CallbackVersion || data[len(CallbackVersion)] != ':' {
		return ForeignPress{Data: data, MsgID: msgID}
	}
	p, err := ParseCallback(data)
	if err != nil {
		return BadPress{}
	}
	p.MsgID = msgID
	return p
}
