// Package staff is the staff broadcast dialog as a state machine, in the style of flows: a
// State and an Event in, a new State and Effects out. It knows nothing of Telegram, Redis or
// PostgreSQL: bot/ turns a staff member's updates into Events, renders Show effects
// (broadcast.RenderStaff) and carries out the others (count the audience, create, stop or
// resume a broadcast, attach the live progress message), feeding results back as Events.
//
// The dialog: /broadcast → audience (all, a kindergarten, a status, a birth year range, a
// list of application numbers) → the Russian text → the Kazakh text (either may be skipped,
// not both) → a preview with the number of recipients → confirm → the broadcast starts and a
// progress message with a stop button follows it.
package staff

import (
	"strings"
	"unicode/utf8"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/audience"
)

// StateName names a dialog state.
type StateName string

const (
	SIdle     StateName = ""
	SAudience StateName = "aud"      // choose the audience kind
	SParam    StateName = "param"    // typing the audience parameter (State.Param says which)
	SStatus   StateName = "status"   // choose a status
	SCounting StateName = "counting" // waiting for Counted
	STextRU   StateName = "text_ru"
	STextKK   StateName = "text_kk"
	SConfirm  StateName = "confirm"  // preview, confirm or cancel
	SCreating StateName = "creating" // waiting for Created
)

// Param is what SParam waits for.
type Param string

const (
	ParamKindergarten Param = "kg"
	ParamYears        Param = "years"
	ParamNumbers      Param = "numbers"
)

// MaxText is Telegram's limit on a message's text, in characters.
const MaxText = 4096

// State is what the dialog remembers about one staff chat; small, JSON-encoded by the adapter.
type State struct {
	Name     StateName         `json:"n,omitempty"`
	Lang     string            `json:"l,omitempty"` // kk or ru, the staff member's language
	Rev      uint32            `json:"r,omitempty"` // revision of the live screen; buttons carry it
	Param    Param             `json:"p,omitempty"`
	Audience audience.Audience `json:"a,omitzero"`
	Count    int               `json:"c,omitempty"`
	TextRU   string            `json:"tr,omitempty"`
	TextKK   string            `json:"tk,omitempty"`
}

// Event is something that happened in the staff chat, or the result of an effect.
type Event interface{ isEvent() }

// Command is /broadcast or /cancel.
type Command struct{ Name string }

// Text is a plain text message.
type Text struct{ Text string }

// Press is a press of one of this dialog's buttons (ParseCallback).
type Press struct {
	Action Action
	ID     int64
	Rev    uint32
}

// BadPress is callback data that did not parse.
type BadPress struct{}

// Counted reports CountAudience: the number of recipients, or Code (a kezekbot error code)
// when counting failed.
type Counted struct {
	N    int
	Code string
}

// Created reports CreateBroadcast: the new broadcast, or Code when it failed.
type Created struct {
	ID    int64
	Total int
	Code  string
}

func (Command) isEvent()  {}
func (Text) isEvent()     {}
func (Press) isEvent()    {}
func (BadPress) isEvent() {}
func (Counted) isEvent()  {}
func (Created) isEvent()  {}

// Effect is something the adapter must do.
type Effect interface{ isEffect() }

// Show draws a screen, edited into the dialog's message or sent new.
type Show struct{ Screen Screen }

// Answer answers the callback query of a Press (exactly one per Press).
type Answer struct {
	Key   string // "" for a silent answer
	Alert bool
}

// CountAudience asks for the number of recipients; answer with Counted.
type CountAudience struct{ Audience audience.Audience }

// CreateBroadcast asks to create and start the broadcast; answer with Created.
type CreateBroadcast struct {
	Audience       audience.Audience
	TextKK, TextRU string
}

// AttachProgress asks to send the live progress message of broadcast ID to this chat.
type AttachProgress struct{ ID int64 }

// StopBroadcast and ResumeBroadcast act on broadcast ID (from its progress message).
type StopBroadcast struct{ ID int64 }
type ResumeBroadcast struct{ ID int64 }

