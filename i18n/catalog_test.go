package i18n

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"

	"github.com/kezekbot/kezekbot"
)

func mustNew(t testing.TB) *Catalog {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEveryKeyInBothLanguages(t *testing.T) {
	c := mustNew(t)
	if len(c.Keys()) < 100 {
		t.Fatalf("only %d keys", len(c.Keys()))
	}
	for _, k := range c.Keys() {
		for _, l := range Languages {
			src, ok := c.Source(l, k)
			if !ok {
				t.Errorf("%s: missing in %s", k, l)
				continue
			}
			if strings.TrimSpace(src) == "" {
				t.Errorf("%s: empty in %s", k, l)
			}
		}
		if kk, ru := c.Vars("kk", k), c.Vars("ru", k); !slices.Equal(kk, ru) {
			t.Errorf("%s: template arguments differ: kk %v, ru %v", k, kk, ru)
		}
	}
}

// TestKazakhIsKazakh: a Kazakh text longer than a label is not the Russian one copied, and
// the catalog as a whole uses the Kazakh letters.
func TestKazakhIsKazakh(t *testing.T) {
	c := mustNew(t)
	kazakh := 0
	for _, k := range c.Keys() {
		kk, _ := c.Source("kk", k)
		ru, _ := c.Source("ru", k)
		isKK := strings.ContainsAny(kk, "әғқңөұүһіӘҒҚҢӨҰҮҺІ")
		if isKK {
			kazakh++
		}
		// Bilingual texts (the language choice) are the same in both catalogs on purpose.
		if len([]rune(kk)) > 20 && kk == ru && hasCyrillic(kk) && !isKK {
			t.Errorf("%s: the Kazakh text is the Russian one: %q", k, kk)
		}
	}
	if kazakh < len(c.Keys())/2 {
		t.Errorf("only %d of %d Kazakh texts use Kazakh letters", kazakh, len(c.Keys()))
	}
	// The portal's own labels.
	for key, want := range map[string]string{
		"btn.apps": "Өтініштер журналы", "btn.revoke": "Жолдаманы кері қайтару", "btn.confirm": "Бас тартуды растау",
	} {
		if got := c.T("kk", key, nil); !strings.Contains(got, want) {
			t.Errorf("kk %s = %q, want %q", key, got, want)
		}
	}
	for key, want := range map[string]string{
		"btn.apps": "Журнал заявлений", "btn.revoke": "Отозвать направление", "btn.extend": "Продлить направление",
		"btn.confirm": "Подтвердить отказ", "btn.cancel": "Отмена", "btn.history": "История изменений",
		"btn.docs": "Общие документы", "card.title": "Информация о заявлении", "field.reason": "Причина снятия",
		"field.kindergarten": "Название ДДО", "field.issued": "Дата выдачи направления",
		"status.referral_issued": "Принято решение (Выдано направление)", "status.queued": "В очереди",
		"benefit.none": "Без льготы",
	} {
		if got := c.T("ru", key, nil); !strings.Contains(got, want) {
			t.Errorf("ru %s = %q, want %q", key, got, want)
		}
	}
}

func hasCyrillic(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Cyrillic, r) {
			return true
		}
	}
	return false
}

