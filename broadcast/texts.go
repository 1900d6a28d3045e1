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
		"status.enrolled":         "Ребёнок зачислен",
		"status.removed":          "Снято с очереди",
		"hours":                   "{N} ч",
		"minutes":                 "{N} мин",
		"progress.title":          "📣 Рассылка №{ID}",
		"progress.state.running":  "идёт",
		"progress.state.stopped":  "остановлена",
		"progress.state.done":     "завершена",
		"progress.body": "Статус: {State}\nОтправлено: {Sent}\nОшибки: {Failed}\nЗаблокировали бота: {Blocked}\n" +
			"Осталось: {Remaining} из {Total}\nСкорость: {Rate} сообщ./с\nОсталось времени: {ETA}",
		"btn.stop":                   "⏹ Остановить",
		"btn.resume":                 "▶️ Продолжить",
		"staff.btn.all":              "👥 Все родители",
		"staff.btn.kindergarten":     "🏫 По ДДО",
		"staff.btn.status":           "📋 По статусу",
		"staff.btn.years":            "🎂 По году рождения",
		"staff.btn.numbers":          "🔢 По номерам заявлений",
		"staff.btn.cancel":           "Отмена",
		"staff.btn.back":             "« Назад",
		"staff.btn.skip":             "Пропустить",
		"staff.btn.confirm":          "✅ Отправить",
		"staff.btn.edit":             "✏️ Изменить текст",
		"staff.screen.audience":      "📣 Новая рассылка. Кому отправить?",
		"staff.screen.param.kg":      "Отправьте номер (id) ДДО.",
		"staff.screen.param.years":   "Отправьте год рождения детей: 2021 или 2019-2021.",
		"staff.screen.param.numbers": "Отправьте номера заявлений через запятую или с новой строки.",
		"staff.screen.status":        "Выберите статус заявлений.",
		"staff.screen.text_ru":       "Получателей: {Count}.\nОтправьте текст на русском языке (или «Пропустить»). Не указывайте ИИН и имена.",
		"staff.screen.text_kk":       "Отправьте текст на казахском языке (или «Пропустить»). Родители без текста на своём языке получат другой.",
		"staff.screen.confirm":       "Получатели: {Audience} — {Count}.\n\n🇷🇺 {TextRU}\n\n🇰🇿 {TextKK}\n\nОтправить?",
		"staff.screen.started":       "Рассылка №{ID} запущена, получателей: {Count}.",
		"staff.screen.cancelled":     "Рассылка отменена.",
		"staff.screen.error":         "Не получилось. Попробуйте ещё раз.",
		"staff.notice.nobody":        "⚠️ Под этот выбор не подходит ни один родитель.",
		"staff.notice.error":         "⚠️ Ошибка на нашей стороне, попробуйте ещё раз.",
		"staff.notice.stale":         "⚠️ Эта кнопка устарела.",
		"staff.notice.use_buttons":   "⚠️ Выберите вариант кнопкой.",
		"staff.notice.bad_kg":        "⚠️ Нужен номер ДДО — только цифры.",
		"staff.notice.bad_years":     "⚠️ Нужен год (2021) или диапазон (2019-2021).",
		"staff.notice.bad_numbers":   "⚠️ Не удалось разобрать номера заявлений.",
		"staff.notice.text_required": "⚠️ Нужен текст хотя бы на одном языке.",
		"staff.notice.text_too_long": "⚠️ Текст длиннее 4096 символов.",
		"staff.notice.text_iin":      "⚠️ В тексте есть ИИН. Рассылка уходит тысячам людей — уберите его.",
		"staff.answer.stale":         "Эта кнопка устарела",
		"staff.answer.stopping":      "Останавливаю…",
		"staff.answer.resuming":      "Продолжаю…",
		"staff.audience.all":         "все родители",
		"staff.audience.kg":          "ДДО №{ID}",
		"staff.audience.years":       "дети {Years} г.р.",
		"staff.audience.numbers":     "заявлений в списке: {N}",
		"none":                       "—",
	},
	"kk": {
		"notify.referral_issued": "🎉 {Number} өтініші бойынша жолдама берілді.\nБалабақша: {Kindergarten}\n\n" +
			"Орын сәйкес келмесе, жолдаманы кері қайтаруға болады. Мерзімі: {Deadline} (Астана уақыты). Одан кейін кері қайтару мүмкін емес.",
		"notify.reminder":         "⏰ Шамамен {Left} қалды: {Number} өтініші бойынша жолдаманы кері қайтаруға болады. Мерзімі: {Deadline} (Астана уақыты).\nБалабақша: {Kindergarten}",
		"notify.referral_revoked": "{Number} өтініші бойынша жолдама кері қайтарылды, өтініш кезекке қайтты.\nБалабақша: {Kindergarten}",
		"notify.referral_expired": "{Number} өтініші бойынша жолдаманың мерзімі өтті, жолдама жойылды.\nБалабақша: {Kindergarten}",
		"notify.referral_used":    "{Number} өтініші бойынша бала балабақшаға қабылданды.\nБалабақша: {Kindergarten}",
		"notify.status_changed":   "{Number} өтінішінің мәртебесі өзгерді: {Status}.",
		"notify.queue_changed":    "{Number} өтініші бойынша кезектегі нөмір өзгерді: {Old} → {New}.",
		"btn.open_app":            "Өтінішті ашу",
		"btn.revoke":              "Жолдаманы кері қайтару",
		"status.queued":           "Кезекте",
		"status.referral_issued":  "Шешім қабылданды (Жолдама берілді)",
		"status.enrolled":         "Бала қабылданды",
		"status.removed":          "Кезектен шығарылды",
		"hours":                   "{N} сағ",
		"minutes":                 "{N} мин",
		"progress.title":          "📣 №{ID} тарату",
		"progress.state.running":  "жүріп жатыр",
		"progress.state.stopped":  "тоқтатылды",
		"progress.state.done":     "аяқталды",
		"progress.body": "Күйі: {State}\nЖіберілді: {Sent}\nҚателер: {Failed}\nБотты бұғаттағандар: {Blocked}\n" +
			"Қалды: {Total} ішінен {Remaining}\nЖылдамдық: {Rate} хабар/с\nҚалған уақыт: {ETA}",
		"btn.stop":                   "⏹ Тоқтату",
		"btn.resume":                 "▶️ Жалғастыру",
		"staff.btn.all":              "👥 Барлық ата-аналар",
		"staff.btn.kindergarten":     "🏫 МДҰ бойынша",
		"staff.btn.status":           "📋 Мәртебе бойынша",
		"staff.btn.years":            "🎂 Туған жылы бойынша",
		"staff.btn.numbers":          "🔢 Өтініш нөмірлері бойынша",
		"staff.btn.cancel":           "Болдырмау",
		"staff.btn.back":             "« Артқа",
		"staff.btn.skip":             "Өткізіп жіберу",
		"staff.btn.confirm":          "✅ Жіберу",
		"staff.btn.edit":             "✏️ Мәтінді өзгерту",
		"staff.screen.audience":      "📣 Жаңа тарату. Кімге жіберу керек?",
		"staff.screen.param.kg":      "МДҰ нөмірін (id) жіберіңіз.",
		"staff.screen.param.years":   "Балалардың туған жылын жіберіңіз: 2021 немесе 2019-2021.",
		"staff.screen.param.numbers": "Өтініш нөмірлерін үтір арқылы немесе жаңа жолдан жіберіңіз.",
		"staff.screen.status":        "Өтініштердің мәртебесін таңдаңыз.",
		"staff.screen.text_ru":       "Алушылар: {Count}.\nОрыс тіліндегі мәтінді жіберіңіз (немесе «Өткізіп жіберу»). ЖСН мен есімдерді жазбаңыз.",
		"staff.screen.text_kk":       "Қазақ тіліндегі мәтінді жіберіңіз (немесе «Өткізіп жіберу»). Өз тілінде мәтін болмаса, ата-аналар екіншісін алады.",
		"staff.screen.confirm":       "Алушылар: {Audience} — {Count}.\n\n🇷🇺 {TextRU}\n\n🇰🇿 {TextKK}\n\nЖіберу керек пе?",
		"staff.screen.started":       "№{ID} тарату басталды, алушылар: {Count}.",
		"staff.screen.cancelled":     "Тарату болдырылмады.",
		"staff.screen.error":         "Болмады. Қайта көріңіз.",
		"staff.notice.nobody":        "⚠️ Бұл таңдауға бірде-бір ата-ана сәйкес келмейді.",
		"staff.notice.error":         "⚠️ Біздің тарапта қате болды, қайта көріңіз.",
		"staff.notice.stale":         "⚠️ Бұл батырма ескірген.",
		"staff.notice.use_buttons":   "⚠️ Нұсқаны батырмамен таңдаңыз.",
		"staff.notice.bad_kg":        "⚠️ МДҰ нөмірі керек — тек сандар.",
		"staff.notice.bad_years":     "⚠️ Жыл (2021) немесе аралық (2019-2021) керек.",
		"staff.notice.bad_numbers":   "⚠️ Өтініш нөмірлерін оқу мүмкін болмады.",
		"staff.notice.text_required": "⚠️ Кемінде бір тілде мәтін керек.",
		"staff.notice.text_too_long": "⚠️ Мәтін 4096 таңбадан ұзын.",
		"staff.notice.text_iin":      "⚠️ Мәтінде ЖСН бар. Тарату мыңдаған адамға кетеді — оны алып тастаңыз.",
		"staff.answer.stale":         "Бұл батырма ескірген",
		"staff.answer.stopping":      "Тоқтатып жатырмын…",
		"staff.answer.resuming":      "Жалғастырып жатырмын…",
		"staff.audience.all":         "барлық ата-аналар",
		"staff.audience.kg":          "№{ID} МДҰ",
		"staff.audience.years":       "{Years} ж.т. балалар",
		"staff.audience.numbers":     "тізімдегі өтініштер: {N}",
		"none":                       "—",
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
