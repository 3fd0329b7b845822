package metrics

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const numLatencyBuckets = 13

// latencyBuckets are the upper bounds, in seconds, of the verdict latency
// histogram: 1 µs to 10 ms.
var latencyBuckets = [numLatencyBuckets]float64{
	1e-6, 2.5e-6, 5e-6,
	10e-6, 25e-6, 50e-6,
	100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3,
	10e-3,
}

// latencyBoundsNs are latencyBuckets in nanoseconds, for integer compares
// on the packet path.
var latencyBoundsNs = func() (b [numLatencyBuckets]int64) {
	for i, s := range latencyBuckets {
		b[i] = int64(s*1e9 + 0.5)
	}
	return b
}()

// LatencyBuckets returns the upper bounds, in seconds, of the buckets of
// bulkhead_verdict_latency_seconds.
func LatencyBuckets() []float64 { return slices.Clone(latencyBuckets[:]) }

// QueueRecorder counts what one NFQUEUE reader does. Get it once per queue
// with Metrics.Queue and keep it: its methods are the packet path's, cost a
// few atomic adds, never allocate and never block. It is safe for concurrent
// use, and fastest when one goroutine (the queue's reader) owns it: every
// recorder has its own cache lines, and the collector sums all of them at
// scrape time.
type QueueRecorder struct {
	_          [64]byte // keep the counters off the previous allocation's line
	packets    atomic.Uint64
	verdicts   [NumVerdicts]atomic.Uint64
	fastPathed [2]atomic.Uint64 // [0] allow, [1] deny
	// latency histogram: non-cumulative bucket counts, the last one +Inf.
	buckets  [numLatencyBuckets + 1]atomic.Uint64
	sumNanos atomic.Uint64
	_        [64]byte

	id    uint16
	queue string // label value
}

// Packets counts n packets read from the queue (n > 1 for a batch).
func (r *QueueRecorder) Packets(n int) {
	r.packets.Add(uint64(n))
}

// Verdict counts one verdict sent for one packet and observes its latency:
// the time from reading the packet to sending the verdict (negative counts
// as zero).
func (r *QueueRecorder) Verdict(v Verdict, latency time.Duration) {
	if v < NumVerdicts {
		r.verdicts[v].Add(1)
	}
	r.ObserveLatency(latency)
}

// ObserveLatency observes one verdict's latency without counting the
// verdict, for an agent whose verdict counts come from the dataplane
// (QueueStats.Verdicts).
func (r *QueueRecorder) ObserveLatency(latency time.Duration) {
	ns := max(int64(latency), 0)
	i := 0
	for i < numLatencyBuckets && ns > latencyBoundsNs[i] {
		i++
	}
	r.buckets[i].Add(1)
	r.sumNanos.Add(uint64(ns))
}

// FastPathed counts one connection whose connmark was set to a decided
// value (allowed, or denied when allowed is false), so that the kernel now
// carries its packets without queueing them. Call it once per connection,
// when the flow becomes decided, not per packet.
func (r *QueueRecorder) FastPathed(allowed bool) {
	if allowed {
		r.fastPathed[0].Add(1)
	} else {
		r.fastPathed[1].Add(1)
	}
}

// queueRecorders owns the recorders of every queue.
type queueRecorders struct {
	mu   sync.Mutex
	byID map[uint16]*QueueRecorder
	all  []*QueueRecorder // sorted by queue number, for a stable exposition
}

func (q *queueRecorders) get(id uint16) *QueueRecorder {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r := q.byID[id]; r != nil {
		return r
	}
	if q.byID == nil {
		q.byID = make(map[uint16]*QueueRecorder)
	}
	r := &QueueRecorder{id: id, queue: portLabel(id)}
	q.byID[id] = r
	i, _ := slices.BinarySearchFunc(q.all, id, func(r *QueueRecorder, id uint16) int {
		return int(r.id) - int(id)
	})
	q.all = slices.Insert(q.all, i, r)
	return r
}

func (q *queueRecorders) snapshot() []*QueueRecorder {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.all)
}
