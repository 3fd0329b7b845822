package learn

import (
	"hash/maphash"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"bulkhead.dev/bulkhead/l7"
)

// Limits bound a graph's memory.
type Limits struct {
	// MaxEdges caps the number of edges; observations that would add more
	// are counted in Stats.Dropped. Default 100,000.
	MaxEdges int
	// MaxValues caps the distinct L7 values kept per edge; past it the edge
	// is marked ValuesMore. Default 64.
	MaxValues int
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{MaxEdges: 100_000, MaxValues: 64}

func (l Limits) withDefaults() Limits {
	if l.MaxEdges <= 0 {
		l.MaxEdges = DefaultLimits.MaxEdges
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultLimits.MaxValues
	}
	return l
}

// Observation is one new flow as the agent saw it.
type Observation struct {
	Src, Dst Peer
	// SrcLabels and DstLabels are the labels of workload peers: the latest
	// non-nil labels seen for a workload are kept (nil leaves them as they
	// are; an empty map clears them).
	SrcLabels, DstLabels map[string]string
	Proto                l7.Transport
	// Port is the server (destination) port. The client's ephemeral port is
	// never recorded: the agent passes the port the connection was made to.
	Port uint16
	// App is the detected app (l7.Unknown when none was recognised).
	App l7.App
	// Request is the first request seen on the flow, or nil. It is only
	// read during Observe: the graph copies the values it keeps, so the
	// request may share memory with buffers the caller reuses.
	Request *l7.Request
}

// Result says what an observation changed.
type Result struct {
	NewEdge  bool // the edge had not been seen before
	NewValue bool // a new distinct L7 value was recorded on the edge
}

// Stats count what a graph holds and what it refused.
type Stats struct {
	Edges     int
	Workloads int
	Dropped   uint64 // observations refused because MaxEdges was reached
	Invalid   uint64 // observations with a bad peer, protocol or port
}

// EdgeKey identifies an edge.
type EdgeKey struct {
	Src, Dst Peer
	Proto    l7.Transport
	Port     uint16
	App      l7.App
}

type edgeState struct {
	count       uint64
	first, last time.Time
	// values counts the distinct L7 values; a count is reached through its
	// pointer, because assigning to an existing key would also replace the
	// stored key (Go does that for keys holding strings) with the caller's
	// strings, which may share memory with reused packet buffers.
	values map[Values]*uint64
	more   bool
}

const numShards = 64

type shard struct {
	mu        sync.Mutex
	edges     map[EdgeKey]*edgeState
	workloads map[string]map[string]string
}

// Graph is a live learned graph, safe for concurrent use. Create it with
// New.
type Graph struct {
	clock   func() time.Time
	limits  Limits
	seed    maphash.Seed
	shards  [numShards]shard
	edges   atomic.Int64
	dropped atomic.Uint64
	invalid atomic.Uint64
}

// New returns an empty graph. clock is the time source (time.Now when nil).
func New(clock func() time.Time, limits Limits) *Graph {
	if clock == nil {
		clock = time.Now
	}
	g := &Graph{clock: clock, limits: limits.withDefaults(), seed: maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].edges = map[EdgeKey]*edgeState{}
		g.shards[i].workloads = map[string]map[string]string{}
	}
	return g
}

func (g *Graph) shardOf(k EdgeKey) *shard {
	return &g.shards[maphash.Comparable(g.seed, k)%numShards]
}

func (g *Graph) workloadShard(name string) *shard {
	return &g.shards[maphash.String(g.seed, name)%numShards]
}

// Observe records one flow. It takes one shard lock (two when a workload's
// labels changed) and never blocks on I/O.
func (g *Graph) Observe(o Observation) Result {
	if !o.Src.valid() || !o.Dst.valid() || (o.Proto != l7.TCP && o.Proto != l7.UDP) || o.Port == 0 {
		g.invalid.Add(1)
		return Result{}
	}
	g.noteLabels(o.Src, o.SrcLabels)
	g.noteLabels(o.Dst, o.DstLabels)
	key := EdgeKey{Src: o.Src, Dst: o.Dst, Proto: o.Proto, Port: o.Port, App: o.App}
	vals, hasVals := ValuesOf(o.App, o.Request)
	now := g.clock()
	sh := g.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var res Result
	e := sh.edges[key]
	if e == nil {
		if g.edges.Add(1) > int64(g.limits.MaxEdges) {
			g.edges.Add(-1)
			g.dropped.Add(1)
			return Result{}
		}
		e = &edgeState{first: now}
		sh.edges[key] = e
		res.NewEdge = true
	}
	e.count++
	if now.After(e.last) {
		e.last = now
	}
	if now.Before(e.first) {
		e.first = now
	}
	if hasVals {
		if n, seen := e.values[vals]; seen {
			*n++
		} else if len(e.values) < g.limits.MaxValues {
			if e.values == nil {
				e.values = map[Values]*uint64{}
			}
			one := uint64(1)
			e.values[vals.clone()] = &one
			res.NewValue = true
		} else {
			e.more = true
		}
	}
	return res
}

