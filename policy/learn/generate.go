package learn

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

// Options tune Generate. Zero fields take the defaults in brackets (see
// DefaultOptions).
type Options struct {
	Name string      // metadata.name of the policy ["learned"]
	Mode policy.Mode // the policy's defaultMode [monitor]
	// AutoPromote, when set, is written on every workload group.
	AutoPromote *policy.AutoPromote
	// PortThreshold: more distinct ports than this, to one peer with one
	// app and protocol, collapse into one range (at most PortSpan wide) or
	// the protocol's every port. [8, 1024]
	PortThreshold, PortSpan int
	// PathThreshold: more distinct last path segments than this under one
	// parent path (same method and host) become "{param}". [8]
	PathThreshold int
	// DNSThreshold: this many distinct names under one domain become
	// "*.domain" (never under a public suffix). [5]
	DNSThreshold int
	// AddrThreshold: this many external addresses in one /24 (IPv4) or /64
	// (IPv6) become one CIDR group for the prefix. [4]
	AddrThreshold int
}

// DefaultOptions are the values Generate uses for zero fields of Options.
var DefaultOptions = Options{Name: "learned", Mode: policy.ModeMonitor,
	PortThreshold: 8, PortSpan: 1024, PathThreshold: 8, DNSThreshold: 5, AddrThreshold: 4}

func (o Options) withDefaults() Options {
	d := DefaultOptions
	if o.Name == "" {
		o.Name = d.Name
	}
	if o.Mode == policy.ModeUnset {
		o.Mode = d.Mode
	}
	for _, f := range []struct {
		v *int
		d int
	}{
		{&o.PortThreshold, d.PortThreshold}, {&o.PortSpan, d.PortSpan}, {&o.PathThreshold, d.PathThreshold},
		{&o.DNSThreshold, d.DNSThreshold}, {&o.AddrThreshold, d.AddrThreshold},
	} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
	return o
}

// noisyLabels are labels that identify one instance (a replica, a run of
// a container) rather than a workload: generated selectors leave them out.
// A workload left with no other label is selected by its name.
var noisyLabels = map[string]bool{
	// The agent's netns identity source names the network namespace a
	// container ran in: a new one every run (agent/identity.LabelNetNS).
	"bulkhead.dev/netns":                 true,
	"pod-template-hash":                  true,
	"controller-revision-hash":           true,
	"pod-template-generation":            true,
	"statefulset.kubernetes.io/pod-name": true,
	"apps.kubernetes.io/pod-index":       true,
	"batch.kubernetes.io/controller-uid": true,
	"batch.kubernetes.io/job-name":       true,
	"controller-uid":                     true,
	"job-name":                           true,
}

// generator holds the state of one Generate call.
type generator struct {
	opt      Options
	snap     Snapshot
	labels   map[string]map[string]string
	groupOf  map[Peer]string
	groups   map[string]*policy.Group
	seen     map[string][]string // group -> names or addresses it stands for
	usedName map[string]bool
}

