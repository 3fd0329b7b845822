package dataplane

import "sync/atomic"

// queueCounters are one reader's counters. The reader adds a burst's counts
// once per burst; Stats reads them at any time.
type queueCounters struct {
	packets       atomic.Uint64
	verdicts      [numVerdicts]atomic.Uint64
	accepted      atomic.Uint64
	dropped       atomic.Uint64
	decodeErrors  atomic.Uint64
	badMessages   atomic.Uint64
	deciderPanics atomic.Uint64
	verdictErrors atomic.Uint64
	verdictMsgs   atomic.Uint64
	sendErrors    atomic.Uint64
	bursts        atomic.Uint64
	overruns      atomic.Uint64
	recvErrors    atomic.Uint64
	_             [64]byte // keep readers' counters on separate cache lines
}

// burstCounts accumulate one burst's counts in plain integers.
type burstCounts struct {
	packets, accepted, dropped, decodeErrors, badMessages, deciderPanics, verdictErrors, verdictMsgs uint64
	verdicts                                                                                         [numVerdicts]uint64
}

func (c *queueCounters) add(b *burstCounts) {
	c.bursts.Add(1)
	add := func(a *atomic.Uint64, v uint64) {
		if v != 0 {
			a.Add(v)
		}
	}
	add(&c.packets, b.packets)
	add(&c.accepted, b.accepted)
	add(&c.dropped, b.dropped)
	add(&c.decodeErrors, b.decodeErrors)
	add(&c.badMessages, b.badMessages)
	add(&c.deciderPanics, b.deciderPanics)
	add(&c.verdictErrors, b.verdictErrors)
	add(&c.verdictMsgs, b.verdictMsgs)
	for i := range b.verdicts {
		add(&c.verdicts[i], b.verdicts[i])
	}
}

// QueueStats are the counters of one queue: its reader's, and the kernel's
// from /proc/net/netfilter/nfnetlink_queue.
type QueueStats struct {
	Queue uint16
	// Packets is how many packets the reader received.
	Packets uint64
	// Bursts is how many receive calls returned packets; Packets/Bursts
	// is the mean burst.
	Bursts uint64
	// VerdictMsgs is how many verdict messages were sent; Packets /
	// VerdictMsgs is the batching gain.
	VerdictMsgs uint64
	// Overruns counts ENOBUFS: the socket buffer overflowed and the kernel
	// lost messages (it counts the packets in KernelUserDropped).
	Overruns uint64
	// Kernel's view (zero when the queue is not bound).
	KernelBound       bool
	KernelPortID      uint32
	KernelWaiting     uint32 // packets waiting for a verdict now
	KernelDropped     uint32 // dropped (or accepted, fail-open) because the queue was full
	KernelUserDropped uint32 // lost because the socket buffer was full
	KernelIDSequence  uint32
}

// Stats is a snapshot of the packet path's counters.
type Stats struct {
	// Queued is the number of packets received from the kernel.
	Queued uint64
	// Verdicts by kind (indexed by Verdict: Accept, Drop, Allow, Deny,
	// Inspect, InspectAll). Allow and Deny are connections put on the
	// kernel fast path; Inspect and InspectAll connections stay (partly)
	// queued.
	Verdicts [numVerdicts]uint64
	// Accepted and Dropped count packets by their outcome (including bad
	// packets, which get the fail verdict).
	Accepted, Dropped uint64
	// DecodeErrors counts packets that could not be decoded (malformed or
	// truncated); they get the fail verdict: accept when fail-open, drop
	// when fail-closed.
	DecodeErrors uint64
	// BadMessages counts netlink messages that could not be parsed.
	BadMessages uint64
	// DeciderPanics counts packets whose Decide call panicked (they get
	// the fail verdict).
	DeciderPanics uint64
	// VerdictErrors counts verdicts the kernel rejected; SendErrors
	// verdict batches that could not be sent; RecvErrors failed receives.
	VerdictErrors, SendErrors, RecvErrors uint64
	// VerdictMsgs is the number of verdict messages sent.
	VerdictMsgs uint64
	// Overruns counts socket buffer overflows (ENOBUFS).
	Overruns uint64
	// KernelDropped and KernelUserDropped sum the queues' kernel counters.
	KernelDropped, KernelUserDropped uint64
	// FailOpen is whether packets pass when no reader is bound
	// (--queue-bypass) or the queue is full (NFQA_CFG_F_FAIL_OPEN).
	FailOpen bool
	// Mechanism is how decisions reach the connmark.
	Mechanism Mechanism
	// Queues are the per-queue counters.
	Queues []QueueStats
}

// Verdict returns the count of verdict v.
func (s Stats) Verdict(v Verdict) uint64 {
	if v < numVerdicts {
		return s.Verdicts[v]
	}
	return 0
}
