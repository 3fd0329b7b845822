package policy

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Marshal writes p as one YAML policy document named name, in the syntax
// Load reads. Group and rule comments are written above them. Rules without
// a Name get none (their IDs derive from the file they are written to).
func Marshal(p *Policy, name string) ([]byte, error) {
	spec := Map()
	if p.DefaultMode != ModeUnset {
		spec.Add("defaultMode", Str(p.DefaultMode.String()))
	}
	if len(p.Groups) > 0 {
		groups := Seq()
		for i := range p.Groups {
			groups.Content = append(groups.Content, groupNode(&p.Groups[i]))
		}
		spec.Add("groups", groups)
	}
	if len(p.Rules) > 0 {
		rules := Seq()
		for i := range p.Rules {
			rules.Content = append(rules.Content, ruleNode(&p.Rules[i]))
		}
		spec.Add("rules", rules)
	}
	doc := Map().
		Add("apiVersion", Str(APIVersion)).
		Add("kind", Str(KindPolicy)).
		AddMap("metadata", Map().Add("name", Str(name))).
		AddMap("spec", spec)
	return EncodeYAML(doc.Node)
}

// EncodeYAML encodes nodes as YAML documents (separated by "---") with a
// two-space indent.
func EncodeYAML(docs ...*yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("policy: encode YAML: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("policy: encode YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// YAMLMap builds a YAML mapping node; Add appends keys in order.
type YAMLMap struct{ *yaml.Node }

// Map returns an empty mapping.
func Map() YAMLMap { return YAMLMap{&yaml.Node{Kind: yaml.MappingNode}} }

// Add appends key: v and returns m.
func (m YAMLMap) Add(key string, v *yaml.Node) YAMLMap {
	m.Content = append(m.Content, Str(key), v)
	return m
}

// AddMap appends key: v for a mapping v and returns m.
func (m YAMLMap) AddMap(key string, v YAMLMap) YAMLMap { return m.Add(key, v.Node) }

// Flow sets flow style ({a: b}) and returns m.
func (m YAMLMap) Flow() YAMLMap {
	m.Style = yaml.FlowStyle
	return m
}

// Str returns a string scalar (quoted by the encoder when needed).
func Str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// Int returns an integer scalar.
func Int(n int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(n)}
}

// Seq returns a sequence of nodes.
func Seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

// FlowSeq returns a flow-style sequence of strings ([a, b]).
func FlowSeq(items ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range items {
		n.Content = append(n.Content, Str(s))
	}
	return n
}

// Commented sets a comment written above n and returns n.
func Commented(n *yaml.Node, comment string) *yaml.Node {
	if comment != "" {
		n.HeadComment = commentText(comment)
	}
	return n
}

func commentText(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "# " + l
	}
	return strings.Join(lines, "\n")
}

// SelectorNode renders a label selector.
func SelectorNode(s *Selector) YAMLMap {
	m := Map()
	if len(s.MatchLabels) > 0 {
		labels := Map()
		keys := make([]string, 0, len(s.MatchLabels))
		for k := range s.MatchLabels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			labels.Add(k, Str(s.MatchLabels[k]))
		}
		m.AddMap("matchLabels", labels)
	}
	if len(s.MatchExpressions) > 0 {
		exprs := Seq()
		for _, r := range s.MatchExpressions {
			e := Map().Add("key", Str(r.Key)).Add("operator", Str(string(r.Operator)))
			if len(r.Values) > 0 {
				e.Add("values", FlowSeq(r.Values...))
			}
			exprs.Content = append(exprs.Content, e.Node)
		}
		m.Add("matchExpressions", exprs)
	}
	return m
}

func groupNode(g *Group) *yaml.Node {
	m := Map().Add("name", Str(g.Name))
	switch g.Kind {
	case GroupSelector:
		m.AddMap("selector", SelectorNode(g.Selector))
	case GroupCIDR:
		m.Add("cidrs", FlowSeq(prefixStrings(g.CIDRs)...))
		if len(g.Except) > 0 {
			m.Add("except", FlowSeq(prefixStrings(g.Except)...))
		}
	case GroupFQDN:
		m.Add("fqdns", FlowSeq(g.FQDNs...))
	}
	if g.Mode != ModeUnset {
		m.Add("mode", Str(g.Mode.String()))
	}
	if a := g.AutoPromote; a != nil {
		m.AddMap("autoPromote", Map().Add("after", Str(FormatDuration(a.After))).Add("to", Str(a.To.String())).Flow())
	}
	return Commented(m.Node, g.Comment)
}

func ruleNode(r *Rule) *yaml.Node {
	m := Map()
	if r.Name != "" {
		m.Add("name", Str(r.Name))
	}
	m.Add("from", Str(r.From)).Add("to", Str(r.To))
	if len(r.Ports) > 0 {
		ports := make([]string, len(r.Ports))
		for i, p := range r.Ports {
			ports[i] = p.String()
		}
		m.Add("ports", FlowSeq(ports...))
	}
	if !r.AnyApp {
		m.Add("app", Str(r.App.String()))
	}
	if r.Kind != KindNone {
		entries := Seq()
		for i := range r.Matches {
			e := Map().Flow()
			for _, f := range r.Kind.Fields() {
				if v := r.Matches[i].Values[f.Attr]; v != "" {
					e.Add(f.Key, Str(v))
				}
			}
			entries.Content = append(entries.Content, e.Node)
		}
		m.Add(r.Kind.String(), entries)
	}
	return Commented(m.Node, r.Comment)
}

func prefixStrings[T fmt.Stringer](ps []T) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// FormatDuration writes d as ParseDuration reads it: "7d" for whole days,
// else Go's form without zero units ("36h", "90m").
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	s = strings.Replace(s, "h0m", "h", 1)
	return s
}
