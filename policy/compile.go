package policy

import (
	"fmt"
	"net/netip"
	"sort"

	"bulkhead.dev/bulkhead/l7"
)

// Plan is a compiled policy: immutable and safe for concurrent use. The
// agent keeps the current *Plan in an atomic pointer and swaps it on reload
// or on a mode change (WithMode returns a new Plan that shares the compiled
// rules).
type Plan struct {
	c *core
	// modes holds each group's explicit mode (ModeUnset: the default mode),
	// indexed like c.groups.
	modes []Mode
	def   Mode
	// what the agent changed at runtime, to carry over to a reloaded policy
	overrides Overrides
}

// core is the compiled, mode-independent part of a plan.
type core struct {
	pol         *Policy
	groups      []cgroup
	byName      map[string]int32
	world, host int32
	selectors   []int32
	cidrGroups  []int32
	fqdnExact   map[string][]int32
	fqdnWild    []fqdnWild
	rules       []crule
	// out[g] lists, sorted by destination group, the buckets of the pairs
	// whose source group is g: Evaluate looks pairs up there (a few
	// comparisons on a short slice) rather than hashing every (source
	// group, destination group) combination.
	out     [][]pairRef
	buckets []bucket
	hostEP  Endpoint
}

// pairRef is one entry of core.out: a destination group and the bucket of
// the pair.
type pairRef struct{ to, bucket int32 }

// bucketOf returns the bucket of the pair (source group of out, to).
func bucketOf(out []pairRef, to int32) (int32, bool) {
	lo, hi := 0, len(out)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if out[m].to < to {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(out) && out[lo].to == to {
		return out[lo].bucket, true
	}
	return 0, false
}

type cgroup struct {
	name   string
	kind   GroupKind
	sel    *Selector
	cidrs  []netip.Prefix
	except []netip.Prefix
}

type fqdnWild struct {
	suffix string // ".example.com"
	group  int32
}

type crule struct {
	id      string
	ports   []PortRange // empty: any
	anyApp  bool
	app     l7.App
	kind    L7Kind
	matches []cmatch
}

// cmatch is one compiled L7Match: only the attributes it sets.
type cmatch struct{ attrs []cattr }

type cattr struct {
	attr Attr
	path *PathPattern
	dns  *DNSPattern
	glob *Glob
}

// compileAttr parses pattern s the way attribute a's patterns are written.
func compileAttr(a Attr, s string) (cattr, error) {
	ca := cattr{attr: a}
	var err error
	switch attrs[a].pattern {
	case patPath:
		ca.path, err = ParsePathPattern(s)
	case patDNS:
		ca.dns, err = ParseDNSPattern(s)
	default:
		ca.glob, err = ParseGlob(s, attrs[a].pattern == patGlobFold)
	}
	return ca, err
}

// String returns the pattern in its normal form.
func (a *cattr) String() string {
	switch {
	case a.path != nil:
		return a.path.String()
	case a.dns != nil:
		return a.dns.String()
	default:
		return a.glob.String()
	}
}

func (a *cattr) match(v string) bool {
	switch {
	case a.path != nil:
		return a.path.Match(v)
	case a.dns != nil:
		return a.dns.Match(v)
	default:
		return a.glob.Match(v)
	}
}

// bucket holds the rules of one (from, to) group pair in policy order. Large
// buckets are also indexed by single destination port.
type bucket struct {
	rules  []int32
	byPort map[uint32][]int32 // proto<<16|port -> rules whose ports are all single ports
	wide   []int32            // the other rules, when byPort is set
}

// bucketIndexMin is the bucket size from which rules are indexed by port.
const bucketIndexMin = 8

func pairKey(from, to int32) uint64 { return uint64(uint32(from))<<32 | uint64(uint32(to)) }

func portKey(proto l7.Transport, port uint16) uint32 { return uint32(proto)<<16 | uint32(port) }

// Compile turns a loaded policy into an evaluation plan. The policy must
// have been returned by Load or Parse (or built to pass the same
// validation); Compile reports the problems it cannot compile around.
func Compile(pol *Policy) (*Plan, error) {
	c := &core{
		pol:       pol,
		byName:    map[string]int32{},
		fqdnExact: map[string][]int32{},
	}
	p := &Plan{c: c, def: pol.EffectiveDefaultMode()}
	for i := range pol.Groups {
		g := &pol.Groups[i]
		if _, dup := c.byName[g.Name]; dup || g.Name == GroupWorld || g.Name == GroupHost {
			return nil, fmt.Errorf("policy: compile: group %q defined twice", g.Name)
		}
		id := int32(len(c.groups))
		c.byName[g.Name] = id
		c.groups = append(c.groups, cgroup{name: g.Name, kind: g.Kind, sel: g.Selector, cidrs: g.CIDRs, except: g.Except})
		p.modes = append(p.modes, g.Mode)
		switch g.Kind {
		case GroupSelector:
			if g.Selector == nil {
				return nil, fmt.Errorf("policy: compile: group %q: no selector", g.Name)
			}
			c.selectors = append(c.selectors, id)
		case GroupCIDR:
			c.cidrGroups = append(c.cidrGroups, id)
		case GroupFQDN:
			for _, f := range g.FQDNs {
				dp, err := ParseDNSPattern(f)
				if err != nil {
					return nil, fmt.Errorf("policy: compile: group %q: %w", g.Name, err)
				}
				if dom, ok := dp.Wildcard(); ok {
					c.fqdnWild = append(c.fqdnWild, fqdnWild{suffix: "." + dom, group: id})
				} else {
					c.fqdnExact[dp.String()] = append(c.fqdnExact[dp.String()], id)
				}
			}
		default:
			return nil, fmt.Errorf("policy: compile: group %q: bad kind %v", g.Name, g.Kind)
		}
	}
	for _, b := range []struct {
		name string
		id   *int32
	}{{GroupWorld, &c.world}, {GroupHost, &c.host}} {
		*b.id = int32(len(c.groups))
		c.byName[b.name] = *b.id
		c.groups = append(c.groups, cgroup{name: b.name, kind: GroupBuiltin})
		p.modes = append(p.modes, ModeUnset)
	}
	pairs := map[uint64]int32{} // (from group, to group) -> index into buckets
	for i := range pol.Rules {
		r := &pol.Rules[i]
		from, ok1 := c.byName[r.From]
		to, ok2 := c.byName[r.To]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("policy: compile: rule %s: group %q or %q not defined", r.ID, r.From, r.To)
		}
		cr, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("policy: compile: rule %s: %w", r.ID, err)
		}
		ri := int32(len(c.rules))
		c.rules = append(c.rules, cr)
		k := pairKey(from, to)
		bi, ok := pairs[k]
		if !ok {
			bi = int32(len(c.buckets))
			pairs[k] = bi
			c.buckets = append(c.buckets, bucket{})
		}
		c.buckets[bi].rules = append(c.buckets[bi].rules, ri)
	}
	for i := range c.buckets {
		c.buckets[i].index(c.rules)
	}
	c.out = make([][]pairRef, len(c.groups))
	for k, bi := range pairs {
		from := int32(k >> 32)
		c.out[from] = append(c.out[from], pairRef{to: int32(uint32(k)), bucket: bi})
	}
	for _, out := range c.out {
		sort.Slice(out, func(i, j int) bool { return out[i].to < out[j].to })
	}
	c.hostEP = Endpoint{&endpointInfo{c: c, groups: []int32{c.host}, label: GroupHost, kind: epHost}}
	return p, nil
}

