package kezekbot

import (
	"errors"
	"fmt"
)

// Error codes. They are stable strings so that adapters (bot texts, HTTP statuses, CLI exit
// codes) can map them in one table each.
const (
	ECONFLICT  = "conflict"  // someone else changed the object first
	EINTERNAL  = "internal"  // a bug or an outage; details are logged, never shown
	EINVALID   = "invalid"   // the input is malformed
	ENOTFOUND  = "not_found" // no such object, or not visible to the caller
	EFORBIDDEN = "forbidden" // the caller may not do this
	EEXPIRED   = "expired"   // the time to do this has passed
)

// Error is a domain error: a code for programs and a message for people (operators; users get
// texts from the message catalogs keyed by Code).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var r *RevokeRefusal
	if errors.As(err, &r) {
		return r.Code()
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain; other errors are
// internal and their text is not for users.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
