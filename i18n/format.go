package i18n

import (
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the binary carries the zone database: Asia/Almaty must resolve anywhere
)

// Astana is the city's time zone. Since 2024-03-01 all of Kazakhstan is UTC+5; the IANA zone
// that carries Astana's history is Asia/Almaty. If the zone database is missing or older than
// that change (it would still say UTC+6), a fixed UTC+5 zone named "Astana" is used instead.
var Astana = loadAstana()

func loadAstana() *time.Location {
	fixed := time.FixedZone("Astana", 5*60*60)
	loc, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		return fixed
	}
	if _, off := time.Date(2024, time.June, 1, 12, 0, 0, 0, time.UTC).In(loc).Zone(); off != 5*60*60 {
		return fixed
	}
	return loc
}

var (
	monthsRU = [12]string{"января", "февраля", "марта", "апреля", "мая", "июня",
		"июля", "августа", "сентября", "октября", "ноября", "декабря"}
	monthsKK = [12]string{"қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым",
		"шілде", "тамыз", "қыркүйек", "қазан", "қараша", "желтоқсан"}
)

// Date formats the calendar day of t in Astana: «3 августа 2018» in Russian (the month in the
// genitive), «2018 жылғы 3 тамыз» in Kazakh. The zero time gives "".
func Date(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(Astana)
	y, m, d := t.Date()
	var b []byte
	if lang == "kk" {
		b = strconv.AppendInt(b, int64(y), 10)
		b = append(b, " жылғы "...)
		b = strconv.AppendInt(b, int64(d), 10)
		b = append(b, ' ')
		b = append(b, monthsKK[m-1]...)
		return string(b)
	}
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, ' ')
	b = append(b, monthsRU[m-1]...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(y), 10)
	return string(b)
}

// DateTime formats t in Astana with the time of day: «3 августа 2018, 15:58»,
// «2018 жылғы 3 тамыз, 15:58».
func DateTime(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return Date(lang, t) + ", " + Clock(t)
}

// Clock formats the time of day of t in Astana: 15:58.
func Clock(t time.Time) string {
	t = t.In(Astana)
	b := make([]byte, 0, 5)
	b = append2(b, t.Hour())
	b = append(b, ':')
	b = append2(b, t.Minute())
	return string(b)
}

// NumericDate formats the day of t in Astana as the portal does: 03.08.2018.
func NumericDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(Astana)
	b := make([]byte, 0, 10)
	b = append2(b, t.Day())
	b = append(b, '.')
	b = append2(b, int(t.Month()))
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(t.Year()), 10)
	return string(b)
}

func append2(b []byte, n int) []byte {
	if n < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}

// Duration formats a span to the minute, largest units first and at most two of them:
// «1 д 3 ч», «5 ч 12 мин», «7 мин» in Russian; «1 күн 3 сағ», «5 сағ 12 мин», «7 мин» in
// Kazakh. Under a minute it says so; negative spans count as zero.
func Duration(lang string, d time.Duration) string {
	kk := lang == "kk"
	if d < time.Minute {
		if kk {
			return "1 минуттан аз"
		}
		return "меньше минуты"
	}
	mins := int64(d / time.Minute)
	days, hours, m := mins/(24*60), mins/60%24, mins%60
	uD, uH, uM := " д", " ч", " мин"
	if kk {
		uD, uH, uM = " күн", " сағ", " мин"
	}
	var parts []string
	add := func(n int64, unit string) {
		if n > 0 && len(parts) < 2 {
			parts = append(parts, strconv.FormatInt(n, 10)+unit)
		}
	}
	add(days, uD)
	if days > 0 && hours == 0 {
		return parts[0]
	}
	add(hours, uH)
	if len(parts) < 2 {
		add(m, uM)
	}
	return strings.Join(parts, " ")
}

// Left says how much time remains: «осталось 5 ч 12 мин», «5 сағ 12 мин қалды».
func Left(lang string, d time.Duration) string {
	if lang == "kk" {
		return Duration(lang, d) + " қалды"
	}
	return "осталось " + Duration(lang, d)
}