func (Show) isEffect()            {}
func (Answer) isEffect()          {}
func (CountAudience) isEffect()   {}
func (CreateBroadcast) isEffect() {}
func (AttachProgress) isEffect()  {}
func (StopBroadcast) isEffect()   {}
func (ResumeBroadcast) isEffect() {}

// ScreenKind names a staff screen; broadcast.RenderStaff draws each in kk and ru.
type ScreenKind string

const (
	ScreenAudience  ScreenKind = "audience"  // choose who
	ScreenParam     ScreenKind = "param"     // type the kindergarten id, years or numbers
	ScreenStatus    ScreenKind = "status"    // choose a status
	ScreenTextRU    ScreenKind = "text_ru"   // type the Russian text
	ScreenTextKK    ScreenKind = "text_kk"   // type the Kazakh text
	ScreenConfirm   ScreenKind = "confirm"   // preview and count
	ScreenStarted   ScreenKind = "started"   // the broadcast was created
	ScreenCancelled ScreenKind = "cancelled" // the dialog was left
	ScreenError     ScreenKind = "error"     // an effect failed; Notice says why
)

// Screen is what to show, as data.
type Screen struct {
	Kind     ScreenKind
	Lang     string
	Notice   string // a text key shown above the screen ("staff.notice.bad_number", …)
	Param    Param
	Audience audience.Audience
	Count    int
	TextRU   string
	TextKK   string
	ID       int64 // ScreenStarted: the broadcast
	Buttons  [][]Button
}

// Button is an inline button: Label is a text key, Action and ID go into the callback data.
type Button struct {
	Label  string
	Action Action
	ID     int64
}

// Step advances the dialog. It never fails: a stale or unexpected event redraws the
// current screen with a notice.
func Step(st State, ev Event) (State, []Effect) {
	s := &stepper{st: st}
	if s.st.Lang != "kk" {
		s.st.Lang = "ru"
	}
	switch ev := ev.(type) {
	case Command:
		switch ev.Name {
		case "broadcast":
			s.st = State{Lang: s.st.Lang, Rev: s.st.Rev}
			s.audience("")
		case "cancel":
			s.cancel()
		}
	case Text:
		s.text(ev.Text)
	case Press:
		s.press(ev)
	case BadPress:
		s.out = append(s.out, Answer{Key: "staff.answer.stale"})
	case Counted:
		s.counted(ev)
	case Created:
		s.created(ev)
	}
	return s.st, s.out
}

type stepper struct {
	st  State
	out []Effect
}

func (s *stepper) show(sc Screen) {
	s.st.Rev++
	sc.Lang = s.st.Lang
	sc.Param, sc.Audience, sc.TextRU, sc.TextKK = s.st.Param, s.st.Audience, s.st.TextRU, s.st.TextKK
	// A screen that brings its own count (the started screen, drawn after the state is reset)
	// keeps it; the others show the audience counted so far.
	if sc.Count == 0 {
		sc.Count = s.st.Count
	}
	s.out = append(s.out, Show{Screen: sc})
}

func (s *stepper) audience(notice string) {
	s.st.Name, s.st.Param, s.st.Audience, s.st.Count = SAudience, "", audience.Audience{}, 0
	s.show(Screen{Kind: ScreenAudience, Notice: notice, Buttons: [][]Button{
		{{Label: "staff.btn.all", Action: ActAll}},
		{{Label: "staff.btn.kindergarten", Action: ActKindergarten}, {Label: "staff.btn.status", Action: ActStatus}},
		{{Label: "staff.btn.years", Action: ActYears}, {Label: "staff.btn.numbers", Action: ActNumbers}},
		{{Label: "staff.btn.cancel", Action: ActCancel}},
	}})
}

func (s *stepper) cancel() {
	s.st = State{Lang: s.st.Lang, Rev: s.st.Rev}
	s.show(Screen{Kind: ScreenCancelled})
}

func (s *stepper) param(p Param, notice string) {
	s.st.Name, s.st.Param = SParam, p
	s.show(Screen{Kind: ScreenParam, Notice: notice, Buttons: [][]Button{{{Label: "staff.btn.back", Action: ActBack}}}})
}

