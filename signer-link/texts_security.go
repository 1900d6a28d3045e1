package signerlink

import "github.com/kezekbot/kezekbot/flows"

// securityTexts are the page's words for issue 17 (rate limits, the bind warning); kept apart
// from texts.go so that parallel work on the page's words does not collide. init merges them.
var securityTexts = map[string]map[flows.Lang]string{
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
