// Package yamlstrict decodes YAML into Go structs strictly: an unknown or
// duplicate key is an error that names its line and its dotted path
// ("line 12: limits.flowz: unknown field (known: flows, idle, ...)"), every
// error in a document is reported (not just the first), and the line of
// every field that was set is recorded so that later validation errors can
// point at it.
//
// Decoding merges onto the value it is given: keys that are absent, and keys
// whose value is empty (null), keep what the value held before. That is how
// defaults, the configuration file and command-line overrides layer.
//
// Struct fields are matched by their `yaml` tag name (fields without one, or
// tagged "-", cannot be set). Leaves (scalars, types implementing
// yaml.Unmarshaler or encoding.TextUnmarshaler, and lists and maps of those)
// are decoded by gopkg.in/yaml.v3 itself.
package yamlstrict

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a YAML document.
type Error struct {
	Line int    // 1-based line, 0 when unknown
	Path string // dotted path of the field, e.g. "limits.idle.udp" or "workloads[2].name"
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Positions maps the dotted path of every field set by a document to its line.
type Positions map[string]int

// Decode parses data as one YAML document and merges it onto out, which must
// be a non-nil pointer to a struct. An empty document changes nothing. The
// error, when not nil, joins one *Error per problem (errors.Join).
func Decode(data []byte, out any) (Positions, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(err)
	}
	return DecodeNode(&doc, out)
}

// DecodeNode is Decode for a parsed node (a document node or its content).
func DecodeNode(n *yaml.Node, out any) (Positions, error) {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("yamlstrict: decode into %T: want a non-nil pointer to a struct", out)
	}
	d := &decoder{pos: Positions{}}
	if n.Kind == 0 {
		return d.pos, nil // empty input
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return d.pos, nil
		}
		n = n.Content[0]
	}
	d.value(n, v.Elem(), "")
	return d.pos, errors.Join(d.errs...)
}

// Set decodes value, a YAML flow value such as `16KiB`, `[a, b]` or `true`,
// into the field of out named by the dotted path ("limits.flows"), as if a
// document had set it. It returns the same kind of errors as Decode.
func Set(out any, path, value string) error {
	var val yaml.Node
	if err := yaml.Unmarshal([]byte(value), &val); err != nil {
		return &Error{Path: path, Msg: fmt.Sprintf("bad value %q: %v", value, stripLine(err.Error()))}
	}
	leaf := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
	if len(val.Content) > 0 {
		leaf = val.Content[0]
	}
	return SetNode(out, path, leaf)
}

// SetString sets the field of out named by path to value taken literally as
// a string scalar (no YAML parsing: "a: b" stays a string), decoded like a
// document value of that type (so "2s" sets a duration and "12" an integer).
func SetString(out any, path, value string) error {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: value}
	if n.ShortTag() == "!!null" {
		// "" and "null" are strings here, not "no value".
		n.Tag = "!!str"
	}
	return SetNode(out, path, n)
}

// SetNode sets the field named by path to the YAML node leaf.
func SetNode(out any, path string, leaf *yaml.Node) error {
	if path == "" {
		return &Error{Msg: "empty field path"}
	}
	segs := strings.Split(path, ".")
	// Build a mapping node for "a.b.c: leaf" and decode it onto out.
	n := leaf
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i] == "" {
			return &Error{Path: path, Msg: "empty element in field path"}
		}
		n = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: segs[i]}, n,
		}}
	}
	_, err := DecodeNode(n, out)
	return err
}

// Fields returns the dotted paths of every settable leaf field of the struct
// pointed to by v (or of the struct type v), in declaration order. Lists and
// maps are leaves. Tests use it to check that documentation names every field.
func Fields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, ok := tagName(f)
			if !ok {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !isLeafType(ft) {
				walk(ft, prefix+name+".")
				continue
			}
			out = append(out, prefix+name)
		}
	}
	walk(t, "")
	return out
}

type decoder struct {
	pos  Positions
	errs []error
}

func (d *decoder) fail(n *yaml.Node, path, format string, a ...any) {
	d.errs = append(d.errs, &Error{Line: n.Line, Path: path, Msg: fmt.Sprintf(format, a...)})
}

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// isLeafType reports whether values of t are decoded by yaml.v3 as a whole.
func isLeafType(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType) ||
		t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType)
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		if path != "" {
			d.pos[path] = n.Line
		}
		return // an empty value keeps what was there
	}
	if path != "" {
		d.pos[path] = n.Line
	}
	t := v.Type()
	switch {
	case isLeafType(t):
		d.leaf(n, v, path)
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(n, v.Elem(), path)
	case t.Kind() == reflect.Struct:
		d.structure(n, v, path)
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		d.list(n, v, path)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		d.mapping(n, v, path)
	default:
		d.leaf(n, v, path)
	}
}

func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	tmp := reflect.New(v.Type())
	tmp.Elem().Set(v)
	if err := n.Decode(tmp.Interface()); err != nil {
		d.fail(n, path, "%s", describeDecodeError(err, n, v.Type()))
		return
	}
	v.Set(tmp.Elem())
}

// describeDecodeError turns a yaml.v3 decode error into a message without its
// own "line N:" prefix (the Error carries the line).
func describeDecodeError(err error, n *yaml.Node, t reflect.Type) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		if n.Kind == yaml.ScalarNode {
			return fmt.Sprintf("cannot use %q as %s", n.Value, typeWord(t))
		}
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = stripLine(m)
		}
		return strings.Join(msgs, "; ")
	}
	return stripLine(err.Error())
}

var lineRE = regexp.MustCompile(`^(yaml: )?line \d+: `)

func stripLine(s string) string { return lineRE.ReplaceAllString(s, "") }

func typeWord(t reflect.Type) string {
	switch {
	case t.String() == "time.Duration":
		return "a duration (e.g. 30s, 5m, 1h)"
	case t.Kind() == reflect.Bool:
		return "a boolean (true or false)"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "an integer"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uintptr:
		return "a non-negative integer"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list of " + strings.TrimPrefix(typeWord(t.Elem()), "a ")
	case t.Kind() == reflect.Map:
		return "a mapping"
	}
	return t.String()
}

func tagName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "" || name == "-" {
		return "", false
	}
	return name, true
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping of fields, got %s", nodeWord(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		if name, ok := tagName(t.Field(i)); ok {
			fields[name] = i
			names = append(names, name)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		fp := join(path, key)
		if first, dup := seen[key]; dup {
			d.fail(k, fp, "duplicate key (first set at line %d)", first)
			continue
		}
		seen[key] = k.Line
		idx, ok := fields[key]
		if !ok {
			sort.Strings(names)
			d.fail(k, fp, "unknown field (known fields: %s)", strings.Join(names, ", "))
			continue
		}
		d.value(val, v.Field(idx), fp)
	}
}

func (d *decoder) list(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, got %s", nodeWord(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.value(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(out)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", nodeWord(n))
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fp := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.fail(k, fp, "duplicate key (first set at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(val, elem, fp)
		out.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(out)
}

func nodeWord(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unsupported node"
}

// syntaxError converts a yaml.v3 parse error into an *Error with its line.
func syntaxError(err error) error {
	msg := err.Error()
	m := regexp.MustCompile(`line (\d+): `).FindStringSubmatch(msg)
	line := 0
	if m != nil {
		fmt.Sscanf(m[1], "%d", &line)
	}
	return &Error{Line: line, Msg: "YAML syntax: " + stripLine(msg)}
}
