package city_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
)

// The document (api/queue.yaml) and the Go shapes must not drift: these tests hold every
// schema's properties equal to its type's JSON fields, required equal to the fields without
// omitempty, the enums equal to the Go lists, and every example valid as the Go side reads it.

var schemaTypes = map[string]reflect.Type{
	"Person":          reflect.TypeFor[city.Person](),
	"Child":           reflect.TypeFor[city.Child](),
	"Kindergarten":    reflect.TypeFor[city.Kindergarten](),
	"Referral":        reflect.TypeFor[city.Referral](),
	"HistoryEntry":    reflect.TypeFor[city.HistoryEntry](),
	"Document":        reflect.TypeFor[city.Document](),
	"Application":     reflect.TypeFor[city.Application](),
	"ApplicationList": reflect.TypeFor[city.ApplicationList](),
	"SearchRequest":   reflect.TypeFor[city.SearchRequest](),
	"Change":          reflect.TypeFor[city.Change](),
	"ChangePage":      reflect.TypeFor[city.ChangePage](),
	"RevokeRequest":   reflect.TypeFor[city.RevokeRequest](),
	"RevokeAccepted":  reflect.TypeFor[city.RevokeAccepted](),
	"Problem":         reflect.TypeFor[city.Problem](),
}

type doc = map[string]any

func loadSpec(t *testing.T) doc {
	t.Helper()
	b, err := os.ReadFile("../api/queue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d doc
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatalf("api/queue.yaml does not parse: %v", err)
	}
	return d
}

func get(d any, path ...string) any {
	for _, p := range path {
		m, ok := d.(doc)
		if !ok {
			return nil
		}
		d = m[p]
	}
	return d
}

// resolve follows a local $ref ("#/components/…").
func resolve(t *testing.T, spec doc, v any) any {
	t.Helper()
	for range 10 {
		ref, ok := get(v, "$ref").(string)
		if !ok {
			return v
		}
		parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		v = get(spec, parts...)
		if v == nil {
			t.Fatalf("dangling $ref %s", ref)
		}
	}
	t.Fatal("$ref loop")
	return nil
}

func sortedKeys(m doc) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func jsonFields(typ reflect.Type) (all, required []string) {
	for f := range typ.Fields() {
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	sort.Strings(all)
	sort.Strings(required)
	return all, required
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func TestSpecMatchesTypes(t *testing.T) {
	spec := loadSpec(t)
	if v := get(spec, "openapi"); v != "3.1.0" {
		t.Errorf("openapi %v, want 3.1.0", v)
	}
	if v := get(spec, "info", "version"); v != city.Version {
		t.Errorf("info.version %v, city.Version %s", v, city.Version)
	}
	schemas, _ := get(spec, "components", "schemas").(doc)
	for _, name := range sortedKeys(schemas) {
		s := schemas[name].(doc)
		if s["type"] != "object" {
			continue
		}
		typ, ok := schemaTypes[name]
		if !ok {
			t.Errorf("schema %s has no Go type in the test's table", name)
			continue
		}
		if s["additionalProperties"] != false {
			t.Errorf("schema %s: additionalProperties must be false (kezekbot decodes strictly)", name)
		}
		props := sortedKeys(s["properties"].(doc))
		fields, required := jsonFields(typ)
		if !slices.Equal(props, fields) {
			t.Errorf("schema %s properties %v, Go %s fields %v", name, props, typ, fields)
		}
		req := strs(s["required"])
		sort.Strings(req)
		if !slices.Equal(req, required) {
			t.Errorf("schema %s required %v, Go fields without omitempty %v", name, req, required)
		}
	}
	for name := range schemaTypes {
		if _, ok := schemas[name]; !ok {
			t.Errorf("Go type %s has no schema", name)
		}
	}

	enums := []struct {
		path []string
		want []string
	}{
		{[]string{"Status", "enum"}, toStrings(kezekbot.Statuses)},
		{[]string{"Benefit", "enum"}, toStrings(kezekbot.Benefits)},
		{[]string{"Referral", "properties", "state", "enum"}, toStrings(kezekbot.ReferralStates)},
		{[]string{"Change", "properties", "kind", "enum"}, city.ChangeKinds},
		{[]string{"Problem", "properties", "code", "enum"}, city.RefusalCodes},
	}
	for _, e := range enums {
		got := strs(get(schemas, e.path...))
		if !slices.Equal(got, e.want) {
			t.Errorf("%s: %v, Go %v", strings.Join(e.path, "."), got, e.want)
		}
	}
}

func toStrings[S ~string](l []S) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = string(v)
	}
	return out
}

