package signerlink

import (
	"testing"

	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/internal/textlint"
)

// TestProofread keeps the signing page's texts free of the mistakes internal/textlint knows
// (case endings after values, counts before nouns, names in double quotes).
func TestProofread(t *testing.T) {
	for key, m := range texts {
		for _, p := range textlint.Kazakh(m[flows.Kazakh]) {
			t.Errorf("kk %s: %s\n\t%s", key, p, m[flows.Kazakh])
		}
		for _, p := range textlint.Russian(m[flows.Russian]) {
			t.Errorf("ru %s: %s\n\t%s", key, p, m[flows.Russian])
		}
	}
}