func (g *Graph) noteLabels(p Peer, labels map[string]string) {
	if p.Kind != PeerWorkload || labels == nil {
		return
	}
	sh := g.workloadShard(p.Name)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, ok := sh.workloads[p.Name]; !ok || !maps.Equal(old, labels) {
		sh.workloads[p.Name] = maps.Clone(labels)
	}
}

// Stats returns the graph's counters.
func (g *Graph) Stats() Stats {
	s := Stats{Edges: int(g.edges.Load()), Dropped: g.dropped.Load(), Invalid: g.invalid.Load()}
	for i := range g.shards {
		sh := &g.shards[i]
		sh.mu.Lock()
		s.Workloads += len(sh.workloads)
		sh.mu.Unlock()
	}
	return s
}

// Snapshot returns the graph's content as a sorted, self-contained value.
func (g *Graph) Snapshot() Snapshot {
	s := Snapshot{Version: SnapshotVersion, Workloads: []WorkloadInfo{}, Edges: []Edge{}}
	for i := range g.shards {
		sh := &g.shards[i]
		sh.mu.Lock()
		for name, labels := range sh.workloads {
			s.Workloads = append(s.Workloads, WorkloadInfo{Name: name, Labels: maps.Clone(labels)})
		}
		for k, e := range sh.edges {
			s.Edges = append(s.Edges, e.export(k))
		}
		sh.mu.Unlock()
	}
	s.sort()
	return s
}

func (e *edgeState) export(k EdgeKey) Edge {
	out := Edge{Src: k.Src, Dst: k.Dst, Proto: protoName(k.Proto), Port: k.Port, App: k.App,
		Count: e.count, FirstSeen: e.first.UTC(), LastSeen: e.last.UTC(), ValuesMore: e.more}
	for v, n := range e.values {
		out.Values = append(out.Values, Value{Values: v, Count: *n})
	}
	return out
}

// Add merges a snapshot into the live graph (state restored at start, or
// graphs from other nodes). Edges past MaxEdges are counted as dropped.
func (g *Graph) Add(s Snapshot) {
	for _, w := range s.Workloads {
		sh := g.workloadShard(w.Name)
		sh.mu.Lock()
		sh.workloads[w.Name] = mergeLabels(sh.workloads[w.Name], w.Labels)
		sh.mu.Unlock()
	}
	for _, in := range s.Edges {
		proto, ok := parseProto(in.Proto)
		if !ok || !in.Src.valid() || !in.Dst.valid() || in.Port == 0 {
			g.invalid.Add(1)
			continue
		}
		k := EdgeKey{Src: in.Src, Dst: in.Dst, Proto: proto, Port: in.Port, App: in.App}
		sh := g.shardOf(k)
		sh.mu.Lock()
		e := sh.edges[k]
		if e == nil {
			if g.edges.Add(1) > int64(g.limits.MaxEdges) {
				g.edges.Add(-1)
				g.dropped.Add(1)
				sh.mu.Unlock()
				continue
			}
			e = &edgeState{first: in.FirstSeen, last: in.LastSeen}
			sh.edges[k] = e
		}
		merged := mergeEdge(e.export(k), in, g.limits.MaxValues)
		e.count, e.first, e.last, e.more = merged.Count, merged.FirstSeen, merged.LastSeen, merged.ValuesMore
		e.values = nil
		for _, v := range merged.Values {
			if e.values == nil {
				e.values = map[Values]*uint64{}
			}
			n := v.Count
			e.values[v.Values] = &n
		}
		sh.mu.Unlock()
	}
}
