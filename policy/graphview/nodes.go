package graphview

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"bulkhead.dev/bulkhead/policy/learn"
)

// nodeSet maps the peers of a graph to the nodes that draw them.
type nodeSet struct {
	nodes  map[string]*Node      // by ID
	ofPeer map[learn.Peer]string // peer → node ID
}

// peerUse is what the edges say about one peer.
type peerUse struct {
	weight uint64 // learned flows plus counted connections, over its edges
	server bool   // it is the destination of some edge
}

// mapPeers makes the nodes: one per workload and the host; external names
// grouped by domain and addresses by prefix, as `policy generate` groups
// them; addresses that are only ever clients (inbound connections from
// outside) and the least used external groups past opt.MaxExternal fold
// into world.
func mapPeers(workloads []learn.WorkloadInfo, use map[learn.Peer]*peerUse, opt Options) *nodeSet {
	ns := &nodeSet{nodes: map[string]*Node{}, ofPeer: map[learn.Peer]string{}}
	for _, w := range workloads {
		n := &Node{ID: nodeID(KindWorkload, w.Name), Kind: KindWorkload, Name: validUTF8(w.Name)}
		for _, k := range slices.Sorted(maps.Keys(w.Labels)) {
			if n.Labels == nil {
				n.Labels = map[string]string{}
			}
			n.Labels[validUTF8(k)] = validUTF8(w.Labels[k])
		}
		ns.add(learn.Workload(w.Name), n)
	}
	var fqdns []learn.Peer
	var names []string
	var addrs []netip.Addr
	addrPeer := map[netip.Addr]learn.Peer{} // as recorded: learn.Addr(a) unmaps
	var folded []learn.Peer                 // external peers drawn as world
	for _, p := range slices.SortedFunc(maps.Keys(use), learn.ComparePeers) {
		switch p.Kind {
		case learn.PeerWorkload:
			if _, ok := ns.ofPeer[p]; !ok {
				ns.add(p, &Node{ID: nodeID(KindWorkload, p.Name), Kind: KindWorkload, Name: validUTF8(p.Name)})
			}
		case learn.PeerHost:
			ns.add(p, &Node{ID: string(KindHost), Kind: KindHost, Name: "host"})
		case learn.PeerFQDN:
			fqdns = append(fqdns, p)
			names = append(names, p.Name)
		case learn.PeerAddr:
			if use[p].server {
				addrs = append(addrs, p.Addr)
				addrPeer[p.Addr] = p
			} else {
				folded = append(folded, p)
			}
		}
	}
	// External groups, with the peers each stands for.
	groups := map[string]*Node{}
	members := map[string][]learn.Peer{}
	group := func(p learn.Peer, kind NodeKind, name string) {
		id := nodeID(kind, name)
		if groups[id] == nil {
			groups[id] = &Node{ID: id, Kind: kind, Name: validUTF8(name)}
		}
		members[id] = append(members[id], p)
	}
	pats := learn.WildcardNames(names, opt.DNSThreshold)
	for _, p := range fqdns {
		group(p, KindFQDN, pats[p.Name]) // p as recorded: learn.FQDN(p.Name) may differ ("." → "")
	}
	for a, pfx := range learn.GroupAddrs(addrs, opt.AddrThreshold) {
		if pfx.IsSingleIP() {
			group(addrPeer[a], KindAddr, a.String())
		} else {
			group(addrPeer[a], KindCIDR, pfx.String())
		}
	}
	ids := slices.Sorted(maps.Keys(groups))
	weight := make(map[string]uint64, len(ids))
	for _, id := range ids {
		for _, p := range members[id] {
			weight[id] += use[p].weight
		}
	}
	slices.SortStableFunc(ids, func(a, b string) int { return cmp.Compare(weight[b], weight[a]) })
	keep := len(ids)
	if opt.MaxExternal < 0 {
		keep = 0
	} else if keep > opt.MaxExternal {
		keep = opt.MaxExternal
	}
	for i, id := range ids {
		if i >= keep {
			folded = append(folded, members[id]...)
			continue
		}
		n := groups[id]
		if n.Kind != KindAddr {
			n.Members, n.MembersMore = memberList(members[id], opt.MaxMembers)
		}
		for _, p := range members[id] {
			ns.add(p, n)
		}
	}
	if len(folded) > 0 {
		w := &Node{ID: string(KindWorld), Kind: KindWorld, Name: "world"}
		w.Members, w.MembersMore = memberList(folded, opt.MaxMembers)
		for _, p := range folded {
			ns.add(p, w)
		}
	}
	return ns
}

func (ns *nodeSet) add(p learn.Peer, n *Node) {
	ns.nodes[n.ID] = n
	ns.ofPeer[p] = n.ID
}

// memberList returns the sorted names of external peers (addresses before
// names), at most max of them, and how many were left out.
func memberList(ps []learn.Peer, max int) ([]string, int) {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b learn.Peer) int {
		// addresses first, then names, each in their natural order
		ka, kb := a.Kind == learn.PeerFQDN, b.Kind == learn.PeerFQDN
		if ka != kb {
			if ka {
				return 1
			}
			return -1
		}
		return learn.ComparePeers(a, b)
	})
	out := make([]string, 0, min(len(ps), max))
	for _, p := range ps {
		if len(out) == max {
			break
		}
		if p.Kind == learn.PeerFQDN {
			out = append(out, validUTF8(p.Name))
		} else {
			out = append(out, p.Addr.String())
		}
	}
	return out, len(ps) - len(out)
}

// sorted returns the nodes in their drawing order: by kind, then name.
func (ns *nodeSet) sorted() []Node {
	out := make([]Node, 0, len(ns.nodes))
	for _, n := range ns.nodes {
		out = append(out, *n)
	}
	slices.SortFunc(out, compareNodes)
	return out
}

func compareNodes(a, b Node) int {
	return cmp.Or(cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind]), compareNames(a, b), strings.Compare(a.ID, b.ID))
}

// compareNames orders names; addresses and prefixes numerically.
func compareNames(a, b Node) int {
	if a.Kind == KindAddr && b.Kind == KindAddr {
		x, ex := netip.ParseAddr(a.Name)
		y, ey := netip.ParseAddr(b.Name)
		if ex == nil && ey == nil {
			return x.Compare(y)
		}
	}
	if a.Kind == KindCIDR && b.Kind == KindCIDR {
		x, ex := netip.ParsePrefix(a.Name)
		y, ey := netip.ParsePrefix(b.Name)
		if ex == nil && ey == nil {
			return cmp.Or(x.Addr().Compare(y.Addr()), cmp.Compare(x.Bits(), y.Bits()))
		}
	}
	return strings.Compare(a.Name, b.Name)
}
