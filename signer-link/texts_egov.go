package signerlink

import (
	"net/http"

	"github.com/kezekbot/kezekbot/flows"
)

// The eGov mobile route's texts and outcomes, added to texts and outcomes at start (kept apart
// so the NCALayer route's table reads as it did).
func init() {
	for k, v := range egovTexts {
		texts[k] = v
	}
	for k, v := range egovOutcomes {
		outcomes[k] = v
	}
}

var egovOutcomes = map[string]outcome{
	// The app's request itself: the link stays usable, the app (or the parent, by scanning
	// again) can retry.
	"egov_token": {http.StatusUnauthorized, "err.egov_token", true, ""},
	"egov_order": {http.StatusConflict, "err.egov_order", true, ""},
	"egov_body":  {http.StatusBadRequest, "err.egov_body", true, ""},
}

var egovTexts = map[string]map[flows.Lang]string{
	"page.phone_no_egov": {
		flows.Russian: "На телефоне NCALayer не работает: откройте эту ссылку на компьютере с NCALayer и вашим ключом ЭЦП, пока она действует.",
		flows.Kazakh:  "Телефонда NCALayer жұмыс істемейді: бұл сілтемені жарамды кезінде NCALayer және ЭЦҚ кілтіңіз бар компьютерде ашыңыз.",
	},
	"egov.description.bind": {
		flows.Russian: "Вход в чат-бот kezekbot (очередь в детские сады Астаны)",
		flows.Kazakh:  "kezekbot чат-ботына кіру (Астана балабақшаларының кезегі)",
	},
	"egov.description.revoke": {
		flows.Russian: "Отзыв направления в детский сад (kezekbot)",
		flows.Kazakh:  "Балабақшаға берілген жолдаманы кері қайтару (kezekbot)",
	},
	"egov.meta.expires": {
		flows.Russian: "Ссылка действует до (время Астаны)",
		flows.Kazakh:  "Сілтеме жарамды (Астана уақыты)",
	},
	"egov.page.heading": {
		flows.Russian: "Подписать в eGov mobile",
		flows.Kazakh:  "eGov mobile-да қол қою",
	},
	"egov.page.launch": {
		flows.Russian: "Подписать в eGov mobile",
		flows.Kazakh:  "eGov mobile-да қол қою",
	},
	"egov.page.raw": {
		flows.Russian: "Открыть напрямую (mobileSign:)",
		flows.Kazakh:  "Тікелей ашу (mobileSign:)",
	},
	"egov.page.raw_hint": {
		flows.Russian: "Если кнопка не открыла приложение, нажмите эту ссылку или откройте страницу в браузере телефона.",
		flows.Kazakh:  "Батырма қосымшаны ашпаса, осы сілтемені басыңыз немесе бетті телефон браузерінде ашыңыз.",
	},
	"egov.page.qr_alt": {
		flows.Russian: "QR-код для подписи в eGov mobile",
		flows.Kazakh:  "eGov mobile-да қол қоюға арналған QR-код",
	},
	"egov.page.qr_hint": {
		flows.Russian: "Или отсканируйте QR-код в приложении eGov mobile (раздел «Сканер QR» / «Подписать»).",
		flows.Kazakh:  "Немесе QR-кодты eGov mobile қосымшасында сканерлеңіз («QR сканер» / «Қол қою» бөлімі).",
	},
	"egov.page.phone_hint": {
		flows.Russian: "Приложение eGov mobile откроет документ; подпишите его и вернитесь сюда или в Telegram.",
		flows.Kazakh:  "eGov mobile қосымшасы құжатты ашады; оған қол қойып, осында немесе Telegram-ға оралыңыз.",
	},
	"egov.page.key.bind": {
		flows.Russian: "Для входа подпишите ключом для аутентификации.",
		flows.Kazakh:  "Кіру үшін аутентификация кілтімен қол қойыңыз.",
	},
	"egov.page.key.revoke": {
		flows.Russian: "Для отзыва подпишите ключом для подписи.",
		flows.Kazakh:  "Кері қайтару үшін қол қою кілтімен қол қойыңыз.",
	},
	"egov.page.ncalayer_heading": {
		flows.Russian: "Подписать на компьютере (NCALayer)",
		flows.Kazakh:  "Компьютерде қол қою (NCALayer)",
	},
	"egov.page.switch_to_ncalayer": {
		flows.Russian: "Я за компьютером с NCALayer",
		flows.Kazakh:  "Мен NCALayer орнатылған компьютердемін",
	},
	"egov.page.switch_to_egov": {
		flows.Russian: "Я на телефоне с eGov mobile",
		flows.Kazakh:  "Мен eGov mobile бар телефондамын",
	},
	"egov.page.sandbox": {
		flows.Russian: "sandbox eGov mobile: подписать тестовым ключом",
		flows.Kazakh:  "sandbox eGov mobile: тест кілтімен қол қою",
	},
	"egov.js.waiting": {
		flows.Russian: "Ждём подпись из eGov mobile…",
		flows.Kazakh:  "eGov mobile-дан қолтаңбаны күтудеміз…",
	},
	"egov.js.opened": {
		flows.Russian: "eGov mobile открыл запрос. Подтвердите подпись в приложении…",
		flows.Kazakh:  "eGov mobile сұрауды ашты. Қосымшада қол қоюды растаңыз…",
	},
	"egov.js.fetched": {
		flows.Russian: "Документ в eGov mobile. Подпишите его в приложении — страница обновится сама.",
		flows.Kazakh:  "Құжат eGov mobile-да. Оған қосымшада қол қойыңыз — бет өзі жаңарады.",
	},
	"egov.js.retry": {
		flows.Russian: "Можно подписать ещё раз: снова нажмите кнопку или отсканируйте QR-код.",
		flows.Kazakh:  "Қайта қол қоюға болады: батырманы қайта басыңыз немесе QR-кодты сканерлеңіз.",
	},
	"err.egov_token": {
		flows.Russian: "Запрос eGov mobile не прошёл проверку доступа. Откройте ссылку или QR-код заново.",
		flows.Kazakh:  "eGov mobile сұрауы қолжетімділік тексеруінен өтпеді. Сілтемені немесе QR-кодты қайта ашыңыз.",
	},
	"err.egov_order": {
		flows.Russian: "eGov mobile запросил документ, не открыв ссылку. Откройте ссылку или QR-код заново.",
		flows.Kazakh:  "eGov mobile сілтемені ашпай құжатты сұрады. Сілтемені немесе QR-кодты қайта ашыңыз.",
	},
	"err.egov_body": {
		flows.Russian: "Ответ eGov mobile не удалось прочитать. Попробуйте подписать ещё раз.",
		flows.Kazakh:  "eGov mobile жауабын оқу мүмкін болмады. Қайта қол қойып көріңіз.",
	},
}
