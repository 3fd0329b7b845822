package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"bulkhead.dev/bulkhead/l7"
)

// decoder turns the yaml.Node tree of one document into model values,
// recording every problem with its line and field path.
type decoder struct {
	file string
	e    *errs
	l    *loader
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line} }

func (d *decoder) fail(n *yaml.Node, field, format string, a ...any) {
	d.e.add(d.pos(n), field, format, a...)
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 16; depth++ {
		n = n.Alias
	}
	return n
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "a scalar"
	}
	return "nothing"
}

func subfield(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// mapping calls handle for each key of mapping node n that is in keys, in
// document order, and reports unknown and repeated keys.
func (d *decoder) mapping(n *yaml.Node, path string, keys []string, handle func(key string, v *yaml.Node, field string)) bool {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			d.fail(n, path, "want a mapping, got %s", nodeKind(n))
		}
		return false
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		field := subfield(path, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			d.fail(k, path, "mapping keys must be strings")
		case !slices.Contains(keys, k.Value):
			d.fail(k, field, "unknown field (known: %s)", strings.Join(keys, ", "))
		case seen[k.Value]:
			d.fail(k, field, "repeated field")
		default:
			seen[k.Value] = true
			handle(k.Value, v, field)
		}
	}
	return true
}

// scalar returns the text of a scalar node.
func (d *decoder) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.fail(n, field, "want a string, got %s", nodeKind(n))
		return "", false
	}
	return n.Value, true
}

// list calls item for every element of sequence node n.
func (d *decoder) list(n *yaml.Node, field string, item func(i int, v *yaml.Node, field string)) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "want a list, got %s", nodeKind(n))
		return
	}
	for i, v := range n.Content {
		item(i, resolve(v), index(field, i))
	}
}

// strings decodes a list of strings.
func (d *decoder) strings(n *yaml.Node, field string) []string {
	var out []string
	d.list(n, field, func(_ int, v *yaml.Node, f string) {
		if s, ok := d.scalar(v, f); ok {
			out = append(out, s)
		}
	})
	return out
}

// document decodes one YAML document (its root node).
func (d *decoder) document(root *yaml.Node) {
	var apiVersion, kind string
	var spec *yaml.Node
	ok := d.mapping(root, "", []string{"apiVersion", "kind", "metadata", "spec"}, func(key string, v *yaml.Node, f string) {
		switch key {
		case "apiVersion":
			apiVersion, _ = d.scalar(v, f)
			if apiVersion != "" && apiVersion != APIVersion {
				d.fail(v, f, "unsupported apiVersion %q (want %s)", apiVersion, APIVersion)
			}
		case "kind":
			kind, _ = d.scalar(v, f)
			if kind != "" && kind != KindPolicy {
				d.fail(v, f, "unsupported kind %q (want %s)", kind, KindPolicy)
			}
		case "metadata":
			d.metadata(v, f)
		case "spec":
			spec = v
		}
	})
	if !ok {
		return
	}
	if apiVersion == "" {
		d.fail(root, "apiVersion", "missing (want %s)", APIVersion)
	}
	if kind == "" {
		d.fail(root, "kind", "missing (want %s)", KindPolicy)
	}
	if spec == nil {
		d.fail(root, "spec", "missing")
		return
	}
	d.spec(spec)
}

func (d *decoder) metadata(n *yaml.Node, path string) {
	d.mapping(n, path, []string{"name", "namespace", "labels", "annotations"}, func(key string, v *yaml.Node, f string) {
		switch key {
		case "name", "namespace":
			d.scalar(v, f)
		case "labels", "annotations":
			d.stringMap(v, f)
		}
	})
}

type keyedValue struct {
	key, node *yaml.Node
	value     string
}

// stringMap decodes a mapping of strings to strings, reporting repeated keys
// and values that are not strings.
func (d *decoder) stringMap(n *yaml.Node, path string) map[string]keyedValue {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", nodeKind(n))
		return nil
	}
	out := make(map[string]keyedValue, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		f := subfield(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "mapping keys must be strings")
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.fail(k, f, "repeated field")
			continue
		}
		if s, ok := d.scalar(v, f); ok {
			out[k.Value] = keyedValue{key: k, node: v, value: s}
		}
	}
	return out
}

func (d *decoder) spec(n *yaml.Node) {
	d.mapping(n, "", []string{"defaultMode", "groups", "rules"}, func(key string, v *yaml.Node, f string) {
		switch key {
		case "defaultMode":
			if m, ok := d.mode(v, f); ok {
				d.l.setDefaultMode(m, d.pos(v), f)
			}
		case "groups":
			d.list(v, f, func(_ int, g *yaml.Node, gf string) { d.group(g, gf) })
		case "rules":
			d.list(v, f, func(_ int, r *yaml.Node, rf string) { d.rule(r, rf) })
		}
	})
}

