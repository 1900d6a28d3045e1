package signerlink

import (
	"bytes"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net/http"
	"time"

	qr "github.com/piglig/go-qr"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
)

// egovPage is what the signing page needs for the eGov mobile route. The script picks the
// route to show first (phone: eGov mobile; computer: NCALayer with the QR code beside it) and
// polls StatusURL while the app signs.
type egovPage struct {
	Launcher  template.URL // vetted: our https launcher with the escaped API №1 URL
	Raw       template.URL // mobileSign:<API №1>, a scheme html/template would otherwise refuse
	QR        string
	StatusURL string
	Sandbox   string // the sandbox's fake app, or ""
	PollMS    int64
	T         map[string]string // texts by short key
	JS        map[string]string // texts for the script
}

// egovPollInterval is how often the page asks whether the app has signed.
const egovPollInterval = 2 * time.Second

func (s *Service) egovPage(data *pageData, lang flows.Lang, token string, action kezekbot.Action) {
	links := s.egovLinks(token)
	p := &egovPage{
		Launcher:  template.URL(links.Launcher),
		Raw:       template.URL(links.Raw),
		QR:        s.cookiePath(token) + "/qr.png",
		StatusURL: s.cookiePath(token) + "/status",
		Sandbox:   s.egov.SandboxURL,
		PollMS:    egovPollInterval.Milliseconds(),
		T:         map[string]string{},
		JS:        map[string]string{},
	}
	for _, k := range []string{"heading", "launch", "raw", "raw_hint", "qr_alt", "qr_hint", "phone_hint", "ncalayer_heading", "switch_to_ncalayer", "switch_to_egov", "sandbox"} {
		p.T[k] = t(lang, "egov.page."+k)
	}
	for _, k := range []string{"waiting", "opened", "fetched", "retry"} {
		p.JS[k] = t(lang, "egov.js."+k)
	}
	if action == kezekbot.ActionRevoke {
		p.T["key"] = t(lang, "egov.page.key.revoke")
	} else {
		p.T["key"] = t(lang, "egov.page.key.bind")
	}
	data.EGov = p
}

// serveQR draws the link's mobileSign: URI as a PNG for the eGov mobile app's scanner. The
// image names the link (it is the link), so it is served like the page: no-store, same origin.
func (s *Service) serveQR(w http.ResponseWriter, r *http.Request, token string) {
	_, lang, reason := s.resolve(r.Context(), r, token)
	if reason != "" {
		s.renderError(w, r, lang, reason, nil)
		return
	}
	png, err := qrPNG(s.egovLinks(token).Raw)
	if err != nil {
		s.log.ErrorContext(r.Context(), "draw QR code", slog.Any("err", err))
		s.renderError(w, r, lang, "internal", nil)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	if r.Method == http.MethodHead {
		return
	}
	http.ServeContent(w, r, "qr.png", time.Time{}, bytes.NewReader(png))
}

// qrPNG encodes text with medium error correction (a phone camera reading a laptop screen
// with glare) and draws it at 4 pixels a module with the standard 4-module quiet zone, as a
// two-colour paletted PNG (the page scales it up, pixelated): drawing it ourselves from the
// modules is several times cheaper than the library's RGBA renderer and gives a 1-bit PNG.
func qrPNG(text string) ([]byte, error) {
	code, err := qr.EncodeText(text, qr.Medium)
	if err != nil {
		return nil, err
	}
	const scale, border = 4, 4
	size := code.Size()
	n := (size + 2*border) * scale
	img := image.NewPaletted(image.Rect(0, 0, n, n), color.Palette{color.White, color.Black})
	for y := range size {
		for x := range size {
			if !code.Module(x, y) {
				continue
			}
			x0, y0 := (x+border)*scale, (y+border)*scale
			for dy := range scale {
				row := img.Pix[(y0+dy)*img.Stride:]
				for dx := range scale {
					row[x0+dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
