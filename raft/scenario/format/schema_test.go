// The JSON Schema of scenario files (scenario.schema.json) describes the Go types field for
// field, and a small interpreter of the schema's keywords accepts the shipped scenarios and
// refuses broken ones.

package format

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"raftlab/raft"
)

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../scenario.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSchemaMatchesTheTypes: each object of the schema lists exactly its Go type's fields,
// refuses others, and its enums are the checker's lists.
func TestSchemaMatchesTheTypes(t *testing.T) {
	s := loadSchema(t)
	defs := s["$defs"].(map[string]any)
	cfg := defs["config"].(map[string]any)
	for name, tc := range map[string]struct {
		schema any
		typ    reflect.Type
	}{
		"scenario": {s, reflect.TypeFor[Scenario]()},
		"config":   {cfg, reflect.TypeFor[Config]()},
		"bugs":     {cfg["properties"].(map[string]any)["bugs"], reflect.TypeFor[raft.Bugs]()},
		"step":     {defs["step"], reflect.TypeFor[Step]()},
		"action":   {defs["action"], reflect.TypeFor[ActionSpec]()},
		"cond":     {defs["cond"], reflect.TypeFor[Cond]()},
		"question": {defs["question"], reflect.TypeFor[Question]()},
		"choice":   {defs["choice"], reflect.TypeFor[Choice]()},
	} {
		obj := tc.schema.(map[string]any)
		if obj["additionalProperties"] != false {
			t.Errorf("%s: additionalProperties is not false: unknown fields must be errors", name)
		}
		var props, fields []string
		for k := range obj["properties"].(map[string]any) {
			props = append(props, k)
		}
		for i := range tc.typ.NumField() {
			fields = append(fields, fieldName(tc.typ.Field(i)))
		}
		slices.Sort(props)
		slices.Sort(fields)
		if !slices.Equal(props, fields) {
			t.Errorf("%s: the schema has properties %v; the Go type %s has fields %v", name, props, tc.typ, fields)
		}
	}
	enum := func(def, prop string) []string {
		var out []string
		for _, v := range defs[def].(map[string]any)["properties"].(map[string]any)[prop].(map[string]any)["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	for _, tc := range []struct{ def, prop, want string }{
		{"cond", "cond", names(condUses)}, {"action", "kind", names(actionUses)}, {"cond", "state", strings.Join(states, ", ")},
	} {
		if got := strings.Join(enum(tc.def, tc.prop), ", "); got != tc.want {
			t.Errorf("the schema's %s.%s: %s; the checker knows %s", tc.def, tc.prop, got, tc.want)
		}
	}
}

// validate is a small interpreter of the keywords scenario.schema.json uses. It returns the
// first violation, or "".
func validate(root, schema map[string]any, v any, path string) string {
	if ref, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		if r := validate(root, root["$defs"].(map[string]any)[name].(map[string]any), v, path); r != "" {
			return r
		}
	}
	num := func(k string) (float64, bool) {
		n, ok := schema[k].(json.Number)
		f, _ := n.Float64()
		return f, ok
	}
	if ty, ok := schema["type"].(string); ok {
		okType := map[string]bool{
			"object": reflect.TypeOf(v) == reflect.TypeFor[map[string]any](), "array": reflect.TypeOf(v) == reflect.TypeFor[[]any](),
			"string": reflect.TypeOf(v) == reflect.TypeFor[string](), "boolean": reflect.TypeOf(v) == reflect.TypeFor[bool](),
			"integer": reflect.TypeOf(v) == reflect.TypeFor[json.Number]() && !strings.ContainsAny(fmt.Sprint(v), ".eE"),
			"number":  reflect.TypeOf(v) == reflect.TypeFor[json.Number](),
		}[ty]
		if !okType {
			return fmt.Sprintf("%s: not of type %s", path, ty)
		}
	}
	if e, ok := schema["enum"].([]any); ok && !slices.Contains(e, v) {
		return fmt.Sprintf("%s: %v not in enum", path, v)
	}
	if not, ok := schema["not"].(map[string]any); ok && validate(root, not, v, path) == "" {
		return fmt.Sprintf("%s: matches a schema it must not", path)
	}
	switch v := v.(type) {
	case map[string]any:
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if _, ok := v[r.(string)]; !ok {
					return fmt.Sprintf("%s: %s required", path, r)
				}
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for k, x := range v {
			sub, ok := props[k].(map[string]any)
			if !ok {
				if ap, ok := schema["additionalProperties"].(map[string]any); ok {
					sub = ap
				} else if schema["additionalProperties"] == false {
					return fmt.Sprintf("%s: %s not allowed", path, k)
				} else {
					continue
				}
			}
			if r := validate(root, sub, x, path+"."+k); r != "" {
				return r
			}
		}
	case []any:
		if n, ok := num("minItems"); ok && float64(len(v)) < n {
			return fmt.Sprintf("%s: fewer than %v items", path, n)
		}
		if n, ok := num("maxItems"); ok && float64(len(v)) > n {
			return fmt.Sprintf("%s: more than %v items", path, n)
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, x := range v {
				if r := validate(root, items, x, fmt.Sprintf("%s[%d]", path, i)); r != "" {
					return r
				}
			}
		}
	case string:
		if n, ok := num("minLength"); ok && float64(len([]rune(v))) < n {
			return fmt.Sprintf("%s: shorter than %v", path, n)
		}
		if n, ok := num("maxLength"); ok && float64(len([]rune(v))) > n {
			return fmt.Sprintf("%s: longer than %v", path, n)
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v) {
			return fmt.Sprintf("%s: %q does not match %s", path, v, p)
		}
	case json.Number:
		f, _ := v.Float64()
		if n, ok := num("minimum"); ok && f < n {
			return fmt.Sprintf("%s: below %v", path, n)
		}
		if n, ok := num("maximum"); ok && f > n {
			return fmt.Sprintf("%s: above %v", path, n)
		}
	}
	return ""
}

