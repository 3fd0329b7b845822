package metrics

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueStats is the state of one NFQUEUE queue the dataplane configured, as
// the kernel reports it in /proc/net/netfilter/nfnetlink_queue plus what the
// dataplane knows of its own configuration and counts itself. Plain values:
// the agent fills it from the dataplane's numbers at scrape time.
type QueueStats struct {
	// Queue is the queue number.
	Queue uint16
	// Bound is true when one of the agent's readers is bound to the queue
	// (the queue has a line in nfnetlink_queue with the reader's port id).
	Bound bool
	// FailOpen is true when the queue is configured to let packets through
	// uninspected when user space cannot take them: iptables
	// --queue-bypass (no reader bound) and NFQA_CFG_F_FAIL_OPEN (queue full,
	// or the reader's socket buffer full).
	FailOpen bool
	// Waiting is the number of packets waiting for a verdict (queue_total).
	Waiting uint64
	// Capacity is the configured maximum queue length (0 when unknown).
	Capacity uint64
	// KernelDropped counts packets the kernel dropped because the queue was
	// full (queue_dropped). A fail-open queue lets such packets through
	// instead and the kernel counts them nowhere.
	KernelDropped uint64
	// UserDropped counts packets the kernel dropped because it could not
	// deliver them to the reader's netlink socket, usually a full receive
	// buffer (user_dropped). A fail-open queue lets them through instead,
	// uncounted.
	UserDropped uint64
	// Overruns counts the reader's receive-buffer overflows (ENOBUFS): each
	// means the kernel could not deliver some packets — dropped and counted
	// in UserDropped when fail-closed, let through uninspected when
	// fail-open.
	Overruns uint64

	// Packets and Verdicts are packet-path counters the dataplane keeps
	// itself: packets read from the queue, and verdicts by kind (indexed by
	// Verdict). They are added to what the queue's QueueRecorder counted, so
	// the agent counts each packet once: either here or through the
	// recorder, and leaves the other zero.
	Packets  uint64
	Verdicts [NumVerdicts]uint64
}

// bypassing reports whether packets for this queue currently skip
// inspection: the queue is fail-open and either no reader is bound
// (--queue-bypass accepts) or it is full (NFQA_CFG_F_FAIL_OPEN accepts).
func (q QueueStats) bypassing() bool {
	if !q.FailOpen {
		return false
	}
	return !q.Bound || (q.Capacity > 0 && q.Waiting >= q.Capacity)
}

// QueueStatsSource reports the state of every queue the dataplane
// configured, one entry per queue. It is called at every scrape, from the
// scrape's goroutine; it may read /proc and may fail. The kernel's counters
// restart from zero when a queue is unbound and bound again: Prometheus'
// rate() treats that as a counter reset.
type QueueStatsSource interface {
	QueueStats() ([]QueueStats, error)
}

type queueSourceBox struct{ QueueStatsSource }

// packetCollector exports the packet path: the queue recorders' counters
// and the statistics pulled from the queue source, per queue or summed
// over queues where the family has no queue label.
type packetCollector struct {
	recorders *queueRecorders
	source    atomic.Pointer[queueSourceBox]
	log       *slog.Logger
	errors    prometheus.Counter

	mu       sync.Mutex
	lastGood []QueueStats // counters to export when the source fails

	packets, verdicts, fastPathed, latency *prometheus.Desc
	kernelDrops, userDrops, overruns       *prometheus.Desc
	waiting, capacity, bound, failOpen     *prometheus.Desc
}

func newPacketCollector(q *queueRecorders, log *slog.Logger) *packetCollector {
	return &packetCollector{
		recorders:   q,
		log:         log,
		errors:      counter(nameQueueStatsErrors),
		packets:     desc(nameQueuePackets),
		verdicts:    desc(nameVerdicts),
		fastPathed:  desc(nameFastPathed),
		latency:     desc(nameVerdictLatency),
		kernelDrops: desc(nameQueueKernelDrops),
		userDrops:   desc(nameQueueUserDrops),
		overruns:    desc(nameQueueOverruns),
		waiting:     desc(nameQueueWaiting),
		capacity:    desc(nameQueueCapacity),
		bound:       desc(nameQueueReaderBound),
		failOpen:    desc(nameFailOpen),
	}
}

