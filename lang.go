package kezekbot

// Lang is the language a parent (or a staff member) is spoken to in. Every text exists in
// both. It lives here, not in flows, because the signing pages, the renderer, the notifier and
// the stores all speak it and must not reach sideways into the dialog's package for it.
type Lang string

const (
	Kazakh  Lang = "kk"
	Russian Lang = "ru"
)

// Langs lists the languages, Kazakh first (the state language).
var Langs = []Lang{Kazakh, Russian}

// Valid reports whether l is one of Langs.
func (l Lang) Valid() bool { return l == Kazakh || l == Russian }

// LangFromTelegram picks the default language from a Telegram language_code: Kazakh for
// "kk…", Russian for everything else (the other language most parents in Astana read).
func LangFromTelegram(code string) Lang {
	if len(code) >= 2 && code[:2] == "kk" {
		return Kazakh
	}
	return Russian
}