func TestSchemaAcceptsTheShippedScenariosAndRefusesBrokenOnes(t *testing.T) {
	schema := loadSchema(t)
	decode := func(text string) any {
		var v any
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for name, b := range shipped(t) {
		if r := validate(schema, schema, decode(string(b)), name); r != "" {
			t.Errorf("the schema refuses a shipped scenario: %s", r)
		}
	}
	ok := `{"title":"a","text":"b","for":"1s"}`
	if r := validate(schema, schema, decode(file(ok)), "ok"); r != "" {
		t.Errorf("the schema refuses a small valid file: %s", r)
	}
	for name, text := range map[string]string{
		"unknown field":     file(`{"title":"a","text":"b","untill":{"cond":"leader"}}`),
		"unknown condition": file(`{"title":"a","text":"b","until":{"cond":"leaderr"}}`),
		"unknown action":    file(`{"title":"a","text":"b","do":[{"kind":"explode"}]}`),
		"bad duration":      file(`{"title":"a","text":"b","for":"soon"}`),
		"for and until":     file(`{"title":"a","text":"b","for":"1s","until":{"cond":"leader"}}`),
		"too many nodes":    `{"id":"x","title":"X","config":{"nodes":12},"steps":[` + ok + `]}`,
		"bad id":            `{"id":"My Lab","title":"X","config":{"nodes":3},"steps":[` + ok + `]}`,
		"one choice":        file(`{"title":"a","text":"b","question":{"prompt":"?","choices":[{"text":"y","correct":true}]}}`),
	} {
		if validate(schema, schema, decode(text), "x") == "" {
			t.Errorf("%s: the schema accepts %s", name, text)
		}
		if _, err := Parse([]byte(text)); err == nil {
			t.Errorf("%s: Parse accepts %s", name, text)
		}
	}
}
