package textlint

import "testing"

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(string) []string
		in   string
		bad  bool
	}{
		{"kk ending glued", Kazakh, "чат {{.IIN}}-ға байланыстырылды", true},
		{"kk ending glued, no hyphen", Kazakh, "{time}дан кейін", true},
		{"kk дейін after a value", Kazakh, "Сілтеме {time} дейін жарамды", true},
		{"kk дейін after a value (catalog)", Kazakh, "{{.Deadline}} дейін", true},
		{"kk rephrased", Kazakh, "Сілтеменің жарамдылық мерзімі: {time} (Астана уақыты).", false},
		{"kk сіздің without possessive", Kazakh, "Сіздің ЖСН-мен өтініш табылмады", true},
		{"kk өз without possessive", Kazakh, "өз ЖСН-ге біріктіріңіз", true},
		{"kk possessive", Kazakh, "Сіздің ЖСН-іңізбен берілген өтініш; өз ЖСН-іңізге", false},
		{"kk this IIN", Kazakh, "Тек осы ЖСН-мен берілген өтініштер", false},
		{"kk name quoted", Kazakh, "«{{.Name}}» жолдамасын", true},
		{"kk second kindergarten", Kazakh, "{{.Name}} балабақшасындағы орын", true},
		{"kk name in parentheses", Kazakh, "Жолдама ({{.Name}}) жойылады", false},
		{"ru count before noun", Russian, "запущена: {Count} получателей.", true},
		{"ru count before noun (catalog)", Russian, "длиннее {{.Max}} символов", true},
		{"ru noun first", Russian, "получателей: {Count}.", false},
		{"ru count and preposition", Russian, "страница {{.Page}} из {{.Pages}}", false},
		{"ru non-count placeholder", Russian, "до {{.Time}} можно", false},
		{"ru sign the EDS", Russian, "✍️ Подписать ЭЦП", true},
		{"ru sign the refusal EDS", Russian, "Подпишите отказ ЭЦП", true},
		{"ru sign with a key", Russian, "✍️ Подписать ключом ЭЦП", false},
		{"ru name quoted", Russian, "ДДО «{kindergarten}» для заявления", true},
		{"ru name plain", Russian, "ДДО: {Kindergarten}", false},
		{"button long", Button, "🔔 Направление отозвано, аннулировано или использовано", true},
		{"button short", Button, "🔔 Направление закрыто", false},
		{"button with a value", Button, "🏫 Направление: {{.Name}}", false},
	} {
		if got := tc.f(tc.in); (len(got) > 0) != tc.bad {
			t.Errorf("%s: %q → %v, want a problem: %v", tc.name, tc.in, got, tc.bad)
		}
	}
}
