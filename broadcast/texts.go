package broadcast

import (
	"strings"
)

// texts are this package's messages in both languages: notifications, the progress message
// and the staff dialog. They are plain text (messages go without a parse mode). Placeholders
// are {Name}; TestTextsComplete checks that both languages have every key and the same
// placeholders.
var texts = map[string]map[string]string{
	"ru": {
		"notify.referral_issued": "🎉 По заявлению {Number} выдано направление.\nДДО: {Kindergarten}\n\n" +
			"Если место не подходит, направление можно отозвать до {Deadline} (время Астаны). После этого отозвать его нельзя.",
		"notify.reminder":         "⏰ Осталось около {Left}: до {Deadline} (время Астаны) можно отозвать направление по заявлению {Number}.\nДДО: {Kindergarten}",
		"notify.referral_revoked": "Направление по заявлению {Number} отозвано, заявление вернулось в очередь.\nДДО: {Kindergarten}",
		"notify.referral_expired": "Срок направления по заявлению {Number} истёк, направление аннулировано.\nДДО: {Kindergarten}",
		"notify.referral_used":    "По заявлению {Number} ребёнок зачислен в детский сад.\nДДО: {Kindergarten}",
		"notify.status_changed":   "Статус заявления {Number} изменился: {Status}.",
		"notify.queue_changed":    "Номер в очереди по заявлению {Number} изменился: {Old} → {New}.",
		"btn.open_app":            "Открыть заявление",
		"btn.revoke":              "Отозвать направление",
		"status.queued":           "В очереди",
		"status.referral_issued":  "Принято решение (Выдано направление)",
		"status.enrolled":         "Зачислен",
		"status.removed":          "Снят с очереди",
		"hours":                   "{N} ч",
		"minutes":                 "{N} мин",
		"progress.title":          "📣 Рассылка №{ID}",
		"progress.state.running":  "идёт",
		"progress.state.stopped":  "остановлена",
		"progress.state.done":     "завершена",
		"progress.body": "Статус: {State}\nОтправлено: {Sent}\nОшибки: {Failed}\nЗаблокировали бота: {Blocked}\n" +
			"Осталось: {Remaining} из {Total}\nСкорость: {Rate} сообщ./с\nОсталось времени: {ETA}",
		"btn.stop":   "⏹ Остановить",
		"btn.resume": "▶️ Продолжить",
	},
	"kk": {
		"notify.referral_issued": "🎉 {Number} өтініші бойынша жолдама берілді.\nМДҰ: {Kindergarten}\n\n" +
			"Орын сәйкес келмесе, жолдаманы {Deadline} дейін (Астана уақыты) кері қайтаруға болады. Одан кейін кері қайтару мүмкін емес.",
		"notify.reminder":         "⏰ Шамамен {Left} қалды: {Number} өтініші бойынша жолдаманы {Deadline} дейін (Астана уақыты) кері қайтаруға болады.\nМДҰ: {Kindergarten}",
		"notify.referral_revoked": "{Number} өтініші бойынша жолдама кері қайтарылды, өтініш кезекке қайтты.\nМДҰ: {Kindergarten}",
		"notify.referral_expired": "{Number} өтініші бойынша жолдаманың мерзімі өтті, жолдама жойылды.\nМДҰ: {Kindergarten}",
		"notify.referral_used":    "{Number} өтініші бойынша бала балабақшаға қабылданды.\nМДҰ: {Kindergarten}",
		"notify.status_changed":   "{Number} өтінішінің мәртебесі өзгерді: {Status}.",
		"notify.queue_changed":    "{Number} өтініші бойынша кезектегі нөмір өзгерді: {Old} → {New}.",
		"btn.open_app":            "Өтінішті ашу",
		"btn.revoke":              "Жолдаманы кері қайтару",
		"status.queued":           "Кезекте",
		"status.referral_issued":  "Шешім қабылданды (Жолдама берілді)",
		"status.enrolled":         "Қабылданды",
		"status.removed":          "Кезектен шығарылды",
		"hours":                   "{N} сағ",
		"minutes":                 "{N} мин",
		"progress.title":          "📣 №{ID} тарату",
		"progress.state.running":  "жүріп жатыр",
		"progress.state.stopped":  "тоқтатылды",
		"progress.state.done":     "аяқталды",
		"progress.body": "Күйі: {State}\nЖіберілді: {Sent}\nҚателер: {Failed}\nБотты бұғаттағандар: {Blocked}\n" +
			"Қалды: {Total} ішінен {Remaining}\nЖылдамдық: {Rate} хабар/с\nҚалған уақыт: {ETA}",
		"btn.stop":   "⏹ Тоқтату",
		"btn.resume": "▶️ Жалғастыру",
	},
}

// T returns the text for key in lang (kk or ru; anything else is ru) with {Name}
// placeholders filled from args, given as name, value pairs.
func T(lang, key string, args ...string) string {
	if lang != "kk" {
		lang = "ru"
	}
	s, ok := texts[lang][key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return s
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+args[i]+"}", args[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(s)
}
