package bot

import (
	"github.com/kezekbot/kezekbot/bot/render"
	"github.com/kezekbot/kezekbot/flows"
)

// RenderAdapter makes a *render.Renderer a Renderer.
type RenderAdapter struct{ R *render.Renderer }

// Screen renders a screen.
func (a RenderAdapter) Screen(s flows.Screen) Message { return Message(a.R.Screen(s)) }

// Text renders a catalog key.
func (a RenderAdapter) Text(lang flows.Lang, key string, args map[string]any) string {
	return a.R.Text(lang, key, args)
}
