package identity

import (
	"net/netip"
	"slices"
	"sort"
	"sync"
)

// Resolver names the endpoints of flows: local containers through the
// Sources, remote addresses through the local-container index, the node's
// own addresses, the PeerSources and the FQDN map. It is safe for concurrent
// use; Local and Addr are meant for the packet path (read lock, no
// allocation).
type Resolver struct {
	fqdn *FQDNMap

	mu      sync.RWMutex
	sources []Source
	peers   []PeerSource
	byIf    map[string]*localEntry
	byIdx   map[int]*localEntry
	byIP    map[netip.Addr]*localEntry
	host    map[netip.Addr]struct{}
}

type localEntry struct {
	c  Container
	id Identity
}

// LocalWorkload is a local container and its identity.
type LocalWorkload struct {
	Container
	Identity
}

// Change is a local container whose identity changed (SetSources).
type Change struct {
	HostIf   string
	From, To Identity
}

// NewResolver returns a resolver with no containers. fqdn may be nil (then
// unknown addresses are always World).
func NewResolver(sources []Source, peers []PeerSource, fqdn *FQDNMap) *Resolver {
	return &Resolver{
		fqdn:    fqdn,
		sources: slices.Clone(sources),
		peers:   slices.Clone(peers),
		byIf:    map[string]*localEntry{},
		byIdx:   map[int]*localEntry{},
		byIP:    map[netip.Addr]*localEntry{},
		host:    map[netip.Addr]struct{}{},
	}
}

// FQDN returns the resolver's FQDN map (nil if none).
func (r *Resolver) FQDN() *FQDNMap { return r.fqdn }

// name asks the sources for c's identity; a container no source knows is
// named after its host interface.
func name(sources []Source, c Container) Identity {
	for _, s := range sources {
		if w, ok := s.Workload(c); ok {
			return Identity{Kind: Local, Name: w.Name, Labels: w.Labels, Source: s.Name()}
		}
	}
	return Identity{Kind: Local, Name: c.HostIf, Source: "interface"}
}

// Add records a container that appeared, or whose addresses changed (same
// HostIf), and returns its identity.
func (r *Resolver) Add(c Container) Identity {
	c.Addrs = normAddrs(c.Addrs)
	r.mu.Lock()
	defer r.mu.Unlock()
	id := name(r.sources, c)
	r.removeLocked(c.HostIf)
	e := &localEntry{c: c, id: id}
	r.byIf[c.HostIf] = e
	if c.HostIndex > 0 {
		r.byIdx[c.HostIndex] = e
	}
	for _, a := range c.Addrs {
		r.byIP[a] = e // the latest container to claim an address owns it
	}
	return id
}

// Remove forgets a container that disappeared; ok is false if it was not
// known.
func (r *Resolver) Remove(hostIf string) (LocalWorkload, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byIf[hostIf]
	if !ok {
		return LocalWorkload{}, false
	}
	r.removeLocked(hostIf)
	return LocalWorkload{Container: e.c, Identity: e.id}, true
}

func (r *Resolver) removeLocked(hostIf string) {
	e, ok := r.byIf[hostIf]
	if !ok {
		return
	}
	delete(r.byIf, hostIf)
	if r.byIdx[e.c.HostIndex] == e {
		delete(r.byIdx, e.c.HostIndex)
	}
	for _, a := range e.c.Addrs {
		if r.byIP[a] == e {
			delete(r.byIP, a)
		}
	}
	// Another container may still hold an address this one had claimed.
	for _, o := range r.byIf {
		for _, a := range o.c.Addrs {
			if _, taken := r.byIP[a]; !taken {
				r.byIP[a] = o
			}
		}
	}
}

// SetHostAddrs sets the node's own addresses (named "host").
func (r *Resolver) SetHostAddrs(addrs []netip.Addr) {
	m := make(map[netip.Addr]struct{}, len(addrs))
	for _, a := range normAddrs(addrs) {
		m[a] = struct{}{}
	}
	r.mu.Lock()
	r.host = m
	r.mu.Unlock()
}

// SetSources replaces the sources (after the identity file was reloaded),
// renames every known container and returns those whose identity changed,
// sorted by HostIf.
func (r *Resolver) SetSources(sources []Source, peers []PeerSource) []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sources, r.peers = slices.Clone(sources), slices.Clone(peers)
	var changes []Change
	for hostIf, e := range r.byIf {
		id := name(r.sources, e.c)
		if !sameIdentity(id, e.id) {
			changes = append(changes, Change{HostIf: hostIf, From: e.id, To: id})
		}
		e.id = id
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].HostIf < changes[j].HostIf })
	return changes
}

func sameIdentity(a, b Identity) bool {
	if a.Kind != b.Kind || a.Name != b.Name || a.Source != b.Source || len(a.Labels) != len(b.Labels) {
		return false
	}
	for k, v := range a.Labels {
		if w, ok := b.Labels[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Local returns the identity of the container behind host interface hostIf.
func (r *Resolver) Local(hostIf string) (Identity, bool) {
	r.mu.RLock()
	e, ok := r.byIf[hostIf]
	r.mu.RUnlock()
	if !ok {
		return Identity{}, false
	}
	return e.id, true
}

// Interface returns the identity and addresses of the container behind the
// node-side interface with index idx (packets it sends arrive there). It
// takes a read lock and does not allocate; the addresses are shared and
// read-only.
func (r *Resolver) Interface(idx int) (Identity, []netip.Addr, bool) {
	if idx <= 0 {
		return Identity{}, nil, false
	}
	r.mu.RLock()
	e, ok := r.byIdx[idx]
	r.mu.RUnlock()
	if !ok {
		return Identity{}, nil, false
	}
	return e.id, e.c.Addrs, true
}

// Addr names a remote address: a local container, the node itself, a peer
// source's entry, the FQDN that resolved it, or World.
func (r *Resolver) Addr(addr netip.Addr) Identity {
	a := normAddr(addr)
	r.mu.RLock()
	if e, ok := r.byIP[a]; ok {
		r.mu.RUnlock()
		return e.id
	}
	if _, ok := r.host[a]; ok {
		r.mu.RUnlock()
		return Identity{Kind: Host, Name: HostName, Source: "host"}
	}
	peers := r.peers
	r.mu.RUnlock()
	for _, p := range peers {
		if id, ok := p.Peer(a); ok {
			return id
		}
	}
	if r.fqdn != nil {
		if n, ok := r.fqdn.Name(a); ok {
			return Identity{Kind: FQDN, Name: n, Source: "dns"}
		}
	}
	return Identity{Kind: World, Name: WorldName, Source: "default"}
}

// Locals returns every local container with its identity, sorted by HostIf.
func (r *Resolver) Locals() []LocalWorkload {
	r.mu.RLock()
	out := make([]LocalWorkload, 0, len(r.byIf))
	for _, e := range r.byIf {
		out = append(out, LocalWorkload{Container: e.c, Identity: e.id})
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].HostIf < out[j].HostIf })
	return out
}

func normAddrs(in []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(in))
	for _, a := range in {
		if a.IsValid() {
			out = append(out, normAddr(a))
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}
