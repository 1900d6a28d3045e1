package render

import (
	"time"

	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/i18n"
)

// asOf marks data that came from kezekbot's mirror because the city did not answer in time:
// «данные на 14:05» (a date too when it is not today in Astana).
func (w *writer) asOf(at time.Time) {
	if at.IsZero() {
		return
	}
	when := i18n.Clock(at)
	if now := w.s.Now; !now.IsZero() && i18n.NumericDate(now) != i18n.NumericDate(at) {
		when = w.dateTime(at)
	}
	w.raw("🕓 <i>")
	w.text("city.as_of", map[string]any{"At": when})
	w.raw("</i>\n")
}

// cityAnswer draws the screens of a revocation handed to the city: sent and waiting, still not
// delivered, or refused by the city with its code.
func (w *writer) cityAnswer() {
	s := w.s
	switch s.Kind {
	case flows.ScreenRevokePending:
		w.title("city.pending.title")
	case flows.ScreenRevokeDelayed:
		w.title("city.delayed.title")
	default:
		w.title("city.refused.title")
	}
	w.appLine()
	w.refLine()
	w.nl()
	switch s.Kind {
	case flows.ScreenRevokePending:
		w.text("city.pending.body", nil)
	case flows.ScreenRevokeDelayed:
		w.text("city.delayed.body", nil)
	default:
		key := "city.refusal." + s.ErrCode
		if s.ErrCode == "" || !w.r.cat.Has(w.lang, key) {
			key = "city.refusal.invalid_request"
		}
		w.text(key, nil)
	}
}
