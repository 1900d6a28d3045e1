package signerlink

import (
	"strings"

	"github.com/kezekbot/kezekbot/flows"
)

// texts are the page's words in both languages. They are kept here rather than in the bot's
// catalogue (i18n/locales) because that catalogue belongs to the bot and has no way to add a
// package's own keys; dates and times are formatted by i18n, so both speak alike.
// TestTextsComplete keeps both languages in step.
//
// Placeholders are {name}; values are escaped by html/template when rendered.
var texts = map[string]map[flows.Lang]string{
	"page.title": {
		flows.Russian: "Подпись ЭЦП — kezekbot",
		flows.Kazakh:  "ЭЦҚ қолтаңбасы — kezekbot",
	},
	"page.heading.bind": {
		flows.Russian: "Вход в бот по ЭЦП",
		flows.Kazakh:  "Ботқа ЭЦҚ арқылы кіру",
	},
	"page.heading.revoke": {
		flows.Russian: "Отзыв направления в детский сад",
		flows.Kazakh:  "Балабақшаға берілген жолдаманы кері қайтару",
	},
	"page.lead": {
		flows.Russian: "Вы подписываете ключом ЭЦП следующий документ:",
		flows.Kazakh:  "Сіз ЭЦҚ кілтімен келесі құжатқа қол қоясыз:",
	},
	"page.field.application": {
		flows.Russian: "Заявление",
		flows.Kazakh:  "Өтініш",
	},
	"page.field.kindergarten": {
		flows.Russian: "Детский сад (ДДО)",
		flows.Kazakh:  "Балабақша (МДҰ)",
	},
	"page.field.reason": {
		flows.Russian: "Причина снятия",
		flows.Kazakh:  "Кері қайтару себебі",
	},
	"page.expires": {
		flows.Russian: "Ссылка действует до {time} (время Астаны).",
		flows.Kazakh:  "Сілтеменің жарамдылық мерзімі: {time} (Астана уақыты).",
	},
	"page.consequence.revoke": {
		flows.Russian: "После отзыва направление будет аннулировано, а заявление вернётся в очередь на позицию согласно установленному порядку.",
		flows.Kazakh:  "Кері қайтарылғаннан кейін жолдама жойылады, ал өтініш белгіленген тәртіпке сәйкес кезектегі позицияға қайтарылады.",
	},
	"page.key.bind": {
		flows.Russian: "В окне NCALayer выберите ключ для аутентификации (AUTH_RSA… или AUTH_GOST512…).",
		flows.Kazakh:  "NCALayer терезесінде аутентификация кілтін таңдаңыз (AUTH_RSA… немесе AUTH_GOST512…).",
	},
	"page.key.revoke": {
		flows.Russian: "В окне NCALayer выберите ключ для подписи (RSA… или GOST512…, не AUTH).",
		flows.Kazakh:  "NCALayer терезесінде қол қою кілтін таңдаңыз (RSA… немесе GOST512…, AUTH емес).",
	},
	"page.need": {
		flows.Russian: "Нужен компьютер с запущенной программой NCALayer и вашим ключом ЭЦП.",
		flows.Kazakh:  "NCALayer бағдарламасы іске қосылған компьютер және ЭЦҚ кілтіңіз қажет.",
	},
	"page.sign": {
		flows.Russian: "Подписать",
		flows.Kazakh:  "Қол қою",
	},
	"page.back": {
		flows.Russian: "Вернитесь в Telegram: бот уже знает о результате.",
		flows.Kazakh:  "Telegram-ға оралыңыз: бот нәтижені біледі.",
	},
	"page.back.dead": {
		flows.Russian: "Вернитесь в Telegram и запросите новую ссылку в боте.",
		flows.Kazakh:  "Telegram-ға оралып, боттан жаңа сілтеме сұраңыз.",
	},
	"page.nojs": {
		flows.Russian: "Для подписи включите JavaScript: страница обращается к NCALayer на вашем компьютере.",
		flows.Kazakh:  "Қол қою үшін JavaScript қосыңыз: бет компьютеріңіздегі NCALayer-ге жүгінеді.",
	},
	"page.lang.other": {
		flows.Russian: "Қазақша",
		flows.Kazakh:  "Русский",
	},
	"doc.text.bind": {
		flows.Russian: "Подтверждаю вход в чат-бот kezekbot (очередь в детские сады Астаны) с помощью моей ЭЦП.",
		flows.Kazakh:  "Менің ЭЦҚ-ммен kezekbot чат-ботына (Астана балабақшаларының кезегі) кіруді растаймын.",
	},
	"doc.text.revoke": {
		flows.Russian: "Отозвать направление по заявлению {number} (ДДО: {kindergarten}). Причина снятия: {reason}",
		flows.Kazakh:  "{number} өтініші бойынша берілген жолдаманы кері қайтару (балабақша: {kindergarten}). Кері қайтару себебі: {reason}",
	},

	// Messages the script shows while talking to NCALayer.
	"js.connecting": {
		flows.Russian: "Подключаемся к NCALayer…",
		flows.Kazakh:  "NCALayer-ге қосылудамыз…",
	},
	"js.choose": {
		flows.Russian: "Выберите ключ и введите пароль в окне NCALayer.",
		flows.Kazakh:  "NCALayer терезесінде кілтті таңдап, құпиясөзді енгізіңіз.",
	},
	"js.sending": {
		flows.Russian: "Проверяем подпись…",
		flows.Kazakh:  "Қолтаңбаны тексеріп жатырмыз…",
	},
	"js.not_running": {
		flows.Russian: "NCALayer не запущен. Запустите его или установите с сайта",
		flows.Kazakh:  "NCALayer іске қосылмаған. Оны іске қосыңыз немесе мына сайттан орнатыңыз:",
	},
	"js.cancelled": {
		flows.Russian: "Подписание отменено. Можно попробовать ещё раз.",
		flows.Kazakh:  "Қол қою болдырылмады. Қайталап көруге болады.",
	},
	"js.timeout": {
		flows.Russian: "NCALayer не ответил вовремя. Проверьте окно NCALayer и попробуйте ещё раз.",
		flows.Kazakh:  "NCALayer уақытында жауап бермеді. NCALayer терезесін тексеріп, қайталап көріңіз.",
	},
	"js.ncalayer_error": {
		flows.Russian: "NCALayer сообщил об ошибке. Попробуйте ещё раз или перезапустите NCALayer.",
		flows.Kazakh:  "NCALayer қате туралы хабарлады. Қайталап көріңіз немесе NCALayer-ді қайта іске қосыңыз.",
	},
	"js.network": {
		flows.Russian: "Нет связи с сервером. Проверьте интернет и попробуйте ещё раз.",
		flows.Kazakh:  "Сервермен байланыс жоқ. Интернетті тексеріп, қайталап көріңіз.",
	},

	// Outcomes, one per reason in the outcomes table.
	"ok.bind": {
		flows.Russian: "Готово: чат привязан к вашему ИИН.",
		flows.Kazakh:  "Дайын: чат сіздің ЖСН-іңізге байланыстырылды.",
	},
	"ok.revoke": {
		flows.Russian: "Готово: направление отозвано, заявление вернулось в очередь.",
		flows.Kazakh:  "Дайын: жолдама кері қайтарылды, өтініш кезекке оралды.",
	},
	"ok.revoke_sent": {
		flows.Russian: "Готово: запрос подписан и отправлен в систему очереди. Её ответ придёт в чат с ботом.",
		flows.Kazakh:  "Дайын: сұрау қол қойылып, кезек жүйесіне жіберілді. Оның жауабы ботпен чатқа келеді.",
	},
	"err.forged": {
		flows.Russian: "Ссылка повреждена или недействительна. Откройте ссылку из бота целиком.",
		flows.Kazakh:  "Сілтеме бүлінген немесе жарамсыз. Боттағы сілтемені толық ашыңыз.",
	},
	"err.expired": {
		flows.Russian: "Срок действия ссылки истёк. Ничего не изменено.",
		flows.Kazakh:  "Сілтеменің мерзімі өтті. Ештеңе өзгертілмеді.",
	},
	"err.used": {
		flows.Russian: "Ссылка уже использована или заменена более новой. Повторно она не сработает.",
		flows.Kazakh:  "Сілтеме пайдаланылған немесе жаңасымен ауыстырылған. Ол қайта жұмыс істемейді.",
	},
	"err.csrf": {
		flows.Russian: "Запрос отклонён из соображений безопасности. Обновите страницу и попробуйте ещё раз.",
		flows.Kazakh:  "Сұрау қауіпсіздік мақсатында қабылданбады. Бетті жаңартып, қайталап көріңіз.",
	},
	"err.too_large": {
		flows.Russian: "Подписанный документ слишком большой.",
		flows.Kazakh:  "Қол қойылған құжат тым үлкен.",
	},
	"err.content_type": {
		flows.Russian: "Сервер ждёт подписанный XML-документ.",
		flows.Kazakh:  "Сервер қол қойылған XML-құжатты күтеді.",
	},
	"err.malformed": {
		flows.Russian: "Подпись не распознана: документ повреждён или подписан не так, как делает NCALayer.",
		flows.Kazakh:  "Қолтаңба танылмады: құжат бүлінген немесе NCALayer тәсілімен қол қойылмаған.",
	},
	"err.gost": {
		flows.Russian: "Этот вид ключа ГОСТ не принимается: старые ключи ГОСТ 34.310-2004 и ключи ГОСТ 2015 длиной 256 бит. Подойдёт ключ ГОСТ 2015 (512 бит), который НУЦ РК выдаёт сейчас, или ключ RSA.",
		flows.Kazakh:  "ГОСТ кілтінің бұл түрі қабылданбайды: ескі ГОСТ 34.310-2004 кілттері және ұзындығы 256 бит ГОСТ 2015 кілттері. ҚР ҰКО қазір беретін ГОСТ 2015 (512 бит) кілті немесе RSA кілті жарайды.",
	},
	"err.chain": {
		flows.Russian: "Сертификат выдан не Национальным удостоверяющим центром РК.",
		flows.Kazakh:  "Сертификатты ҚР Ұлттық куәландырушы орталығы бермеген.",
	},
	"err.revoked": {
		flows.Russian: "Сертификат ключа отозван. Получите новый ключ ЭЦП в НУЦ РК.",
		flows.Kazakh:  "Кілт сертификаты кері қайтарылған. ҚР ҰКО-дан жаңа ЭЦҚ кілтін алыңыз.",
	},
	"err.revocation_unknown": {
		flows.Russian: "Не удалось проверить, не отозван ли сертификат. Попробуйте позже.",
		flows.Kazakh:  "Сертификаттың кері қайтарылмағанын тексеру мүмкін болмады. Кейінірек қайталаңыз.",
	},
	"err.cert_expired": {
		flows.Russian: "Срок действия сертификата ключа истёк. Получите новый ключ ЭЦП.",
		flows.Kazakh:  "Кілт сертификатының мерзімі өтті. Жаңа ЭЦҚ кілтін алыңыз.",
	},
	"err.cert_not_yet_valid": {
		flows.Russian: "Сертификат ключа ещё не вступил в силу. Проверьте дату и время на компьютере.",
		flows.Kazakh:  "Кілт сертификаты әлі күшіне енбеген. Компьютердегі күн мен уақытты тексеріңіз.",
	},
	"err.key_usage.bind": {
		flows.Russian: "Выбран не тот ключ. Для входа нужен ключ аутентификации (AUTH_RSA… или AUTH_GOST512…).",
		flows.Kazakh:  "Қате кілт таңдалды. Кіру үшін аутентификация кілті қажет (AUTH_RSA… немесе AUTH_GOST512…).",
	},
	"err.key_usage.revoke": {
		flows.Russian: "Выбран не тот ключ. Для отзыва направления нужен ключ подписи (RSA… или GOST512…, не AUTH).",
		flows.Kazakh:  "Қате кілт таңдалды. Жолдаманы кері қайтару үшін қол қою кілті қажет (RSA… немесе GOST512…, AUTH емес).",
	},
	"err.not_individual": {
		flows.Russian: "Нужен ключ физического лица, а не ключ организации.",
		flows.Kazakh:  "Ұйымның емес, жеке тұлғаның кілті қажет.",
	},
	"err.iin_mismatch": {
		flows.Russian: "Ключ принадлежит другому человеку: ИИН в сертификате не совпадает с ИИН, к которому привязан чат.",
		flows.Kazakh:  "Кілт басқа адамға тиесілі: сертификаттағы ЖСН чат байланыстырылған ЖСН-мен сәйкес емес.",
	},
	"err.signature_invalid": {
		flows.Russian: "Подпись не прошла проверку. Попробуйте подписать ещё раз.",
		flows.Kazakh:  "Қолтаңба тексеруден өтпеді. Қайта қол қойып көріңіз.",
	},
	"err.document_mismatch": {
		flows.Russian: "Подписан не тот документ. Подпишите документ с этой страницы.",
		flows.Kazakh:  "Басқа құжатқа қол қойылған. Осы беттегі құжатқа қол қойыңыз.",
	},
	"err.window_closed": {
		flows.Russian: "Отозвать направление уже нельзя: 24 часа с момента выдачи истекли {date} в {time}. Ничего не изменено.",
		flows.Kazakh:  "Жолдаманы енді кері қайтаруға болмайды: берілген сәттен бастап 24 сағат өтті ({date}, {time}). Ештеңе өзгертілмеді.",
	},
	"err.window_closed.notime": {
		flows.Russian: "Отозвать направление уже нельзя: 24 часа с момента выдачи истекли. Ничего не изменено.",
		flows.Kazakh:  "Жолдаманы енді кері қайтаруға болмайды: берілген сәттен бастап 24 сағат өтті. Ештеңе өзгертілмеді.",
	},
	"err.not_active": {
		flows.Russian: "Направление уже не действует (отозвано, использовано или аннулировано). Ничего не изменено.",
		flows.Kazakh:  "Жолдама енді күшінде емес (кері қайтарылған, пайдаланылған немесе жойылған). Ештеңе өзгертілмеді.",
	},
	"err.not_found": {
		flows.Russian: "Заявление или направление не найдено среди ваших заявлений.",
		flows.Kazakh:  "Өтініш немесе жолдама сіздің өтініштеріңіздің арасынан табылмады.",
	},
	"err.conflict": {
		flows.Russian: "Эта подпись уже была принята раньше. Ничего не изменено.",
		flows.Kazakh:  "Бұл қолтаңба бұрын қабылданған. Ештеңе өзгертілмеді.",
	},
	"err.internal": {
		flows.Russian: "Что-то пошло не так на нашей стороне. Запросите новую ссылку в боте и попробуйте позже.",
		flows.Kazakh:  "Біздің тарапта бірдеңе дұрыс болмады. Боттан жаңа сілтеме сұрап, кейінірек қайталаңыз.",
	},
}

// t returns the text for key in lang, with {name} placeholders replaced from pairs
// (name, value, name, value…). A missing key shows the key itself: visible in review, never a
// blank page.
func t(lang flows.Lang, key string, pairs ...string) string {
	m, ok := texts[key]
	if !ok {
		return key
	}
	s, ok := m[normLang(lang)]
	if !ok {
		return key
	}
	if len(pairs) > 0 {
		old := make([]string, 0, len(pairs))
		for i := 0; i+1 < len(pairs); i += 2 {
			old = append(old, "{"+pairs[i]+"}", pairs[i+1])
		}
		s = strings.NewReplacer(old...).Replace(s)
	}
	return s
}

func normLang(l flows.Lang) flows.Lang {
	if l == flows.Kazakh {
		return flows.Kazakh
	}
	return flows.Russian
}

// langFromAcceptLanguage picks kk when the browser prefers Kazakh over Russian, else ru.
func langFromAcceptLanguage(h string) flows.Lang {
	for part := range strings.SplitSeq(h, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		switch {
		case tag == "kk" || strings.HasPrefix(tag, "kk-"):
			return flows.Kazakh
		case tag == "ru" || strings.HasPrefix(tag, "ru-"):
			return flows.Russian
		}
	}
	return flows.Russian
}
