package kezekbot

import (
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// ContainsIIN reports whether text staff send to parents (broadcasts, imported kindergarten
// names) carries an IIN, however it is written: with spaces, dashes, dots or other separators
// between the digits, with zero-width or other invisible characters in between, or in
// full-width or other Unicode digits. A broadcast reaches thousands of chats; an IIN in it is
// a leak that no later message can take back.
//
// The text is NFKC-normalised (full-width and mathematical digits become ASCII), other decimal
// digits are read by value, separators and invisible characters are skipped, and every 12
// consecutive digits of a run are checked with ParseIIN (date and check digit). Letters end a
// run. A phone number has 11 digits and never matches; two numbers written next to each other
// can, rarely (about 1 in 300 random 12-digit strings passes the checks): staff then rephrase.
func ContainsIIN(text string) bool {
	var run []byte
	check := func() bool {
		for i := 0; i+12 <= len(run); i++ {
			if _, err := ParseIIN(string(run[i : i+12])); err == nil {
				return true
			}
		}
		return false
	}
	for _, r := range norm.NFKC.String(text) {
		switch {
		case r >= '0' && r <= '9':
			run = append(run, byte(r))
		case unicode.Is(unicode.Nd, r):
			run = append(run, '0'+digitValue(r))
		case isIINSeparator(r):
			// skipped: the digits on both sides are one number to a reader
		default:
			if check() {
				return true
			}
			run = run[:0]
		}
	}
	return check()
}

// isIINSeparator is a character a reader skips inside a number: white space, dashes and
// punctuation commonly put between digit groups, invisible format characters (zero-width
// space and joiners, word joiner, soft hyphen, BOM, bidi marks) and combining marks.
func isIINSeparator(r rune) bool {
	switch r {
	case '.', ',', '-', '_', '/', '\\', ':', ';', '(', ')', '[', ']', '\'', '"', '*', '+', '|', '·', '•', '`':
		return true
	}
	return unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) || unicode.Is(unicode.Pd, r) ||
		unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) ||
		unicode.Is(unicode.Cc, r)
}

// digitValue is the value of a decimal digit rune: Unicode puts every set of decimal digits
// in a contiguous run from 0 to 9, so it is the distance from the run's start, modulo 10
// (adjacent sets, like the mathematical digits, are whole runs of 10).
func digitValue(r rune) byte {
	start := r
	for start > 0 && unicode.Is(unicode.Nd, start-1) && r-start < 100 {
		start--
	}
	// Indexing the digits keeps the rune-to-byte step bounds-checked.
	return "0123456789"[(r-start)%10] - '0'
}
