// Package i18n holds the bot's message catalogs in Kazakh and Russian and the formatting of
// dates, times and durations in the parent's language, in Astana time.
//
// The catalogs are YAML files embedded in the binary (locales/kk.yaml, locales/ru.yaml);
// nested keys are joined with dots ("status.queued"). Texts are go-i18n messages: Go
// templates over a map of arguments ("{{.Name}}"). They are plain text: the renderer escapes
// them for HTML after the arguments are filled in.
package i18n

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"
)

//go:embed locales/*.yaml
var locales embed.FS

// Languages the catalogs are written in. The first is the fallback for an unknown language.
var Languages = []string{"ru", "kk"}

// Catalog translates message keys. It is safe for concurrent use and meant to be built once.
type Catalog struct {
	bundle *goi18n.Bundle
	// per language
	langs map[string]*langCatalog
	keys  []string
}

type langCatalog struct {
	loc  *goi18n.Localizer
	msgs map[string]*message
}

// message is one compiled text. Texts whose template actions are all plain "{{.Name}}" are
// split into parts and filled in without text/template (the hot path); any other template
// goes through the go-i18n Localizer.
type message struct {
	src   string
	parts []part // nil when complex
	plain bool   // no template actions at all
	vars  []string
}

type part struct {
	lit string
	arg string // "" for a literal part
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalog
	defaultErr  error
)

// Default returns the catalog built from the embedded files, built once.
func Default() (*Catalog, error) {
	defaultOnce.Do(func() { defaultCat, defaultErr = New() })
	return defaultCat, defaultErr
}

// New builds a catalog from the embedded locale files.
func New() (*Catalog, error) {
	return newFromFS(locales)
}

func newFromFS(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{
		bundle: goi18n.NewBundle(language.Russian),
		langs:  map[string]*langCatalog{},
	}
	keySet := map[string]bool{}
	for _, lang := range Languages {
		raw, err := fs.ReadFile(fsys, "locales/"+lang+".yaml")
		if err != nil {
			return nil, fmt.Errorf("i18n: read %s catalog: %w", lang, err)
		}
		flat, err := parseYAML(raw)
		if err != nil {
			return nil, fmt.Errorf("i18n: parse %s catalog: %w", lang, err)
		}
		tag := language.MustParse(lang)
		lc := &langCatalog{msgs: make(map[string]*message, len(flat))}
		msgs := make([]*goi18n.Message, 0, len(flat))
		for k, v := range flat {
			m, err := compile(v)
			if err != nil {
				return nil, fmt.Errorf("i18n: %s %q: %w", lang, k, err)
			}
			lc.msgs[k] = m
			msgs = append(msgs, &goi18n.Message{ID: k, Other: v})
			keySet[k] = true
		}
		if err := c.bundle.AddMessages(tag, msgs...); err != nil {
			return nil, fmt.Errorf("i18n: add %s messages: %w", lang, err)
		}
		lc.loc = goi18n.NewLocalizer(c.bundle, lang)
		c.langs[lang] = lc
	}
	for k := range keySet {
		c.keys = append(c.keys, k)
	}
	slices.Sort(c.keys)
	return c, nil
}

// parseYAML flattens a YAML mapping of strings into dotted keys.
func parseYAML(raw []byte) (map[string]string, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, err
	}
	out := map[string]string{}
	if len(root.Content) == 0 {
		return out, nil
	}
	var walk func(prefix string, n *yaml.Node) error
	walk = func(prefix string, n *yaml.Node) error {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if k == "" || strings.Contains(k, ".") {
					return fmt.Errorf("line %d: bad key %q", n.Content[i].Line, k)
				}
				if prefix != "" {
					k = prefix + "." + k
				}
				if err := walk(k, n.Content[i+1]); err != nil {
					return err
				}
			}
		case yaml.ScalarNode:
			if _, dup := out[prefix]; dup {
				return fmt.Errorf("line %d: duplicate key %q", n.Line, prefix)
			}
			out[prefix] = n.Value
		default:
			return fmt.Errorf("line %d: %q must be a text or a mapping", n.Line, prefix)
		}
		return nil
	}
	return out, walk("", root.Content[0])
}