// TestDomainValuesHaveTexts: every status, benefit, referral state, history event, refusal
// reason, error code and document kind the domain knows has a text.
func TestDomainValuesHaveTexts(t *testing.T) {
	c := mustNew(t)
	var keys []string
	for _, s := range kezekbot.Statuses {
		keys = append(keys, "status."+string(s))
	}
	for _, b := range kezekbot.Benefits {
		keys = append(keys, "benefit."+string(b))
	}
	for _, r := range kezekbot.ReferralStates {
		keys = append(keys, "referral."+string(r))
	}
	for _, e := range []kezekbot.HistoryEvent{kezekbot.EventRegistered, kezekbot.EventReferralIssued, kezekbot.EventReferralRevoked,
		kezekbot.EventReferralExpired, kezekbot.EventEnrolled, kezekbot.EventQueueChanged, kezekbot.EventStatusChanged} {
		keys = append(keys, "history."+string(e))
	}
	for _, r := range []kezekbot.RefusalReason{kezekbot.RefusalNotActive, kezekbot.RefusalWindowClosed} {
		keys = append(keys, "refusal."+string(r))
	}
	for _, code := range []string{kezekbot.ECONFLICT, kezekbot.EINTERNAL, kezekbot.EINVALID, kezekbot.ENOTFOUND, kezekbot.EFORBIDDEN, kezekbot.EEXPIRED} {
		keys = append(keys, "error."+code)
	}
	for _, kind := range []string{"birth_certificate", "applicant_id", "benefit_certificate"} {
		keys = append(keys, "doc."+kind)
	}
	for _, k := range keys {
		for _, l := range Languages {
			if !c.Has(l, k) {
				t.Errorf("%s: no %s text", k, l)
			}
		}
	}
}

func TestMissingKeyIsTheKey(t *testing.T) {
	c := mustNew(t)
	if got := c.T("ru", "no.such.key", nil); got != "no.such.key" {
		t.Errorf("missing key gave %q", got)
	}
	if got := c.T("en", "status.queued", nil); got != "В очереди" {
		t.Errorf("unknown language gave %q, want the Russian text", got)
	}
	if c.Has("kk", "no.such.key") {
		t.Error("Has says yes")
	}
}

// TestFastPathMatchesGoI18n: the texts filled in without text/template read exactly as
// go-i18n's Localizer renders them.
func TestFastPathMatchesGoI18n(t *testing.T) {
	c := mustNew(t)
	for _, l := range Languages {
		loc := goi18n.NewLocalizer(c.bundle, l)
		for _, k := range c.Keys() {
			args := map[string]any{}
			for i, v := range c.Vars(l, k) {
				if i%2 == 0 {
					args[v] = "x<" + v + ">"
				} else {
					args[v] = i * 7
				}
			}
			want, err := loc.Localize(&goi18n.LocalizeConfig{MessageID: k, TemplateData: args})
			if err != nil {
				t.Fatalf("%s %s: %v", l, k, err)
			}
			if got := c.T(l, k, args); got != want {
				t.Errorf("%s %s: fast path %q, go-i18n %q", l, k, got, want)
			}
			if strings.Contains(c.T(l, k, args), noValue) {
				t.Errorf("%s %s: an argument is not filled in", l, k)
			}
		}
	}
}

func TestComplexTemplatesGoThroughGoI18n(t *testing.T) {
	fsys := fstest.MapFS{
		"locales/ru.yaml": {Data: []byte("a:\n  b: \"{{if .N}}есть {{.N}}{{else}}нет{{end}}\"\n  c: \"просто\"\n")},
		"locales/kk.yaml": {Data: []byte("a:\n  b: \"{{if .N}}бар {{.N}}{{else}}жоқ{{end}}\"\n  c: \"жай\"\n")},
	}
	c, err := newFromFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.T("kk", "a.b", map[string]any{"N": 3}); got != "бар 3" {
		t.Errorf("got %q", got)
	}
	if got := c.T("ru", "a.b", nil); got != "нет" {
		t.Errorf("got %q", got)
	}
	if v := c.Vars("ru", "a.b"); !slices.Equal(v, []string{"N"}) {
		t.Errorf("vars %v", v)
	}
}