// Generate turns a learned graph into a policy: one group per workload
// (selected by its labels, or by its name when the labels would also select
// another workload), FQDN groups for named external peers, CIDR groups for
// the others, and one rule per (source group, destination group, app) with
// its ports and L7 conditions generalised, commented with what was seen.
// Output is sorted, so the same graph always gives the same policy.
func Generate(s Snapshot, opt Options) (*policy.Policy, error) {
	s = Merge(DefaultLimits.MaxValues, s)
	g := &generator{
		opt: opt.withDefaults(), snap: s,
		labels:   map[string]map[string]string{},
		groupOf:  map[Peer]string{},
		groups:   map[string]*policy.Group{},
		seen:     map[string][]string{},
		usedName: map[string]bool{policy.GroupWorld: true, policy.GroupHost: true},
	}
	for _, w := range s.Workloads {
		g.labels[w.Name] = w.Labels
	}
	g.workloadGroups()
	g.externalGroups()
	pol := &policy.Policy{DefaultMode: g.opt.Mode}
	for _, name := range slices.Sorted(maps.Keys(g.groups)) {
		grp := g.groups[name]
		// "seen" lists the names and addresses a pattern stands for; it
		// says nothing when it only repeats the pattern.
		if seen := g.seen[name]; len(seen) > 0 && !(grp.Kind == policy.GroupFQDN && len(seen) == 1 && len(grp.FQDNs) == 1 && seen[0] == grp.FQDNs[0]) {
			grp.Comment = strings.TrimPrefix(grp.Comment+"\n"+listComment("seen", seen), "\n")
		}
		pol.Groups = append(pol.Groups, *grp)
	}
	rules, err := g.rules()
	if err != nil {
		return nil, err
	}
	pol.Rules = rules
	// The result must load: check it the way a user's file is checked.
	out, err := policy.Marshal(pol, g.opt.Name)
	if err != nil {
		return nil, fmt.Errorf("learn: generate: %w", err)
	}
	parsed, err := policy.Parse(g.opt.Name+".yaml", out)
	if err != nil {
		return nil, fmt.Errorf("learn: generate: generated policy does not validate: %w", err)
	}
	for i := range parsed.Rules {
		parsed.Rules[i].Comment = pol.Rules[i].Comment
	}
	for i := range parsed.Groups {
		parsed.Groups[i].Comment = pol.Groups[i].Comment
	}
	return parsed, nil
}

func listComment(what string, items []string) string {
	items = slices.Clone(items)
	slices.Sort(items)
	items = slices.Compact(items)
	const maxItems = 8
	more := ""
	if len(items) > maxItems {
		more = fmt.Sprintf(" and %d more", len(items)-maxItems)
		items = items[:maxItems]
	}
	return what + ": " + strings.Join(items, ", ") + more
}

// uniqueName turns s into a valid, unused group or rule name.
func (g *generator) uniqueName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-._")
	if len(name) > 200 {
		name = strings.Trim(name[:200], "-._")
	}
	if name == "" {
		name = "unnamed"
	}
	base := name
	for i := 2; g.usedName[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	g.usedName[name] = true
	return name
}

func (g *generator) peers() []Peer {
	set := map[Peer]bool{}
	for _, e := range g.snap.Edges {
		set[e.Src], set[e.Dst] = true, true
	}
	for _, w := range g.snap.Workloads {
		set[Workload(w.Name)] = true
	}
	return slices.SortedFunc(maps.Keys(set), ComparePeers)
}

// selectorLabels returns the labels a workload's selector uses.
func selectorLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if noisyLabels[k] || k == policy.WorkloadLabel || policy.CheckLabel(k, v) != nil {
			continue
		}
		out[k] = v
	}
	return out
}

func (g *generator) workloadGroups() {
	var names []string
	for _, p := range g.peers() {
		if p.Kind == PeerWorkload {
			names = append(names, p.Name)
		}
	}
	for _, name := range names {
		sel := &policy.Selector{MatchLabels: selectorLabels(g.labels[name])}
		unique := len(sel.MatchLabels) > 0
		for _, other := range names {
			if other != name && sel.Matches(other, g.labels[other]) {
				unique = false
			}
		}
		if !unique {
			sel.MatchLabels[policy.WorkloadLabel] = name
		}
		gn := g.uniqueName(name)
		grp := &policy.Group{Name: gn, Kind: policy.GroupSelector, Selector: sel}
		if gn != name {
			grp.Comment = "workload " + name
		}
		if a := g.opt.AutoPromote; a != nil && a.To > g.opt.Mode {
			grp.AutoPromote = &policy.AutoPromote{After: a.After, To: a.To}
		}
		g.groups[gn] = grp
		g.groupOf[Workload(name)] = gn
	}
}