func (s *stepper) count() {
	s.st.Name = SCounting
	s.out = append(s.out, CountAudience{Audience: s.st.Audience})
}

func (s *stepper) textRU(notice string) {
	s.st.Name = STextRU
	s.show(Screen{Kind: ScreenTextRU, Notice: notice, Buttons: [][]Button{
		{{Label: "staff.btn.skip", Action: ActSkip}},
		{{Label: "staff.btn.back", Action: ActBack}, {Label: "staff.btn.cancel", Action: ActCancel}},
	}})
}

func (s *stepper) textKK(notice string) {
	s.st.Name = STextKK
	s.show(Screen{Kind: ScreenTextKK, Notice: notice, Buttons: [][]Button{
		{{Label: "staff.btn.skip", Action: ActSkip}},
		{{Label: "staff.btn.back", Action: ActBack}, {Label: "staff.btn.cancel", Action: ActCancel}},
	}})
}

func (s *stepper) confirm(notice string) {
	s.st.Name = SConfirm
	s.show(Screen{Kind: ScreenConfirm, Notice: notice, Buttons: [][]Button{
		{{Label: "staff.btn.confirm", Action: ActConfirm}},
		{{Label: "staff.btn.edit", Action: ActBack}, {Label: "staff.btn.cancel", Action: ActCancel}},
	}})
}

// redraw shows the current screen again with a notice.
func (s *stepper) redraw(notice string) {
	switch s.st.Name {
	case SAudience, SCounting:
		s.audience(notice)
	case SParam:
		s.param(s.st.Param, notice)
	case SStatus:
		s.status(notice)
	case STextRU:
		s.textRU(notice)
	case STextKK:
		s.textKK(notice)
	case SConfirm, SCreating:
		s.confirm(notice)
	default:
		s.show(Screen{Kind: ScreenCancelled, Notice: notice})
	}
}

func (s *stepper) status(notice string) {
	s.st.Name = SStatus
	rows := make([][]Button, 0, len(kezekbot.Statuses)+1)
	for i, st := range kezekbot.Statuses {
		rows = append(rows, []Button{{Label: "status." + string(st), Action: ActPickStatus, ID: int64(i)}})
	}
	rows = append(rows, []Button{{Label: "staff.btn.back", Action: ActBack}})
	s.show(Screen{Kind: ScreenStatus, Notice: notice, Buttons: rows})
}

func (s *stepper) press(p Press) {
	// Progress-message buttons carry a broadcast id, not a dialog revision: they work from
	// any state, for as long as the message exists.
	switch p.Action {
	case ActStop:
		s.out = append(s.out, StopBroadcast{ID: p.ID}, Answer{Key: "staff.answer.stopping"})
		return
	case ActResume:
		s.out = append(s.out, ResumeBroadcast{ID: p.ID}, Answer{Key: "staff.answer.resuming"})
		return
	}
	if p.Rev != s.st.Rev || s.st.Name == SIdle {
		s.out = append(s.out, Answer{Key: "staff.answer.stale"})
		return
	}
	s.out = append(s.out, Answer{})
	switch {
	case p.Action == ActCancel:
		s.cancel()
	case s.st.Name == SAudience:
		switch p.Action {
		case ActAll:
			s.st.Audience = audience.Audience{}
			s.count()
		case ActKindergarten:
			s.param(ParamKindergarten, "")
		case ActYears:
			s.param(ParamYears, "")
		case ActNumbers:
			s.param(ParamNumbers, "")
		case ActStatus:
			s.status("")
		default:
			s.redraw("staff.notice.stale")
		}
	case s.st.Name == SStatus && p.Action == ActPickStatus:
		if p.ID < 0 || p.ID >= int64(len(kezekbot.Statuses)) {
			s.redraw("staff.notice.stale")
			return
		}
		s.st.Audience = audience.Audience{Status: kezekbot.Statuses[p.ID]}
		s.count()
	case p.Action == ActBack:
		switch s.st.Name {
		case SParam, SStatus, STextRU:
			s.audience("")
		case STextKK:
			s.textRU("")
		case SConfirm:
			s.st.TextRU, s.st.TextKK = "", ""
			s.textRU("")
		default:
			s.redraw("staff.notice.stale")
		}
	case p.Action == ActSkip && s.st.Name == STextRU:
		s.st.TextRU = ""
		s.textKK("")
	case p.Action == ActSkip && s.st.Name == STextKK:
		s.st.TextKK = ""
		if s.st.TextRU == "" {
			s.textRU("staff.notice.text_required")
			return
		}
		s.confirm("")
	case p.Action == ActConfirm && s.st.Name == SConfirm:
		s.st.Name = SCreating
		s.out = append(s.out, CreateBroadcast{Audience: s.st.Audience, TextKK: s.st.TextKK, TextRU: s.st.TextRU})
	default:
		s.redraw("staff.notice.stale")
	}
}