func TestSpecExamples(t *testing.T) {
	spec := loadSpec(t)
	type op struct {
		where string
		o     doc
	}
	var ops []op
	for _, group := range []string{"paths", "webhooks"} {
		items, _ := spec[group].(doc)
		for _, p := range sortedKeys(items) {
			for _, method := range sortedKeys(items[p].(doc)) {
				if o, ok := items[p].(doc)[method].(doc); ok {
					ops = append(ops, op{group + " " + p + " " + method, o})
				}
			}
		}
	}
	if len(ops) != 5 {
		t.Errorf("%d operations, want 5 (four paths and the push webhook)", len(ops))
	}
	checked := 0
	for _, o := range ops {
		if o.o["operationId"] == nil {
			t.Errorf("%s: no operationId", o.where)
		}
		if rb := get(o.o, "requestBody", "content"); rb != nil {
			if n := checkContent(t, spec, o.where+" request", rb.(doc)); n == 0 {
				t.Errorf("%s: request body without an example", o.where)
			} else {
				checked += n
			}
		}
		responses, _ := o.o["responses"].(doc)
		for _, code := range sortedKeys(responses) {
			r := resolve(t, spec, responses[code])
			content, _ := get(r, "content").(doc)
			if content == nil {
				continue
			}
			n := checkContent(t, spec, o.where+" "+code, content)
			if n == 0 {
				t.Errorf("%s %s: content without an example", o.where, code)
			}
			checked += n
		}
	}
	if checked < 20 {
		t.Errorf("only %d examples checked", checked)
	}
}

// checkContent checks every example of every media type against its schema's Go type and
// returns how many it checked.
func checkContent(t *testing.T, spec doc, where string, content doc) int {
	t.Helper()
	n := 0
	for _, mt := range sortedKeys(content) {
		m := content[mt].(doc)
		ref, _ := get(m, "schema", "$ref").(string)
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		typ, ok := schemaTypes[name]
		if !ok {
			t.Errorf("%s %s: schema %q is not a contract type", where, mt, ref)
			continue
		}
		examples, _ := m["examples"].(doc)
		for _, ex := range sortedKeys(examples) {
			value := get(resolve(t, spec, examples[ex]), "value")
			if value == nil {
				t.Errorf("%s %s example %s: no value", where, mt, ex)
				continue
			}
			b, err := json.Marshal(value)
			if err != nil {
				t.Fatalf("%s example %s: %v", where, ex, err)
			}
			ptr := reflect.New(typ)
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(ptr.Interface()); err != nil {
				t.Errorf("%s %s example %s does not decode into %s: %v", where, mt, ex, typ, err)
				continue
			}
			if err := validate(ptr.Elem().Interface()); err != nil {
				t.Errorf("%s %s example %s: %v", where, mt, ex, err)
			}
			n++
		}
	}
	return n
}

func validate(v any) error {
	switch v := v.(type) {
	case city.Application:
		_, err := v.Detail()
		return err
	case city.ApplicationList:
		for _, a := range v.Applications {
			if _, err := a.Detail(); err != nil {
				return err
			}
		}
	case city.ChangePage:
		for _, c := range v.Changes {
			if err := c.Validate(); err != nil {
				return err
			}
		}
	case city.RevokeRequest:
		return v.Validate()
	case city.RevokeAccepted:
		if _, err := v.Application.Detail(); err != nil {
			return err
		}
		if v.Status != v.Application.Status || v.QueueNumber != v.Application.QueueNumber || v.BenefitQueueNumber != v.Application.BenefitQueueNumber {
			return fmt.Errorf("status or numbers differ from the application's")
		}
	case city.SearchRequest:
		if v.ApplicantIIN.IsZero() {
			return fmt.Errorf("no IIN")
		}
	case city.Problem:
		if !slices.Contains(city.RefusalCodes, v.Code) {
			return fmt.Errorf("code %q not in the closed list", v.Code)
		}
	}
	return nil
}
