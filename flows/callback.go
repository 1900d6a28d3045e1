package flows

// ButtonAction is what an inline button does. The values are short because callback data is
// limited to 64 bytes.
type ButtonAction string

const (
	ActLangKK        ButtonAction = "kk"
	ActLangRU        ButtonAction = "ru"
	ActBind          ButtonAction = "bind"
	ActMenu          ButtonAction = "menu"
	ActApps          ButtonAction = "apps" // «Журнал заявлений», ID = page
	ActOpen          ButtonAction = "open" // ID = application id
	ActHistory       ButtonAction = "hist"
	ActDocs          ButtonAction = "docs"
	ActReferral      ButtonAction = "ref"
	ActExtend        ButtonAction = "ext"
	ActRevoke        ButtonAction = "rev"
	ActPickReferral  ButtonAction = "pick"   // ID = referral id
	ActReasonPreset  ButtonAction = "rsn"    // ID = preset index
	ActConfirm       ButtonAction = "ok"     // «Подтвердить отказ»
	ActCancel        ButtonAction = "cancel" // «Отмена»
	ActBack          ButtonAction = "back"
	ActLogout        ButtonAction = "out"
)
