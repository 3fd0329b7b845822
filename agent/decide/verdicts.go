package decide

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy/graphview"
	"bulkhead.dev/bulkhead/policy/learn"
)

// verdictCounts counts connections by verdict per learned-edge key (source,
// destination, protocol, server port, app), for the graph annotated with
// what the agent decided (GET /v1/graph?verdicts=1). Bounded: past max
// keys, new keys are not counted (Dropped says how many).
type verdictCounts struct {
	max     int
	mu      sync.Mutex
	m       map[verdictKey]*verdictTally
	dropped atomic.Uint64
}

type verdictKey struct {
	src, dst learn.Peer
	proto    uint8
	port     uint16
	app      l7.App
}

type verdictTally struct {
	n           [3]uint64 // by metrics.EdgeVerdict
	first, last int64
}

func newVerdictCounts(max int) *verdictCounts {
	return &verdictCounts{max: max, m: map[verdictKey]*verdictTally{}}
}

func (c *verdictCounts) add(k verdictKey, v metrics.EdgeVerdict, now int64) {
	if int(v) >= 3 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.m[k]
	if t == nil {
		if len(c.m) >= c.max {
			c.dropped.Add(1)
			return
		}
		t = &verdictTally{first: now}
		c.m[k] = t
	}
	t.n[v]++
	t.first, t.last = min(t.first, now), max(t.last, now)
}

// VerdictCount is the connections of one edge by verdict: an element of
// the "verdicts" list of docs/graph.md, the format graphview reads.
type VerdictCount = graphview.VerdictCount

// Verdicts returns the connection counts by verdict per edge, sorted.
func (d *Decider) Verdicts() []VerdictCount {
	c := d.verdicts
	c.mu.Lock()
	out := make([]VerdictCount, 0, len(c.m))
	for k, t := range c.m {
		out = append(out, VerdictCount{
			Src: k.src, Dst: k.dst, Proto: flowtable.ProtoName(k.proto), Port: k.port, App: k.app,
			Allowed: t.n[metrics.EdgeAllowed], Reported: t.n[metrics.EdgeReported], Denied: t.n[metrics.EdgeDenied],
			FirstSeen: time.Unix(0, t.first).UTC(), LastSeen: time.Unix(0, t.last).UTC(),
		})
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b VerdictCount) int {
		return cmp.Or(learn.ComparePeers(a.Src, b.Src), learn.ComparePeers(a.Dst, b.Dst),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port), cmp.Compare(a.App, b.App))
	})
	return out
}