func (g *generator) externalGroups() {
	var names []string
	var addrs []netip.Addr
	for _, p := range g.peers() {
		switch p.Kind {
		case PeerFQDN:
			names = append(names, p.Name)
		case PeerAddr:
			addrs = append(addrs, p.Addr)
		case PeerHost:
			g.groupOf[p] = policy.GroupHost
		}
	}
	byPattern := map[string]string{}
	for _, name := range names {
		pat := WildcardNames(names, g.opt.DNSThreshold)[name]
		if _, err := policy.ParseDNSPattern(pat); err != nil {
			// A name that is no valid pattern stays world: the rule then
			// names world, which still allows the flow.
			g.groupOf[FQDN(name)] = policy.GroupWorld
			continue
		}
		gn, ok := byPattern[pat]
		if !ok {
			label := pat
			if dom, wild := strings.CutPrefix(pat, "*."); wild {
				label = dom + "-subdomains"
			}
			gn = g.uniqueName(label)
			byPattern[pat] = gn
			g.groups[gn] = &policy.Group{Name: gn, Kind: policy.GroupFQDN, FQDNs: []string{pat}}
		}
		g.groupOf[FQDN(name)] = gn
		g.seen[gn] = append(g.seen[gn], name)
	}
	byPrefix := map[netip.Prefix]string{}
	for a, pfx := range GroupAddrs(addrs, g.opt.AddrThreshold) {
		gn, ok := byPrefix[pfx]
		if !ok {
			label := "addr-" + pfx.Addr().String()
			if !pfx.IsSingleIP() {
				label = "net-" + pfx.String()
			}
			gn = g.uniqueName(strings.NewReplacer(":", "-", "/", "-").Replace(label))
			byPrefix[pfx] = gn
			g.groups[gn] = &policy.Group{Name: gn, Kind: policy.GroupCIDR, CIDRs: []netip.Prefix{pfx}, Comment: "external addresses " + pfx.String()}
		}
		g.groupOf[Addr(a)] = gn
		g.seen[gn] = append(g.seen[gn], a.String())
	}
}

// ruleAgg gathers the edges that become one rule.
type ruleAgg struct {
	from, to    string
	app         l7.App
	ports       map[l7.Transport][]uint16
	values      []Values
	more        bool
	noValues    bool // an edge of an app with L7 conditions recorded no value
	count       uint64
	edges       int
	first, last time.Time
}

type aggKey struct {
	from, to string
	app      l7.App
}