// compile splits a text into literal parts and "{{.Name}}" arguments; any other template
// action leaves parts nil, and the text goes through go-i18n. It checks that the template
// parses either way.
func compile(src string) (*message, error) {
	m := &message{src: src}
	if !strings.Contains(src, "{{") {
		m.plain = true
		return m, nil
	}
	rest := src
	simple := true
	var parts []part
	for rest != "" {
		i := strings.Index(rest, "{{")
		if i < 0 {
			parts = append(parts, part{lit: rest})
			break
		}
		if i > 0 {
			parts = append(parts, part{lit: rest[:i]})
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed {{ in %q", src)
		}
		action := strings.TrimSpace(rest[i+2 : i+j])
		if name, ok := strings.CutPrefix(action, "."); ok && isIdent(name) {
			parts = append(parts, part{arg: name})
			if !slices.Contains(m.vars, name) {
				m.vars = append(m.vars, name)
			}
		} else {
			simple = false
			m.vars = append(m.vars, templateVars(action)...)
		}
		rest = rest[i+j+2:]
	}
	if simple {
		m.parts = parts
	}
	slices.Sort(m.vars)
	m.vars = slices.Compact(m.vars)
	return m, checkTemplate(src)
}

func checkTemplate(src string) error {
	_, err := template.New("").Option("missingkey=default").Parse(src)
	return err
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// templateVars finds ".Name" references inside a complex action.
func templateVars(action string) []string {
	var out []string
	for f := range strings.FieldsFuncSeq(action, func(r rune) bool { return r == ' ' || r == '(' || r == ')' || r == '|' }) {
		if name, ok := strings.CutPrefix(f, "."); ok && isIdent(name) {
			out = append(out, name)
		}
	}
	return out
}

// T returns the text of key in lang with args filled in. An unknown language falls back to
// Russian; an unknown key returns the key itself (tests check that no key is missing).
func (c *Catalog) T(lang, key string, args map[string]any) string {
	lc := c.lang(lang)
	m, ok := lc.msgs[key]
	if !ok {
		return key
	}
	if m.plain {
		return m.src
	}
	if m.parts != nil {
		return fill(m.parts, args)
	}
	out, err := lc.loc.Localize(&goi18n.LocalizeConfig{MessageID: key, TemplateData: args})
	if err != nil {
		return key
	}
	return out
}

// Has reports whether key has a text in lang.
func (c *Catalog) Has(lang, key string) bool {
	_, ok := c.lang(lang).msgs[key]
	return ok
}

// Keys returns every key of any language, sorted.
func (c *Catalog) Keys() []string { return slices.Clone(c.keys) }

// Vars returns the template arguments a text uses, sorted; nil for an unknown key.
func (c *Catalog) Vars(lang, key string) []string {
	m, ok := c.lang(lang).msgs[key]
	if !ok {
		return nil
	}
	return slices.Clone(m.vars)
}

// Source returns the raw template of key in lang.
func (c *Catalog) Source(lang, key string) (string, bool) {
	m, ok := c.lang(lang).msgs[key]
	if !ok {
		return "", false
	}
	return m.src, true
}

func (c *Catalog) lang(lang string) *langCatalog {
	if lc, ok := c.langs[lang]; ok {
		return lc
	}
	return c.langs[Languages[0]]
}

// noValue is what text/template prints for a missing argument; the fast path does the same.
const noValue = "<no value>"

func fill(parts []part, args map[string]any) string {
	n := 0
	for _, p := range parts {
		n += len(p.lit) + 8
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range parts {
		if p.arg == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := args[p.arg]
		if !ok {
			b.WriteString(noValue)
			continue
		}
		writeValue(&b, v)
	}
	return b.String()
}

func writeValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case string:
		b.WriteString(x)
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case int32:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case uint32:
		b.WriteString(strconv.FormatUint(uint64(x), 10))
	case fmt.Stringer:
		b.WriteString(x.String())
	case nil:
		b.WriteString(noValue)
	default:
		fmt.Fprint(b, x)
	}
}
