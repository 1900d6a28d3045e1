// Package textlint holds the proofreading rules that every catalog of user-visible texts is
// tested against (i18n/locales, broadcast/texts.go, signer-link/texts.go, the reason
// presets). The rules catch what was found by reading the texts against the portal's wording
// and for grammar, so that the same mistake does not come back in a new text:
//
//   - Kazakh: no case ending glued to a placeholder («{{.X}}-ға», «{time}дан») and no
//     postposition that governs a case right after one («{time} дейін»): the ending depends
//     on the digits or the name put in, which the text cannot know;
//   - Kazakh: «сіздің»/«өз» before ЖСН needs the possessive («ЖСН-іңізбен», not «ЖСН-мен»);
//   - Russian: no count placeholder right before a noun whose form depends on the number
//     («{Count} получателей» gives «1 получателей»): put the noun first («получателей: {Count}»);
//   - both: kindergarten names carry their own quotes («Ясли-сад №57 «Ақбота»»), so a text
//     must not wrap them in a second pair, and the Kazakh must not add «балабақша» after a name
//     that already says it;
//   - both: button labels fit a phone (MaxButton).
//
// Placeholders are {{.Name}} (the bot's catalogs, go-i18n) or {Name} (the packages' own maps).
package textlint

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxButton is the longest inline-button label, in characters (runes), that a phone shows
// whole. Telegram's apps draw inline buttons in a 14 sp medium sans-serif and cut longer labels
// with "…". Measured in Chromium (canvas measureText, "500 14px Liberation Sans", which has
// Arial's metrics, a little wider than Roboto): Kazakh and Russian labels average 6.9–7.5 px a
// character, so 32 characters take 220–240 px, and a 38-character label 280 px. A one-button
// row on a 360 px-wide phone leaves about 280–300 px for the text after the chat's side margins
// and the button's own padding; 32 keeps a margin for wide letters (Ш, Ж, Щ) and the emoji
// some labels start with (counted as 2 when followed by U+FE0F, as here).
const MaxButton = 32

var (
	placeholder = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}|\{(\w+)\}`)

	// A case ending glued to a placeholder, with or without a hyphen.
	kkGlued = regexp.MustCompile(`(?:\}\}|\})-?[\p{Cyrillic}]`)
	// Postpositions that govern the case of the word before them.
	kkPostposition = regexp.MustCompile(`(?:\}\}|\}) (дейін|дейінгі|кейін|бастап|бері|дейiн)(?:$|\P{L})`)
	// «сіздің ЖСН-мен», «өз ЖСН-ге»: the possessive is missing.
	kkNoPossessive = regexp.MustCompile(`(?i)(сіздің|өз) ЖСН-(мен|ға|ге|ды|ді|да|де|нан|нен|ның|нің)(?:$|\P{L})`)

	// Words that may follow a count: prepositions and conjunctions («{Page} из {Pages}») and
	// abbreviated units, which do not change with the number («{N} мин»).
	ruAfterCount = map[string]bool{"из": true, "и": true, "или": true, "в": true, "ч": true, "мин": true, "д": true, "с": true}
	// «Подписать ЭЦП» reads "sign the ЭЦП": it is signed with a key of the ЭЦП.
	ruSignEDS = regexp.MustCompile(`Подпи(сать|шите)( отказ)? ЭЦП`)
)

// countNames are placeholders that hold a number of things.
var countNames = map[string]bool{
	"Count": true, "N": true, "Total": true, "Shown": true, "Max": true, "Sent": true, "Failed": true,
	"Blocked": true, "Remaining": true, "Page": true, "Pages": true,
}

// nameNames are placeholders that hold a kindergarten's name.
var nameNames = map[string]bool{"Name": true, "Kindergarten": true, "kindergarten": true}

// Kazakh returns what is wrong with a Kazakh text, one line per problem.
func Kazakh(s string) []string {
	var out []string
	if m := kkGlued.FindString(s); m != "" {
		out = append(out, fmt.Sprintf("case ending glued to a placeholder (%q): rephrase so that nothing follows the value", m))
	}
	if m := kkPostposition.FindStringSubmatch(s); m != nil {
		out = append(out, fmt.Sprintf("«%s» right after a placeholder needs a case ending the text cannot know: rephrase («Мерзімі: {…}»)", m[1]))
	}
	if m := kkNoPossessive.FindString(s); m != "" {
		out = append(out, fmt.Sprintf("%q: after «сіздің»/«өз» the possessive is needed («ЖСН-іңізбен», «ЖСН-іңізге»)", m))
	}
	for _, p := range names(s) {
		if strings.Contains(s, p+" балабақша") || strings.Contains(s, p+"» балабақша") {
			out = append(out, fmt.Sprintf("«балабақша…» after %s: the name already says what it is", p))
		}
	}
	return append(out, quoted(s)...)
}

// Russian returns what is wrong with a Russian text, one line per problem.
func Russian(s string) []string {
	var out []string
	for _, loc := range placeholder.FindAllStringSubmatchIndex(s, -1) {
		name := submatch(s, loc)
		if !countNames[name] {
			continue
		}
		rest := s[loc[1]:]
		if !strings.HasPrefix(rest, " ") {
			continue
		}
		word := strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '.' || r == ',' || r == ':' || r == '\n' })
		if len(word) > 0 && isCyrillicWord(word[0]) && !ruAfterCount[word[0]] {
			out = append(out, fmt.Sprintf("count %s right before «%s»: the noun's form depends on the number; put the noun first («%s: …»)", s[loc[0]:loc[1]], word[0], word[0]))
		}
	}
	if m := ruSignEDS.FindString(s); m != "" {
		out = append(out, fmt.Sprintf("%q reads \"sign the ЭЦП\": sign with a key («ключом ЭЦП»)", m))
	}
	return append(out, quoted(s)...)
}

// Button returns what is wrong with a button label: too long for a phone. Placeholders count
// as nothing; their values are checked where they are made.
func Button(label string) []string {
	static := placeholder.ReplaceAllString(label, "")
	if n := utf8.RuneCountInString(static); n > MaxButton {
		return []string{fmt.Sprintf("button label is %d characters, a phone shows %d: %q", n, MaxButton, label)}
	}
	return nil
}

// quoted finds kindergarten names wrapped in a second pair of quotes.
func quoted(s string) []string {
	var out []string
	for _, p := range names(s) {
		if strings.Contains(s, "«"+p) || strings.Contains(s, p+"»") || strings.Contains(s, `"`+p+`"`) {
			out = append(out, fmt.Sprintf("%s is in quotes: names carry their own («Ясли-сад №57 «Ақбота»»)", p))
		}
	}
	return out
}

// names returns the kindergarten-name placeholders of s as written.
func names(s string) []string {
	var out []string
	for _, loc := range placeholder.FindAllStringSubmatchIndex(s, -1) {
		if nameNames[submatch(s, loc)] {
			out = append(out, s[loc[0]:loc[1]])
		}
	}
	return out
}

func submatch(s string, loc []int) string {
	if loc[2] >= 0 {
		return s[loc[2]:loc[3]]
	}
	return s[loc[4]:loc[5]]
}

func isCyrillicWord(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return (r >= 'а' && r <= 'я') || (r >= 'А' && r <= 'Я') || r == 'ё' || r == 'Ё'
}