func (d *decoder) mode(n *yaml.Node, field string) (Mode, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		return ModeUnset, false
	}
	m, err := ParseMode(s)
	if err != nil {
		d.fail(n, field, "unknown mode %q (want learn, monitor or protect)", s)
		return ModeUnset, false
	}
	return m, true
}

// checkName validates a group or rule name.
func checkName(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	if len(s) > 253 {
		return fmt.Errorf("name longer than 253 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' && c != '.' && c != '_' || i == 0 || i == len(s)-1) {
			return fmt.Errorf("bad name %q: want lower-case letters, digits, '-', '.', '_', starting and ending with a letter or digit", s)
		}
	}
	return nil
}

func (d *decoder) group(n *yaml.Node, path string) {
	g := Group{Pos: d.pos(n)}
	var modeNode, promoteNode, exceptNode *yaml.Node
	kinds := 0
	ok := d.mapping(n, path, []string{"name", "selector", "cidrs", "except", "fqdns", "mode", "autoPromote"}, func(key string, v *yaml.Node, f string) {
		switch key {
		case "name":
			if s, ok := d.scalar(v, f); ok {
				if err := checkName(s); err != nil {
					d.fail(v, f, "%v", err)
				} else if s == GroupWorld || s == GroupHost {
					d.fail(v, f, "%q is a built-in group and cannot be defined", s)
				} else if reservedGroupNames[s] {
					d.fail(v, f, "%q is reserved (metrics use it for folded and missing groups)", s)
				}
				g.Name = s
			}
		case "selector":
			kinds++
			g.Kind = GroupSelector
			g.Selector = d.selector(v, f)
		case "cidrs":
			kinds++
			g.Kind = GroupCIDR
			g.CIDRs = d.prefixes(v, f)
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				d.fail(v, f, "empty list")
			}
		case "except":
			exceptNode = v
			g.Except = d.prefixes(v, f)
		case "fqdns":
			kinds++
			g.Kind = GroupFQDN
			d.list(v, f, func(_ int, item *yaml.Node, itemField string) {
				s, ok := d.scalar(item, itemField)
				if !ok {
					return
				}
				p, err := ParseDNSPattern(s)
				switch {
				case err != nil:
					d.fail(item, itemField, "%v", err)
				case p.Any():
					d.fail(item, itemField, "bad FQDN %q: use the world group for every name", s)
				default:
					g.FQDNs = append(g.FQDNs, p.String())
				}
			})
			if len(g.FQDNs) == 0 && v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				d.fail(v, f, "empty list")
			}
		case "mode":
			modeNode = v
			g.Mode, _ = d.mode(v, f)
		case "autoPromote":
			promoteNode = v
			g.AutoPromote = d.autoPromote(v, f)
		}
	})
	if !ok {
		return
	}
	if g.Name == "" && !hasKey(n, "name") {
		d.fail(n, subfield(path, "name"), "missing")
	}
	switch {
	case kinds == 0:
		d.fail(n, path, "a group needs one of selector, cidrs or fqdns")
	case kinds > 1:
		d.fail(n, path, "a group has only one of selector, cidrs or fqdns")
	}
	if exceptNode != nil {
		if g.Kind != GroupCIDR || kinds != 1 {
			d.fail(exceptNode, subfield(path, "except"), "except applies to cidrs groups only")
		}
		for i, x := range g.Except {
			if !coveredByAny(g.CIDRs, x) {
				d.fail(exceptNode, index(subfield(path, "except"), i), "%s is not inside any of the group's cidrs", x)
			}
		}
	}
	if g.Kind != GroupSelector {
		if modeNode != nil {
			d.fail(modeNode, subfield(path, "mode"), "mode applies to selector groups only (addresses outside the node have no mode)")
		}
		if promoteNode != nil {
			d.fail(promoteNode, subfield(path, "autoPromote"), "autoPromote applies to selector groups only")
		}
	}
	d.l.addGroup(g, path)
}

