package graphview

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy/learn"
)

// Build makes the view model of an input. It fails only when
// opt.Workload names a workload the input does not know.
func Build(in Input, opt Options) (*Graph, error) {
	opt = opt.withDefaults()
	edges, verdicts, workloads := filter(in, opt)
	if opt.Workload != "" && !knows(in, opt.Workload) {
		return nil, fmt.Errorf("graphview: workload %q is not in the graph", opt.Workload)
	}
	use := map[learn.Peer]*peerUse{}
	note := func(src, dst learn.Peer, weight uint64) {
		for _, p := range []learn.Peer{src, dst} {
			if use[p] == nil {
				use[p] = &peerUse{}
			}
			use[p].weight += weight
		}
		use[dst].server = true
	}
	for _, e := range edges {
		note(e.Src, e.Dst, e.Count)
	}
	for _, v := range verdicts {
		note(v.Src, v.Dst, v.tally().Total())
	}
	ns := mapPeers(workloads, use, opt)

	pairs := map[[2]string]*edgeAgg{}
	agg := func(src, dst learn.Peer, proto string, app l7.App) *svcAgg {
		k := [2]string{ns.ofPeer[src], ns.ofPeer[dst]}
		ea := pairs[k]
		if ea == nil {
			ea = &edgeAgg{src: k[0], dst: k[1], svcs: map[svcKey]*svcAgg{}}
			pairs[k] = ea
		}
		sk := svcKey{proto, app}
		sa := ea.svcs[sk]
		if sa == nil {
			sa = &svcAgg{ports: map[uint16]bool{}}
			ea.svcs[sk] = sa
		}
		return sa
	}
	for _, e := range edges {
		sa := agg(e.Src, e.Dst, e.Proto, e.App)
		sa.ports[e.Port] = true
		sa.count += e.Count
		sa.first, sa.last = widen(sa.first, sa.last, e.FirstSeen, e.LastSeen)
		sa.values = append(sa.values, e.Values...)
		sa.more = sa.more || e.ValuesMore
	}
	for _, v := range verdicts {
		sa := agg(v.Src, v.Dst, v.Proto, v.App)
		sa.ports[v.Port] = true
		sa.tally.add(v.tally())
		sa.first, sa.last = widen(sa.first, sa.last, v.FirstSeen, v.LastSeen)
	}

	g := &Graph{Version: ViewVersion, Verdicts: in.HasVerdicts, Nodes: ns.sorted(), Edges: []Edge{}}
	order := map[string]int{}
	for i, n := range g.Nodes {
		order[n.ID] = i
	}
	for _, ea := range pairs {
		g.Edges = append(g.Edges, ea.edge(opt))
	}
	slices.SortFunc(g.Edges, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(order[a.Src], order[b.Src]), cmp.Compare(order[a.Dst], order[b.Dst]))
	})
	return g, nil
}

// filter applies opt.Workload and opt.Apps to the input's edges, verdict
// counts and workloads (a filtered picture keeps only the workloads its
// edges touch, and the one asked for), and leaves out edges with a peer no
// node can stand for.
func filter(in Input, opt Options) ([]learn.Edge, []VerdictCount, []learn.WorkloadInfo) {
	keep := func(src, dst learn.Peer, app l7.App) bool {
		if !drawable(src) || !drawable(dst) {
			return false
		}
		w := learn.Workload(opt.Workload)
		return (opt.Workload == "" || src == w || dst == w) && (len(opt.Apps) == 0 || slices.Contains(opt.Apps, app))
	}
	touched := map[string]bool{opt.Workload: opt.Workload != ""}
	touch := func(ps ...learn.Peer) {
		for _, p := range ps {
			if p.Kind == learn.PeerWorkload {
				touched[p.Name] = true
			}
		}
	}
	var edges []learn.Edge
	for _, e := range in.Graph.Edges {
		if keep(e.Src, e.Dst, e.App) {
			edges = append(edges, e)
			touch(e.Src, e.Dst)
		}
	}
	var verdicts []VerdictCount
	for _, v := range in.Verdicts {
		if keep(v.Src, v.Dst, v.App) {
			verdicts = append(verdicts, v)
			touch(v.Src, v.Dst)
		}
	}
	if opt.Workload == "" && len(opt.Apps) == 0 {
		return edges, verdicts, in.Graph.Workloads
	}
	var workloads []learn.WorkloadInfo
	for _, w := range in.Graph.Workloads {
		if touched[w.Name] {
			workloads = append(workloads, w)
		}
	}
	return edges, verdicts, workloads
}

// drawable reports whether a peer is one of the kinds a node can stand
// for (ReadInput refuses others; an Input built in Go may hold any).
func drawable(p learn.Peer) bool {
	switch p.Kind {
	case learn.PeerWorkload, learn.PeerFQDN:
		return p.Name != ""
	case learn.PeerAddr:
		return p.Addr.IsValid()
	case learn.PeerHost:
		return true
	}
	return false
}

// knows reports whether the input mentions the workload.
func knows(in Input, name string) bool {
	w := learn.Workload(name)
	for _, x := range in.Graph.Workloads {
		if x.Name == name {
			return true
		}
	}
	for _, e := range in.Graph.Edges {
		if e.Src == w || e.Dst == w {
			return true
		}
	}
	for _, v := range in.Verdicts {
		if v.Src == w || v.Dst == w {
			return true
		}
	}
	return false
}

type svcKey struct {
	proto string
	app   l7.App
}

// edgeAgg gathers what one pair of nodes did.
type edgeAgg struct {
	src, dst string
	svcs     map[svcKey]*svcAgg
}

// svcAgg gathers one (protocol, app) of a pair of nodes.
type svcAgg struct {
	ports       map[uint16]bool
	count       uint64
	first, last time.Time
	values      []learn.Value
	more        bool
	tally       Tally
}

func (ea *edgeAgg) edge(opt Options) Edge {
	e := Edge{Src: ea.src, Dst: ea.dst}
	keys := slices.SortedFunc(maps.Keys(ea.svcs), func(a, b svcKey) int {
		return cmp.Or(strings.Compare(a.proto, b.proto), strings.Compare(a.app.String(), b.app.String()))
	})
	for _, k := range keys {
		s := ea.svcs[k].service(k, opt)
		e.Count += s.Count
		e.Verdicts.add(s.Verdicts)
		e.FirstSeen, e.LastSeen = widen(e.FirstSeen, e.LastSeen, s.FirstSeen, s.LastSeen)
		e.Services = append(e.Services, s)
	}
	e.Status = e.Verdicts.Status()
	return e
}

func (sa *svcAgg) service(k svcKey, opt Options) Service {
	s := Service{Proto: k.proto, App: k.app.String(), Count: sa.count, FirstSeen: sa.first, LastSeen: sa.last,
		Verdicts: sa.tally, Status: sa.tally.Status(), L7Incomplete: sa.more}
	proto := l7.TCP
	if k.proto == "udp" {
		proto = l7.UDP
	}
	ranges, _ := learn.CollapsePorts(proto, slices.Collect(maps.Keys(sa.ports)), opt.PortThreshold, portSpan)
	for _, r := range ranges {
		_, ports, _ := strings.Cut(r.String(), "/")
		s.Ports = append(s.Ports, ports)
	}
	s.L7, s.L7More = summarise(k.app, sa.values, opt)
	return s
}