func (c *packetCollector) Describe(ch chan<- *prometheus.Desc) {
	c.errors.Describe(ch)
	for _, d := range []*prometheus.Desc{
		c.packets, c.verdicts, c.fastPathed, c.latency,
		c.kernelDrops, c.userDrops, c.overruns,
		c.waiting, c.capacity, c.bound, c.failOpen,
	} {
		ch <- d
	}
}

// pull reads the source. On success it returns the statistics and true;
// on failure it counts and logs the error and returns the last good
// statistics (so that counters do not fall back, which rate() would read
// as a reset) and false. Duplicate queue entries are dropped and counted.
func (c *packetCollector) pull() ([]QueueStats, bool) {
	box := c.source.Load()
	if box == nil {
		return nil, false
	}
	stats, err := box.QueueStats()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.errors.Inc()
		c.log.Warn("metrics: read queue statistics", "err", err)
		return c.lastGood, false
	}
	out := make([]QueueStats, 0, len(stats))
	for _, q := range stats {
		if slices.ContainsFunc(out, func(o QueueStats) bool { return o.Queue == q.Queue }) {
			c.errors.Inc()
			c.log.Warn("metrics: queue statistics list a queue twice; the second entry is ignored", "queue", q.Queue)
			continue
		}
		out = append(out, q)
	}
	c.lastGood = out
	return out, true
}

func (c *packetCollector) Collect(ch chan<- prometheus.Metric) {
	stats, fresh := c.pull()
	defer c.errors.Collect(ch)

	// Packets per queue: the recorder's count plus the source's.
	packets := map[uint16]uint64{}
	var verdicts [NumVerdicts]uint64
	for _, q := range stats {
		packets[q.Queue] += q.Packets
		for i, n := range q.Verdicts {
			verdicts[i] += n
		}
	}
	var (
		fast    [2]uint64
		buckets [numLatencyBuckets + 1]uint64
		sumNs   uint64
	)
	for _, r := range c.recorders.snapshot() {
		packets[r.id] += r.packets.Load()
		for i := range verdicts {
			verdicts[i] += r.verdicts[i].Load()
		}
		fast[0] += r.fastPathed[0].Load()
		fast[1] += r.fastPathed[1].Load()
		for i := range buckets {
			buckets[i] += r.buckets[i].Load()
		}
		sumNs += r.sumNanos.Load()
	}
	for q, n := range packets {
		ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(n), portLabel(q))
	}
	for v, n := range verdicts {
		ch <- prometheus.MustNewConstMetric(c.verdicts, prometheus.CounterValue, float64(n), Verdict(v).String())
	}
	ch <- prometheus.MustNewConstMetric(c.fastPathed, prometheus.CounterValue, float64(fast[0]), "allow")
	ch <- prometheus.MustNewConstMetric(c.fastPathed, prometheus.CounterValue, float64(fast[1]), "deny")
	cum := make(map[float64]uint64, numLatencyBuckets)
	var count uint64
	for i, n := range buckets {
		count += n
		if i < numLatencyBuckets {
			cum[latencyBuckets[i]] = count
		}
	}
	ch <- prometheus.MustNewConstHistogram(c.latency, count, float64(sumNs)/1e9, cum)

	for _, q := range stats {
		label := portLabel(q.Queue)
		ch <- prometheus.MustNewConstMetric(c.kernelDrops, prometheus.CounterValue, float64(q.KernelDropped), label)
		ch <- prometheus.MustNewConstMetric(c.userDrops, prometheus.CounterValue, float64(q.UserDropped), label)
		ch <- prometheus.MustNewConstMetric(c.overruns, prometheus.CounterValue, float64(q.Overruns), label)
	}
	if !fresh {
		// No source, or it failed: the state gauges would be stale.
		return
	}
	failOpen := 0.0
	for _, q := range stats {
		label := portLabel(q.Queue)
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(q.Waiting), label)
		if q.Capacity > 0 {
			ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(q.Capacity), label)
		}
		ch <- prometheus.MustNewConstMetric(c.bound, prometheus.GaugeValue, boolValue(q.Bound), label)
		if q.bypassing() {
			failOpen = 1
		}
	}
	ch <- prometheus.MustNewConstMetric(c.failOpen, prometheus.GaugeValue, failOpen)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
