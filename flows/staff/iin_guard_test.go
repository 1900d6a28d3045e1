package staff

import "testing"

// TestCheckTextRefusesDisguisedIINs: the staff dialog refuses a broadcast text carrying an
// IIN with separators, invisible characters or full-width digits (issue 17, finding 6).
func TestCheckTextRefusesDisguisedIINs(t *testing.T) {
	for _, text := range []string{
		"Ребёнок 900506 400124 зачислен",
		"ИИН: 900-506-400-124",
		"9\u200b00506400124",
		"ИИН ９００５０６４００１２４",
		"900506\u2060400124",
	} {
		if _, notice := checkText(text); notice != "staff.notice.text_iin" {
			t.Errorf("checkText(%q) notice %q, want staff.notice.text_iin", text, notice)
		}
	}
	if _, notice := checkText("Собрание 15.09 в 18:00, тел. 8 (7172) 55-12-34"); notice != "" {
		t.Errorf("ordinary text refused: %s", notice)
	}
}