func compileRule(r *Rule) (crule, error) {
	cr := crule{id: r.ID, ports: r.Ports, anyApp: r.AnyApp, app: r.App, kind: r.Kind}
	for _, pr := range r.Ports {
		if pr == AnyPort {
			cr.ports = nil // any port: skip the check
			break
		}
	}
	if r.Kind != KindNone && (r.AnyApp || !r.Kind.Fits(r.App)) {
		return crule{}, fmt.Errorf("%s conditions do not fit app %s", r.Kind, r.AppString())
	}
	for _, m := range r.Matches {
		var cm cmatch
		for _, f := range r.Kind.Fields() {
			v := m.Values[f.Attr]
			if v == "" {
				continue
			}
			ca, err := compileAttr(f.Attr, v)
			if err != nil {
				return crule{}, fmt.Errorf("%s %s: %w", r.Kind, f.Key, err)
			}
			cm.attrs = append(cm.attrs, ca)
		}
		cr.matches = append(cr.matches, cm)
	}
	return cr, nil
}

// index builds the port index of a large bucket.
func (b *bucket) index(rules []crule) {
	if len(b.rules) < bucketIndexMin {
		return
	}
	b.byPort = map[uint32][]int32{}
	for _, ri := range b.rules {
		r := &rules[ri]
		single := len(r.ports) > 0
		for _, pr := range r.ports {
			single = single && pr.Single()
		}
		if !single {
			b.wide = append(b.wide, ri)
			continue
		}
		for _, pr := range r.ports {
			k := portKey(pr.Proto, pr.Lo)
			if l := b.byPort[k]; len(l) == 0 || l[len(l)-1] != ri {
				b.byPort[k] = append(l, ri)
			}
		}
	}
}

func (r *crule) allowsPort(proto l7.Transport, port uint16) bool {
	if r.ports == nil {
		return true
	}
	for _, pr := range r.ports {
		if pr.Contains(proto, port) {
			return true
		}
	}
	return false
}

// matchRequest reports whether some entry matches req. When none does, it
// returns the attribute that failed in the entry that came closest.
func (r *crule) matchRequest(req *l7.Request) (ok bool, failed Attr) {
	best := -1
	for i := range r.matches {
		m := &r.matches[i]
		n := 0
		for n < len(m.attrs) && m.attrs[n].match(m.attrs[n].attr.Value(req)) {
			n++
		}
		if n == len(m.attrs) {
			return true, 0
		}
		if n > best {
			best, failed = n, m.attrs[n].attr
		}
	}
	return false, failed
}

// Policy returns the policy the plan was compiled from. It must not be
// modified.
func (p *Plan) Policy() *Policy { return p.c.pol }

// GroupNames returns every group name, the built-in world and host included,
// sorted.
func (p *Plan) GroupNames() []string {
	out := make([]string, 0, len(p.c.groups))
	for _, g := range p.c.groups {
		out = append(out, g.name)
	}
	sort.Strings(out)
	return out
}