func (g *generator) rules() ([]policy.Rule, error) {
	aggs := map[aggKey]*ruleAgg{}
	for _, e := range g.snap.Edges {
		k := aggKey{g.groupOf[e.Src], g.groupOf[e.Dst], e.App}
		a := aggs[k]
		if a == nil {
			a = &ruleAgg{from: k.from, to: k.to, app: k.app, ports: map[l7.Transport][]uint16{}, first: e.FirstSeen, last: e.LastSeen}
			aggs[k] = a
		}
		proto, _ := parseProto(e.Proto)
		a.ports[proto] = append(a.ports[proto], e.Port)
		for _, v := range e.Values {
			a.values = append(a.values, v.Values)
		}
		a.more = a.more || e.ValuesMore
		a.noValues = a.noValues || len(e.Values) == 0
		a.count += e.Count
		a.edges++
		if e.FirstSeen.Before(a.first) {
			a.first = e.FirstSeen
		}
		if e.LastSeen.After(a.last) {
			a.last = e.LastSeen
		}
	}
	keys := slices.SortedFunc(maps.Keys(aggs), func(a, b aggKey) int {
		return strings.Compare(a.from+"\x00"+a.to+"\x00"+a.app.String(), b.from+"\x00"+b.to+"\x00"+b.app.String())
	})
	var out []policy.Rule
	for _, k := range keys {
		out = append(out, g.rule(aggs[k]))
	}
	slices.SortFunc(out, func(a, b policy.Rule) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (g *generator) rule(a *ruleAgg) policy.Rule {
	r := policy.Rule{From: a.from, To: a.to, App: a.app}
	r.Name = g.uniqueName(a.from + "-to-" + a.to + "-" + a.app.String())
	r.ID = r.Name
	var notes []string
	notes = append(notes, fmt.Sprintf("learned from %s (%s), first seen %s, last seen %s",
		plural(a.count, "flow"), plural(uint64(a.edges), "edge"), a.first.UTC().Format(time.RFC3339), a.last.UTC().Format(time.RFC3339)))
	for _, proto := range []l7.Transport{l7.TCP, l7.UDP} {
		ports := a.ports[proto]
		ranges, collapsed := CollapsePorts(proto, ports, g.opt.PortThreshold, g.opt.PortSpan)
		if collapsed {
			notes = append(notes, fmt.Sprintf("%d distinct %s ports collapsed into %s", len(slices.Compact(slices.Sorted(slices.Values(ports)))), protoName(proto), ranges[0]))
		}
		r.Ports = append(r.Ports, ranges...)
	}
	kind := policy.KindForApp(a.app)
	switch {
	case kind == policy.KindNone || len(a.values) == 0:
	case a.more:
		notes = append(notes, fmt.Sprintf("no %s conditions: more distinct requests were seen than the graph keeps", kind))
	default:
		matches, note, ok := g.conditions(kind, a.values)
		if !ok {
			notes = append(notes, note)
			break
		}
		if note != "" {
			notes = append(notes, note)
		}
		if a.noValues {
			notes = append(notes, "some connections sent no request: they wait for one before a decision")
		}
		r.Kind, r.Matches = kind, matches
	}
	r.Comment = strings.Join(notes, "\n")
	return r
}

// conditions builds a rule's L7 entries from the values seen, generalised.
// ok is false when some value cannot be written as a pattern that matches
// it; the rule then has no conditions.
func (g *generator) conditions(kind policy.L7Kind, values []Values) (matches []policy.L7Match, note string, ok bool) {
	values = slices.Clone(values)
	switch kind {
	case policy.KindHTTP:
		// A Host that is an IP literal (clients that dial the service by
		// address) says nothing a reviewer can use and would break clients
		// that use a name for the same service: leave it out.
		for i := range values {
			if isAddrHost(values[i][policy.AttrHost]) {
				values[i][policy.AttrHost] = ""
			}
		}
		gen := GeneralisePaths(values, g.opt.PathThreshold)
		if len(gen) < len(values) {
			note = fmt.Sprintf("%d distinct requests generalised into %d http conditions", len(values), len(gen))
		}
		values = gen
	case policy.KindDNS, policy.KindTLS:
		attr := policy.AttrName
		if kind == policy.KindTLS {
			attr = policy.AttrSNI
		}
		var names []string
		for _, v := range values {
			names = append(names, v[attr])
		}
		pats := WildcardNames(names, g.opt.DNSThreshold)
		for i := range values {
			values[i][attr] = pats[values[i][attr]]
		}
	}
	slices.SortFunc(values, func(a, b Values) int { return compareValues(&a, &b) })
	values = slices.Compact(values)
	for _, v := range values {
		m := policy.L7Match{}
		for _, f := range kind.Fields() {
			if v[f.Attr] == "" {
				continue
			}
			if !policy.PatternMatchesItself(f.Attr, v[f.Attr]) {
				return nil, fmt.Sprintf("no %s conditions: %s %q cannot be written as a pattern", kind, f.Key, v[f.Attr]), false
			}
			m.Values[f.Attr] = v[f.Attr]
		}
		matches = append(matches, m)
	}
	policy.SortMatches(kind, matches)
	return matches, note, true
}

// isAddrHost reports whether an HTTP Host value is an IP address, with or
// without a port or brackets.
func isAddrHost(h string) bool {
	if h == "" {
		return false
	}
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil && ap.Addr().IsValid() {
		return true
	}
	return false
}

func plural(n uint64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