func hasKey(n *yaml.Node, key string) bool {
	n = resolve(n)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

func coveredByAny(cidrs []netip.Prefix, p netip.Prefix) bool {
	for _, c := range cidrs {
		if c.Addr().Is4() == p.Addr().Is4() && c.Bits() <= p.Bits() && c.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func (d *decoder) prefixes(n *yaml.Node, path string) []netip.Prefix {
	var out []netip.Prefix
	d.list(n, path, func(_ int, v *yaml.Node, f string) {
		s, ok := d.scalar(v, f)
		if !ok {
			return
		}
		p, err := ParseCIDR(s)
		if err != nil {
			d.fail(v, f, "%v", err)
			return
		}
		out = append(out, p)
	})
	return out
}

// ParseCIDR parses a network prefix ("198.18.0.0/15", "2001:2::/48"); a
// bare address is its own /32 or /128. Host bits must be zero.
func ParseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q: not an address or prefix", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		// netip repeats the input: keep only its reason.
		msg := err.Error()
		if i := strings.LastIndex(msg, "): "); i >= 0 {
			msg = msg[i+3:]
		}
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q: %s", s, msg)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q: write IPv4-mapped prefixes as IPv4", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q: host bits set (did you mean %s?)", s, p.Masked())
	}
	return p, nil
}

func (d *decoder) selector(n *yaml.Node, path string) *Selector {
	s := &Selector{}
	d.mapping(n, path, []string{"matchLabels", "matchExpressions"}, func(key string, v *yaml.Node, f string) {
		switch key {
		case "matchLabels":
			s.MatchLabels = map[string]string{}
			for k, kv := range d.stringMap(v, f) {
				if err := checkLabelKey(k); err != nil {
					d.fail(kv.key, subfield(f, k), "%v", err)
				} else if err := checkSelectorValue(k, kv.value); err != nil {
					d.fail(kv.node, subfield(f, k), "bad label value: %v", err)
				} else {
					s.MatchLabels[k] = kv.value
				}
			}
		case "matchExpressions":
			d.list(v, f, func(_ int, e *yaml.Node, ef string) {
				if r, ok := d.requirement(e, ef); ok {
					s.MatchExpressions = append(s.MatchExpressions, r)
				}
			})
		}
	})
	return s
}

func (d *decoder) requirement(n *yaml.Node, path string) (Requirement, bool) {
	var r Requirement
	var valuesNode *yaml.Node
	ok := d.mapping(n, path, []string{"key", "operator", "values"}, func(key string, v *yaml.Node, f string) {
		switch key {
		case "key":
			r.Key, _ = d.scalar(v, f)
			if r.Key != "" {
				if err := checkLabelKey(r.Key); err != nil {
					d.fail(v, f, "%v", err)
				}
			}
		case "operator":
			op, _ := d.scalar(v, f)
			r.Operator = Operator(op)
			switch r.Operator {
			case OpIn, OpNotIn, OpExists, OpDoesNotExist:
			default:
				d.fail(v, f, "unknown operator %q (want In, NotIn, Exists or DoesNotExist)", op)
			}
		case "values":
			valuesNode = v
			r.Values = d.strings(v, f)
			for i, val := range r.Values {
				if err := checkSelectorValue(r.Key, val); err != nil {
					d.fail(v, index(f, i), "bad label value: %v", err)
				}
			}
		}
	})
	if !ok {
		return r, false
	}
	if r.Key == "" {
		d.fail(n, subfield(path, "key"), "missing")
	}
	switch r.Operator {
	case "":
		d.fail(n, subfield(path, "operator"), "missing")
	case OpIn, OpNotIn:
		if len(r.Values) == 0 {
			d.fail(n, subfield(path, "values"), "operator %s needs at least one value", r.Operator)
		}
	case OpExists, OpDoesNotExist:
		if valuesNode != nil && len(r.Values) > 0 {
			d.fail(valuesNode, subfield(path, "values"), "operator %s takes no values", r.Operator)
		}
	}
	return r, true
}

func (d *decoder) autoPromote(n *yaml.Node, path string) *AutoPromote {
	a := &AutoPromote{}
	ok := d.mapping(n, path, []string{"after", "to"}, func(key string, v *yaml.Node, f string) {
		switch key {
		case "after":
			s, ok := d.scalar(v, f)
			if !ok {
				return
			}
			dur, err := ParseDuration(s)
			if err != nil {
				d.fail(v, f, "%v", err)
				return
			}
			a.After = dur
		case "to":
			m, ok := d.mode(v, f)
			if ok && m == ModeLearn {
				d.fail(v, f, "autoPromote.to must be monitor or protect")
				return
			}
			a.To = m
		}
	})
	if !ok {
		return nil
	}
	if a.After == 0 && !hasKey(n, "after") {
		d.fail(n, subfield(path, "after"), "missing")
	}
	if a.To == ModeUnset && !hasKey(n, "to") {
		d.fail(n, subfield(path, "to"), "missing")
	}
	return a
}

// ParseDuration parses a Go duration ("36h", "90m") or a number of days
// ("7d"). It must be at least one minute.
func ParseDuration(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && strings.Trim(days, "0123456789") == "" {
		n, err := strconv.Atoi(days)
		if err != nil || n > 3650 {
			return 0, fmt.Errorf("bad duration %q: too many days", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("bad duration %q: want e.g. 30m, 24h or 7d", s)
		}
	}
	if d < time.Minute {
		return 0, fmt.Errorf("bad duration %q: shorter than 1m", s)
	}
	return d, nil
}

// ruleKeys are the fields of a rule: the fixed ones, then one per L7 kind.
var ruleKeys = func() []string {
	keys := []string{"name", "from", "to", "ports", "app"}
	for k := KindHTTP; k < numKinds; k++ {
		keys = append(keys, k.String())
	}
	return keys
}()

func (d *decoder) rule(n *yaml.Node, path string) {
	r := Rule{Pos: d.pos(n), AnyApp: true}
	refs := ruleRefs{}
	var appNode, condNode *yaml.Node
	ok := d.mapping(n, path, ruleKeys, func(key string, v *yaml.Node, f string) {
		switch key {
		case "name":
			if s, ok := d.scalar(v, f); ok {
				if err := checkName(s); err != nil {
					d.fail(v, f, "%v", err)
				}
				r.Name = s
			}
		case "from":
			r.From, _ = d.scalar(v, f)
			refs.from = d.pos(v)
		case "to":
			r.To, _ = d.scalar(v, f)
			refs.to = d.pos(v)
		case "ports":
			d.list(v, f, func(_ int, p *yaml.Node, pf string) {
				s, ok := d.scalar(p, pf)
				if !ok {
					return
				}
				pr, err := ParsePort(s)
				if err != nil {
					d.fail(p, pf, "%v", err)
					return
				}
				r.Ports = append(r.Ports, pr)
			})
		case "app":
			appNode = v
			s, ok := d.scalar(v, f)
			if !ok || s == "any" {
				return
			}
			app, known := l7.ParseApp(s)
			if !known {
				d.fail(v, f, "unknown app %q (known: any, %s)", s, appList())
				return
			}
			r.AnyApp, r.App = false, app
		default: // an L7 condition kind
			k, _ := ParseKind(key)
			if condNode != nil {
				d.fail(v, f, "a rule has one kind of L7 conditions; %s is already given", r.Kind)
				return
			}
			condNode = v
			r.Kind = k
			r.Matches = d.conditions(k, v, f)
		}
	})
	if !ok {
		return
	}
	for _, ref := range []struct{ key, val string }{{"from", r.From}, {"to", r.To}} {
		switch {
		case ref.val != "":
		case !hasKey(n, ref.key):
			d.fail(n, subfield(path, ref.key), "missing")
		default:
			d.fail(n, subfield(path, ref.key), "empty group name")
		}
	}
	if condNode != nil {
		f := subfield(path, r.Kind.String())
		switch {
		case r.AnyApp && (appNode == nil || appNode.Value == "any"):
			d.fail(condNode, f, "%s conditions need app %s", r.Kind, appAlternatives(r.Kind))
		case !r.AnyApp && !r.Kind.Fits(r.App):
			d.fail(condNode, f, "%s conditions do not apply to app %s (they need app %s)", r.Kind, r.App, appAlternatives(r.Kind))
		}
	}
	d.l.addRule(r, path, refs)
}

func appAlternatives(k L7Kind) string {
	var names []string
	for _, a := range k.Apps() {
		names = append(names, a.String())
	}
	return strings.Join(names, " or ")
}

func appList() string {
	var names []string
	for _, a := range l7.Apps() {
		names = append(names, a.String())
	}
	return strings.Join(names, ", ") + ", unknown"
}

// conditions decodes the list of entries of one L7 kind.
func (d *decoder) conditions(k L7Kind, n *yaml.Node, path string) []L7Match {
	var out []L7Match
	var keys []string
	for _, f := range k.Fields() {
		keys = append(keys, f.Key)
	}
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.fail(n, path, "empty list (omit %s to allow every %s request)", k, k)
		return nil
	}
	d.list(n, path, func(_ int, e *yaml.Node, ef string) {
		m := L7Match{Pos: d.pos(e)}
		set := 0
		ok := d.mapping(e, ef, keys, func(key string, v *yaml.Node, f string) {
			s, ok := d.scalar(v, f)
			if !ok {
				return
			}
			var attr Attr
			for _, kf := range k.Fields() {
				if kf.Key == key {
					attr = kf.Attr
				}
			}
			norm, err := checkPattern(attr, s)
			if err != nil {
				d.fail(v, f, "%v", err)
				return
			}
			m.Values[attr] = norm
			set++
		})
		if ok && set == 0 && len(e.Content) == 0 {
			d.fail(e, ef, "empty condition (set at least one of %s)", strings.Join(keys, ", "))
		}
		if ok {
			out = append(out, m)
		}
	})
	return out
}

// checkPattern validates a pattern for attribute a and returns its
// normalised text.
func checkPattern(a Attr, s string) (string, error) {
	ca, err := compileAttr(a, s)
	if err != nil {
		return "", err
	}
	return ca.String(), nil
}
