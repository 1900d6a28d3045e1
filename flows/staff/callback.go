package staff

import (
	"errors"
	"strconv"
	"strings"
)

// Action is what a staff button does. Short: callback data is at most 64 bytes.
type Action string

const (
	ActAll          Action = "all"
	ActKindergarten Action = "kg"
	ActStatus       Action = "st"
	ActPickStatus   Action = "ps" // ID = index in kezekbot.Statuses
	ActYears        Action = "yr"
	ActNumbers      Action = "nr"
	ActSkip         Action = "skip"
	ActBack         Action = "back"
	ActConfirm      Action = "ok"
	ActCancel       Action = "no"
	ActStop         Action = "stop"   // ID = broadcast, on the progress message
	ActResume       Action = "resume" // ID = broadcast, on the progress message
)

var actions = map[Action]bool{ActAll: true, ActKindergarten: true, ActStatus: true, ActPickStatus: true,
	ActYears: true, ActNumbers: true, ActSkip: true, ActBack: true, ActConfirm: true, ActCancel: true,
	ActStop: true, ActResume: true}

// Prefix starts every staff callback, so the adapter can route staff presses here and
// parents' presses to flows ("1:…").
const Prefix = "s:"

// ErrBadCallback is returned for data that is not a staff callback.
var ErrBadCallback = errors.New("staff: malformed callback data")

// EncodeCallback returns "s:<action>:<id base36>:<rev base36>", at most 34 bytes.
func EncodeCallback(a Action, id int64, rev uint32) string {
	if id < 0 {
		id = 0
	}
	b := make([]byte, 0, 40)
	b = append(b, Prefix...)
	b = append(b, a...)
	b = append(b, ':')
	b = strconv.AppendInt(b, id, 36)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(rev), 36)
	return string(b)
}

// ParseCallback parses callback data as hostile input: exactly what EncodeCallback makes.
func ParseCallback(data string) (Press, error) {
	if len(data) > 64 || !strings.HasPrefix(data, Prefix) {
		return Press{}, ErrBadCallback
	}
	parts := strings.Split(data[len(Prefix):], ":")
	if len(parts) != 3 || !actions[Action(parts[0])] {
		return Press{}, ErrBadCallback
	}
	id, ok := base36(parts[1], 63)
	if !ok {
		return Press{}, ErrBadCallback
	}
	rev, ok := base36(parts[2], 32)
	if !ok {
		return Press{}, ErrBadCallback
	}
	return Press{Action: Action(parts[0]), ID: int64(id), Rev: uint32(rev)}, nil
}

// EventFromCallback is ParseCallback as an Event: BadPress when the data is not ours.
func EventFromCallback(data string) Event {
	p, err := ParseCallback(data)
	if err != nil {
		return BadPress{}
	}
	return p
}

func base36(s string, bits int) (uint64, bool) {
	if s == "" || len(s) > 13 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 36, bits)
	return v, err == nil
}
