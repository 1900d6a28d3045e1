package signerlink

import "github.com/kezekbot/kezekbot/flows"

// securityTexts are the page's words for issue 17 (rate limits, the bind warning); kept apart
// from texts.go so that parallel work on the page's words does not collide. init merges them.
var securityTexts = map[string]map[flows.Lang]string{
	"account.label": {
		flows.Russian: "{who}, чат {chat}",
		flows.Kazakh:  "{who}, чат {chat}",
	},
	"account.unknown": {
		flows.Russian: "аккаунт Telegram без имени",
		flows.Kazakh:  "аты көрсетілмеген Telegram аккаунты",
	},
	"doc.text.bind.account": {
		flows.Russian: "Привязываю к своему ИИН аккаунт Telegram: {account}.",
		flows.Kazakh:  "Өз ЖСН-іме мына Telegram аккаунтын байланыстырамын: {account}.",
	},
	"page.field.account": {
		flows.Russian: "Аккаунт Telegram, который получит доступ к вашим заявлениям",
		flows.Kazakh:  "Өтініштеріңізге қол жеткізетін Telegram аккаунты",
	},
	"page.warn.bind": {
		flows.Russian: "Проверьте: это ваш аккаунт Telegram? Подписывайте, только если эту ссылку вы сами получили от бота в своём Telegram. Если ссылку вам прислал кто-то другой (в мессенджере, SMS, по почте) — не подписывайте: он увидит ваши заявления и сможет отозвать направление ребёнка.",
		flows.Kazakh:  "Тексеріңіз: бұл сіздің Telegram аккаунтыңыз ба? Бұл сілтемені өз Telegram-ыңызда боттан өзіңіз алған болсаңыз ғана қол қойыңыз. Егер сілтемені басқа біреу жіберсе (мессенджерде, SMS-пен, поштамен) — қол қоймаңыз: ол сіздің өтініштеріңізді көріп, балаңыздың жолдамасын кері қайтара алады.",
	},
	"alert.bind_refused": {
		flows.Russian: "⚠️ Кто-то подписал вашей ЭЦП вход в kezekbot из другого аккаунта Telegram: {account}. Мы отказали: ваш ИИН уже привязан к этому чату. Если это были не вы — никому не пересылайте ссылки бота и не подписывайте ссылки, присланные другими людьми. Если вы сами переходите в другой аккаунт, сначала выполните здесь /logout.",
		flows.Kazakh:  "⚠️ Біреу сіздің ЭЦҚ-ңызбен басқа Telegram аккаунтынан kezekbot-қа кіруге қол қойды: {account}. Біз бас тарттық: сіздің ЖСН-іңіз осы чатқа байланысқан. Егер бұл сіз болмасаңыз — бот сілтемелерін ешкімге жібермеңіз және басқа адамдар жіберген сілтемелерге қол қоймаңыз. Егер басқа аккаунтқа өзіңіз ауыссаңыз, алдымен мұнда /logout орындаңыз.",
	},
	"err.bound_elsewhere": {
		flows.Russian: "Этот ИИН уже привязан к другому аккаунту Telegram — мы предупредили его владельца. Если это ваш аккаунт и вы переходите в новый, выполните /logout в старом и запросите новую ссылку.",
		flows.Kazakh:  "Бұл ЖСН басқа Telegram аккаунтына байланысқан — оның иесіне хабарладық. Егер бұл сіздің аккаунтыңыз болса және жаңасына ауыссаңыз, ескісінде /logout орындап, жаңа сілтеме сұраңыз.",
	},
	"err.rate_limited": {
		flows.Russian: "Слишком много попыток подписи. Подождите минуту и попробуйте ещё раз — ссылка продолжает работать.",
		flows.Kazakh:  "Қол қою әрекеттері тым көп. Бір минут күтіп, қайталап көріңіз — сілтеме әлі жарамды.",
	},
}

func init() {
	for k, v := range securityTexts {
		if _, dup := texts[k]; dup {
			panic("signer-link: text " + k + " defined twice")
		}
		texts[k] = v
	}
}