func TestBadCatalogs(t *testing.T) {
	for name, ru := range map[string]string{
		"unclosed action": "a: \"{{.X\"\n",
		"bad template":    "a: \"{{.X | nosuchfunc}}\"\n",
		"list value":      "a: [1, 2]\n",
		"dotted key":      "a.b: x\n",
		"not yaml":        "a: \"\n",
	} {
		fsys := fstest.MapFS{"locales/ru.yaml": {Data: []byte(ru)}, "locales/kk.yaml": {Data: []byte("a: x\n")}}
		if _, err := newFromFS(fsys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDates(t *testing.T) {
	// 2018-08-03 15:58:49 in Astana, which was UTC+6 then.
	t1 := time.Date(2018, 8, 3, 9, 58, 49, 0, time.UTC)
	for _, tc := range []struct{ got, want string }{
		{Date("ru", t1), "3 августа 2018"},
		{Date("kk", t1), "2018 жылғы 3 тамыз"},
		{DateTime("ru", t1), "3 августа 2018, 15:58"},
		{DateTime("kk", t1), "2018 жылғы 3 тамыз, 15:58"},
		{NumericDate(t1), "03.08.2018"},
		{Clock(t1), "15:58"},
		// Since 2024-03-01 Astana is UTC+5.
		{DateTime("ru", time.Date(2026, 1, 31, 19, 5, 0, 0, time.UTC)), "1 февраля 2026, 00:05"},
		{Date("ru", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), "1 марта 2026"},
		{Date("ru", time.Time{}), ""},
		{NumericDate(time.Time{}), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	ru := []string{"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"}
	kk := []string{"қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым", "шілде", "тамыз", "қыркүйек", "қазан", "қараша", "желтоқсан"}
	for m := 1; m <= 12; m++ {
		d := time.Date(2025, time.Month(m), 15, 12, 0, 0, 0, Astana)
		if got := Date("ru", d); got != "15 "+ru[m-1]+" 2025" {
			t.Errorf("month %d: %q", m, got)
		}
		if got := Date("kk", d); got != "2025 жылғы 15 "+kk[m-1] {
			t.Errorf("month %d: %q", m, got)
		}
	}
}

func TestAstanaZone(t *testing.T) {
	_, off := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC).In(Astana).Zone()
	if off != 5*3600 {
		t.Errorf("Astana is UTC%+d in 2025, want +5", off/3600)
	}
	if loadAstana() == nil {
		t.Fatal("nil zone")
	}
}

func TestDuration(t *testing.T) {
	h, m := time.Hour, time.Minute
	for _, tc := range []struct {
		d      time.Duration
		ru, kk string
	}{
		{5*h + 12*m, "5 ч 12 мин", "5 сағ 12 мин"},
		{5*h + 12*m + 59*time.Second, "5 ч 12 мин", "5 сағ 12 мин"},
		{7 * m, "7 мин", "7 мин"},
		{3 * h, "3 ч", "3 сағ"},
		{25*h + 30*m, "1 д 1 ч", "1 күн 1 сағ"},
		{48*h + 5*m, "2 д", "2 күн"},
		{30 * time.Second, "меньше минуты", "1 минуттан аз"},
		{-h, "меньше минуты", "1 минуттан аз"},
	} {
		if got := Duration("ru", tc.d); got != tc.ru {
			t.Errorf("ru %v: %q, want %q", tc.d, got, tc.ru)
		}
		if got := Duration("kk", tc.d); got != tc.kk {
			t.Errorf("kk %v: %q, want %q", tc.d, got, tc.kk)
		}
	}
	if got := Left("ru", 5*h+12*m); got != "осталось 5 ч 12 мин" {
		t.Errorf("%q", got)
	}
	if got := Left("kk", 5*h+12*m); got != "5 сағ 12 мин қалды" {
		t.Errorf("%q", got)
	}
}

func TestDefaultOnce(t *testing.T) {
	a, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Default()
	if a != b {
		t.Error("Default built twice")
	}
}

func BenchmarkTStatic(b *testing.B) {
	c := mustNew(b)
	for b.Loop() {
		_ = c.T("kk", "status.referral_issued", nil)
	}
}

func BenchmarkTArgs(b *testing.B) {
	c := mustNew(b)
	args := map[string]any{"Total": 12, "Page": 1, "Pages": 3}
	for b.Loop() {
		_ = c.T("ru", "list.summary", args)
	}
}
