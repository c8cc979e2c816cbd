package service

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// checkKeys walks a YAML document against the Go type it decodes into and
// reports every key the type does not have, each with its line and, when
// one is close, the key that was probably meant. It also rewrites the
// durations it meets to what Go reads: "200d" and "2w" (days and weeks,
// as rules write them) become hours.
func checkKeys(n *yaml.Node, t reflect.Type, path string) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.DocumentNode {
		var errs []error
		for _, c := range n.Content {
			errs = append(errs, checkKeys(c, t, path)...)
		}
		return errs
	}
	if n.Kind == yaml.AliasNode || n.Tag == "!!null" {
		return nil
	}
	if t == durationType {
		if n.Kind == yaml.ScalarNode {
			n.Value = expandDays(n.Value)
		}
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t == nodeType {
		return nil // reads itself
	}
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // the decoder reports the type
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, unknownKey(k, path, fields))
				continue
			}
			errs = append(errs, checkKeys(v, ft, join(path, k.Value))...)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))...)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, c := range n.Content {
			errs = append(errs, checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return errs
}

// moved are keys that were and are no more, with where what they said
// goes now.
var moved = map[string]string{
	"alerting.http": "set http.listen instead: one server serves /metrics, /healthz, /readyz and /slack/interactions",
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	nodeType        = reflect.TypeFor[yaml.Node]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields are the keys of struct type t and the types they decode
// into, with inlined structs' keys as their own.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range yamlFields(ft) {
				fields[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

// unknownKey says that key k is not one of fields, and which it may have
// meant.
func unknownKey(k *yaml.Node, path string, fields map[string]reflect.Type) error {
	where := ""
	if path != "" {
		where = " in " + path
	}
	if to, ok := moved[join(path, k.Value)]; ok {
		return fmt.Errorf("line %d: `%s` has moved: %s", k.Line, join(path, k.Value), to)
	}
	msg := fmt.Sprintf("line %d: unknown key `%s`%s", k.Line, k.Value, where)
	if s := closest(k.Value, fields); s != "" {
		msg += fmt.Sprintf(" (did you mean `%s`?)", s)
	}
	return fmt.Errorf("%s", msg)
}

// closest is the key of fields nearest to key, if near enough to be a
// slip: an edit distance of at most a third of its length (at least 1),
// a word too many or too few (group_id for group, lateness for
// allowed_lateness), or a different spelling
// of the same words (max-rows, maxRows).
func closest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 0
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s)) }
	for f := range fields {
		if norm(f) == norm(key) {
			return f
		}
		d := editDistance(key, f)
		if len(f) >= 4 && (strings.HasPrefix(key, f+"_") || strings.HasPrefix(f, key+"_")) || len(key) >= 4 && strings.HasSuffix(f, "_"+key) {
			d = 1 // a word too many or too few: group_id, max
		}
		if d <= max(1, len(f)/3) && (best == "" || d < bestD || d == bestD && f < best) {
			best, bestD = f, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// leadingDays are weeks and days at the head of a duration ("2w3d4h"):
// only there are they units, never inside a number ("1.5d").
var leadingDays = regexp.MustCompile(`^(?:(\d+)w)?(?:(\d+)d)?(.*)$`)

// expandDays rewrites the weeks and days that lead a duration as hours,
// which Go reads: "200d" is "4800h", "1d12h" is "24h12h" (36h). Anything
// else ("1.5d", "3h2d") is left for the decoder to refuse.
func expandDays(s string) string {
	m := leadingDays.FindStringSubmatch(s)
	if m == nil || m[1] == "" && m[2] == "" || strings.ContainsAny(m[3], "dw") {
		return s
	}
	out := ""
	for i, per := range []int{7 * 24, 24} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.Atoi(m[i+1])
		if err != nil || n > 1_000_000 {
			return s
		}
		out += strconv.Itoa(n*per) + "h"
	}
	return out + m[3]
}
