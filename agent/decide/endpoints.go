package decide

import (
	"hash/maphash"
	"net/netip"
	"slices"
	"sync"

	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/policy/learn"
)

// endpoint is one end of a flow classified by a policy: its groups, and the
// labels metrics and events use. It is immutable once cached.
type endpoint struct {
	ep policy.Endpoint
	// groups are the endpoint's policy groups, sorted; local says it is a
	// workload on this node (its groups decide the flow's mode).
	groups []string
	local  bool
	// group is the metrics group label: the first group that is not
	// built in, else world or host, "" when none.
	group string
	// label is the metrics workload label: the workload, range or "host",
	// and for addresses the FQDN or CIDR group that matched them, else
	// world.
	label string
}

// endpointCache holds classifications made under one compiled policy.
// Lookups take a read lock and do not allocate; a miss classifies (and
// allocates) once.
type endpointCache struct {
	plan *policy.Plan
	seed maphash.Seed
	host *endpoint

	wmu       sync.RWMutex
	workloads map[workloadKey]*endpoint

	addrs [addrShards]addrShard
}

const (
	addrShards   = 64
	addrShardMax = 1024 // remote addresses cached per shard
	maxNames     = 8    // DNS names of one address considered
)

type workloadKey struct {
	name  string
	local bool
}

type addrKey struct {
	addr  netip.Addr
	names uint64 // hash of the address's DNS names, 0 when none
}

type addrShard struct {
	mu sync.RWMutex
	m  map[addrKey]*endpoint
	_  [40]byte // keep the shards' locks apart
}

func newEndpointCache(p *policy.Plan) *endpointCache {
	c := &endpointCache{plan: p, seed: maphash.MakeSeed(), workloads: map[workloadKey]*endpoint{}}
	for i := range c.addrs {
		c.addrs[i].m = map[addrKey]*endpoint{}
	}
	c.host = newEndpoint(p.Host(), identity.HostName)
	return c
}

// resetWorkloads forgets the workload classifications (labels may have
// changed).
func (c *endpointCache) resetWorkloads() {
	c.wmu.Lock()
	c.workloads = map[workloadKey]*endpoint{}
	c.wmu.Unlock()
}

// newEndpoint wraps a classification with its labels. name is the
// identity's name for workloads, ranges and the host; "" for addresses.
func newEndpoint(ep policy.Endpoint, name string) *endpoint {
	e := &endpoint{ep: ep, groups: ep.Groups(), local: ep.Local()}
	for _, g := range e.groups {
		if g != policy.GroupWorld && g != policy.GroupHost {
			e.group = g
			break
		}
	}
	if e.group == "" && len(e.groups) > 0 {
		e.group = e.groups[0]
	}
	e.label = name
	if e.label == "" {
		e.label = identity.WorldName
		if e.group != policy.GroupWorld && e.group != "" {
			e.label = e.group
		}
	}
	return e
}

// classify returns the endpoint of an identity seen at addr.
func (d *Decider) classify(st *planState, id identity.Identity, addr netip.Addr) *endpoint {
	c := st.cache
	switch id.Kind {
	case identity.Local, identity.Cluster:
		return c.workload(id)
	case identity.Host:
		return c.host
	}
	// World, FQDN and external ranges are addresses: CIDR groups, the FQDN
	// groups of every name DNS gave the address, and world.
	var buf [maxNames]string
	names := buf[:0]
	if d.fqdn != nil {
		names = d.fqdn.AppendNames(names, addr)
		if len(names) > maxNames {
			names = names[:maxNames]
		}
	}
	label := ""
	if id.Kind == identity.External {
		label = id.Name
	}
	return c.address(addr, names, label)
}

func (c *endpointCache) workload(id identity.Identity) *endpoint {
	k := workloadKey{id.Name, id.Kind == identity.Local}
	c.wmu.RLock()
	e := c.workloads[k]
	c.wmu.RUnlock()
	if e != nil {
		return e
	}
	e = newEndpoint(c.plan.Workload(policy.Workload{Name: id.Name, Labels: id.Labels}, k.local), id.Name)
	c.wmu.Lock()
	if old := c.workloads[k]; old != nil {
		e = old
	} else {
		c.workloads[k] = e
	}
	c.wmu.Unlock()
	return e
}

func (c *endpointCache) address(addr netip.Addr, names []string, label string) *endpoint {
	k := addrKey{addr: addr.Unmap()}
	if len(names) > 0 {
		var h maphash.Hash
		h.SetSeed(c.seed)
		for _, n := range names {
			h.WriteString(n)
			h.WriteByte(0)
		}
		h.WriteString(label)
		k.names = h.Sum64() | 1
	}
	s := &c.addrs[maphash.Comparable(c.seed, k.addr)%addrShards]
	s.mu.RLock()
	e := s.m[k]
	s.mu.RUnlock()
	if e != nil {
		return e
	}
	e = newEndpoint(c.plan.Addr(k.addr, slices.Clone(names)...), label)
	s.mu.Lock()
	if len(s.m) >= addrShardMax {
		clear(s.m) // bounded: a flood of addresses starts the shard afresh
	}
	s.m[k] = e
	s.mu.Unlock()
	return e
}

// peer returns the learned-graph peer of an identity at addr.
func peer(id identity.Identity, addr netip.Addr) learn.Peer {
	switch id.Kind {
	case identity.Local, identity.Cluster:
		return learn.Workload(id.Name)
	case identity.Host:
		return learn.Host()
	case identity.FQDN:
		return learn.FQDN(id.Name)
	}
	return learn.Addr(addr)
}
