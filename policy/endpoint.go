package policy

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// Endpoint is one side of a flow as a plan sees it: the set of groups it
// belongs to, whether it is local to this node, and a label for reasons.
// It is a single pointer, cheap to copy and to keep per flow. The agent
// classifies each workload and each remote address once per plan (with
// Plan.Workload, Plan.Addr, Plan.Host) and caches the result.
//
// An Endpoint classified by an older plan still evaluates correctly against
// a newer one, but is classified again on every evaluation (with
// allocations): refresh cached endpoints with Plan.Refresh after a reload.
// The zero Endpoint is an unknown endpoint in no group.
type Endpoint struct{ info *endpointInfo }

type epKind uint8

const (
	epWorkload epKind = iota + 1
	epAddr
	epHost
)

type endpointInfo struct {
	c      *core
	groups []int32 // sorted
	local  bool
	label  string
	// the classification input, to classify again against another plan
	kind   epKind
	name   string
	labels map[string]string
	addr   netip.Addr
	fqdns  []string
}

// Workload identifies a workload: a name and labels.
type Workload struct {
	Name   string
	Labels map[string]string
}

// Workload classifies a workload. local is true for workloads on this node:
// only local endpoints' groups decide a flow's mode. Labels are copied.
func (p *Plan) Workload(w Workload, local bool) Endpoint {
	c := p.c
	info := &endpointInfo{c: c, local: local, label: w.Name, kind: epWorkload, name: w.Name, labels: maps.Clone(w.Labels)}
	for _, gi := range c.selectors {
		if c.groups[gi].sel.Matches(w.Name, w.Labels) {
			info.groups = append(info.groups, gi)
		}
	}
	switch {
	case len(info.groups) == 0:
		info.label += " (no group)"
	case len(info.groups) > 1 || c.groups[info.groups[0]].name != w.Name:
		info.label += " (" + p.groupList(info.groups) + ")"
	}
	return Endpoint{info}
}

// Addr classifies an address outside the known workloads: the CIDR groups
// that contain it, the FQDN groups that match any of fqdns (the names DNS
// answers mapped to it), and world.
func (p *Plan) Addr(a netip.Addr, fqdns ...string) Endpoint {
	c := p.c
	a = a.Unmap()
	info := &endpointInfo{c: c, kind: epAddr, addr: a, fqdns: slices.Clone(fqdns), label: a.String()}
	for _, gi := range c.cidrGroups {
		g := &c.groups[gi]
		if prefixesContain(g.cidrs, a) && !prefixesContain(g.except, a) {
			info.groups = append(info.groups, gi)
		}
	}
	for _, f := range fqdns {
		f = strings.ToLower(strings.TrimSuffix(f, "."))
		info.groups = append(info.groups, c.fqdnExact[f]...)
		for _, w := range c.fqdnWild {
			if len(f) > len(w.suffix) && strings.HasSuffix(f, w.suffix) {
				info.groups = append(info.groups, w.group)
			}
		}
	}
	info.groups = append(info.groups, c.world)
	slices.Sort(info.groups)
	info.groups = slices.Compact(info.groups)
	if len(fqdns) > 0 {
		info.label += " (" + strings.Join(fqdns, ",") + ")"
	}
	return Endpoint{info}
}

func prefixesContain(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Host returns the endpoint of the node itself (group host).
func (p *Plan) Host() Endpoint { return p.c.hostEP }

// Refresh returns e classified by this plan (e itself when it already is).
func (p *Plan) Refresh(e Endpoint) Endpoint {
	if e.info == nil || e.info.c == p.c {
		return e
	}
	switch e.info.kind {
	case epWorkload:
		return p.Workload(Workload{Name: e.info.name, Labels: e.info.labels}, e.info.local)
	case epAddr:
		return p.Addr(e.info.addr, e.info.fqdns...)
	default:
		return p.Host()
	}
}

func (p *Plan) groupList(ids []int32) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = p.c.groups[id].name
	}
	return strings.Join(names, ",")
}

// IsZero reports whether e is the zero (unclassified) Endpoint.
func (e Endpoint) IsZero() bool { return e.info == nil }

// Local reports whether the endpoint is a workload on this node.
func (e Endpoint) Local() bool { return e.info != nil && e.info.local }

// String returns the endpoint's label: the workload name, address or "host",
// with its groups when they differ from the name.
func (e Endpoint) String() string {
	if e.info == nil {
		return "unknown endpoint"
	}
	return e.info.label
}

// Groups returns the names of the endpoint's groups, sorted.
func (e Endpoint) Groups() []string {
	if e.info == nil {
		return nil
	}
	out := make([]string, len(e.info.groups))
	for i, id := range e.info.groups {
		out[i] = e.info.c.groups[id].name
	}
	slices.Sort(out)
	return out
}