func (s *stepper) text(t string) {
	switch s.st.Name {
	case SParam:
		var err error
		a := audience.Audience{}
		switch s.st.Param {
		case ParamKindergarten:
			var id int64
			id, err = parseID(t)
			a.KindergartenID = id
		case ParamYears:
			a.YearFrom, a.YearTo, err = audience.ParseYears(t)
		case ParamNumbers:
			a.Numbers, err = audience.ParseNumbers(t)
		}
		if err != nil {
			s.param(s.st.Param, "staff.notice.bad_"+string(s.st.Param))
			return
		}
		s.st.Audience = a
		s.count()
	case STextRU, STextKK:
		clean, notice := checkText(t)
		if notice != "" {
			s.redraw(notice)
			return
		}
		if s.st.Name == STextRU {
			s.st.TextRU = clean
			s.textKK("")
			return
		}
		s.st.TextKK = clean
		s.confirm("")
	case SIdle:
		// Not in the dialog: the adapter routes other texts elsewhere; nothing to do.
	default:
		s.redraw("staff.notice.use_buttons")
	}
}

func (s *stepper) counted(c Counted) {
	if s.st.Name != SCounting {
		return // a late answer to an abandoned count
	}
	switch {
	case c.Code != "":
		s.audience("staff.notice.error")
	case c.N == 0:
		s.audience("staff.notice.nobody")
	default:
		s.st.Count = c.N
		s.textRU("")
	}
}

func (s *stepper) created(c Created) {
	if s.st.Name != SCreating {
		return
	}
	if c.Code != "" {
		s.confirm("staff.notice.error")
		return
	}
	s.st = State{Lang: s.st.Lang, Rev: s.st.Rev}
	s.show(Screen{Kind: ScreenStarted, ID: c.ID, Count: c.Total})
	s.out = append(s.out, AttachProgress{ID: c.ID})
}

func parseID(t string) (int64, error) {
	t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "#"))
	var id int64
	if t == "" || len(t) > 12 {
		return 0, kezekbot.Errorf(kezekbot.EINVALID, "not an id")
	}
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, kezekbot.Errorf(kezekbot.EINVALID, "not an id")
		}
		id = id*10 + int64(c-'0')
	}
	if id == 0 {
		return 0, kezekbot.Errorf(kezekbot.EINVALID, "not an id")
	}
	return id, nil
}

// checkText validates a broadcast text: not empty, within Telegram's limit, valid UTF-8, and
// without an IIN (a broadcast goes to thousands; an IIN in it is a leak). It returns the
// trimmed text or a notice key.
func checkText(t string) (string, string) {
	t = strings.TrimSpace(t)
	switch {
	case t == "" || !utf8.ValidString(t):
		return "", "staff.notice.text_required"
	case utf8.RuneCountInString(t) > MaxText:
		return "", "staff.notice.text_too_long"
	}
	if ContainsIIN(t) {
		return "", "staff.notice.text_iin"
	}
	return t, ""
}

// ContainsIIN reports whether t carries an IIN in any disguise (separators, invisible
// characters, full-width digits): kezekbot.ContainsIIN (issue 17, finding 6).
func ContainsIIN(t string) bool { return kezekbot.ContainsIIN(t) }
