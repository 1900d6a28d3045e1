package flows

import (
	"errors"
	"strconv"
	"strings"
)

// ButtonAction is what an inline button does. The values are short because callback data is
// limited to 64 bytes.
type ButtonAction string

const (
	ActLangKK       ButtonAction = "kk"
	ActLangRU       ButtonAction = "ru"
	ActBind         ButtonAction = "bind"
	ActMenu         ButtonAction = "menu"
	ActApps         ButtonAction = "apps" // «Журнал заявлений», ID = page
	ActOpen         ButtonAction = "open" // ID = application id
	ActHistory      ButtonAction = "hist"
	ActDocs         ButtonAction = "docs"
	ActReferral     ButtonAction = "ref"
	ActExtend       ButtonAction = "ext"
	ActRevoke       ButtonAction = "rev"
	ActPickReferral ButtonAction = "pick"   // ID = referral id
	ActReasonPreset ButtonAction = "rsn"    // ID = preset index
	ActConfirm      ButtonAction = "ok"     // «Подтвердить отказ»
	ActCancel       ButtonAction = "cancel" // «Отмена»
	ActBack         ButtonAction = "back"
	ActLogout       ButtonAction = "out"
)

// Actions added with the Machine.
const (
	ActRefresh  ButtonAction = "re"   // show the current screen again («Назад» from help, «Ещё раз» after an error)
	ActLangMenu ButtonAction = "lang" // open the language choice
	ActSettings ButtonAction = "set"  // open /settings
	ActMute     ButtonAction = "mute" // flip a notification kind on /settings, ID = index into MuteKinds
)

// actions is the set ParseCallback accepts; anything else is hostile or from another version.
var actions = map[ButtonAction]struct{}{
	ActLangKK: {}, ActLangRU: {}, ActBind: {}, ActMenu: {}, ActApps: {}, ActOpen: {},
	ActHistory: {}, ActDocs: {}, ActReferral: {}, ActExtend: {}, ActRevoke: {},
	ActPickReferral: {}, ActReasonPreset: {}, ActConfirm: {}, ActCancel: {}, ActBack: {},
	ActLogout: {}, ActRefresh: {}, ActLangMenu: {}, ActSettings: {}, ActMute: {},
}

// CallbackVersion prefixes every callback data string; bump it when the format changes, and
// old buttons then parse as BadPress.
const CallbackVersion = "1"

// MaxCallbackLen is Telegram's limit on callback_data, in bytes.
const MaxCallbackLen = 64

// ErrBadCallback is returned by ParseCallback for data that is not ours.
var ErrBadCallback = errors.New("flows: malformed callback data")

// EncodeCallback returns the callback data of an action button drawn on a screen of revision
// rev: "1:<action>:<id base36>:<rev base36>", at most 31 bytes. Negative ids are encoded as 0
// (no id of ours is negative).
func EncodeCallback(b Button, rev uint32) string {
	id := b.ID
	if id < 0 {
		id = 0
	}
	buf := make([]byte, 0, 32)
	buf = append(buf, CallbackVersion...)
	buf = append(buf, ':')
	buf = append(buf, b.Action...)
	buf = append(buf, ':')
	buf = strconv.AppendInt(buf, id, 36)
	buf = append(buf, ':')
	buf = strconv.AppendUint(buf, uint64(rev), 36)
	return string(buf)
}

// ParseCallback parses callback data as hostile input. It accepts exactly what EncodeCallback
// produces: the version, a known action, a canonical non-negative base-36 id and a canonical
// base-36 uint32 revision. Anything else returns ErrBadCallback (the adapter sends BadPress).
// The returned Press has no MsgID; the adapter sets it.
func ParseCallback(data string) (Press, error) {
	if len(data) > MaxCallbackLen || len(data) < len(CallbackVersion)+1 ||
		data[:len(CallbackVersion)] != CallbackVersion || data[len(CallbackVersion)] != ':' {
		return Press{}, ErrBadCallback
	}
	rest := data[len(CallbackVersion)+1:]
	act, rest, ok := strings.Cut(rest, ":")
	if !ok {
		return Press{}, ErrBadCallback
	}
	if _, known := actions[ButtonAction(act)]; !known {
		return Press{}, ErrBadCallback
	}
	idS, revS, ok := strings.Cut(rest, ":")
	if !ok {
		return Press{}, ErrBadCallback
	}
	id, ok := parseBase36(idS, 63)
	if !ok {
		return Press{}, ErrBadCallback
	}
	rev, ok := parseBase36(revS, 32)
	if !ok {
		return Press{}, ErrBadCallback
	}
	return Press{Action: ButtonAction(act), ID: int64(id), Rev: uint32(rev)}, nil
}

// parseBase36 accepts only canonical lowercase base-36 digits: no sign, no leading zeros, no
// empty string, and a value that fits in bits.
func parseBase36(s string, bits int) (uint64, bool) {
	if s == "" || len(s) > 13 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 36, bits)
	if err != nil {
		return 0, false
	}
	return v, true
}
