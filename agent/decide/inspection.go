package decide

import (
	"time"

	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

// inspection is a flow's state while the Decider inspects it: pooled,
// attached to flowtable.Flow.Slot, released as soon as the flow is decided
// for the kernel or evicted.
type inspection struct {
	l7       l7.Flow
	src, dst *endpoint // classified under the policy of generation gen
	gen      uint64
	// waitStart is when the first payload packet arrived (unix ns); wait
	// counters are in flowtable.Flow.L7.
	waitStart int64
	// seen are hashes of the request values already recorded in the
	// learned graph from this connection (learn mode), newest first.
	seen  [4]uint64
	flags inspFlags
	// note is the last note the engine gave about the client's bytes:
	// when the client's stream stopped being parsed, it says why.
	note string
	// pend holds the methods of the HTTP requests waiting for their
	// responses.
	pend httpPending
	ev   evidence
	// call is the context of the l7 call in progress (the sink's view).
	call call
}

type inspFlags uint8

const (
	// inspStarted: l7.Flow.Init was called.
	inspStarted inspFlags = 1 << iota
	// inspLostReported: a DNS flow over TCP whose queries can no longer
	// be parsed was reported once (its later packets are not).
	inspLostReported
)

// call is what the sink needs while the l7 engine parses one packet, and
// what it found.
type call struct {
	d   *Decider
	st  *planState
	f   *flowtable.Flow
	p   *dataplane.Packet
	dir flowtable.Dir
	now int64
	// kept says the current packet is in the evidence already.
	kept     bool
	src, dst *endpoint
	// requests counts the requests reported during the call; worst is the
	// most severe decision among them.
	requests int
	worst    policy.Decision
}

// slot returns the flow's inspection state, or nil.
func slot(f *flowtable.Flow) *inspection {
	ins, _ := f.Slot.(*inspection)
	return ins
}

// acquire attaches inspection state to f, or returns nil when
// MaxInspections flows are inspected already.
func (d *Decider) acquire(f *flowtable.Flow) *inspection {
	if ins := slot(f); ins != nil {
		return ins
	}
	if d.active.Add(1) > int64(d.cfg.MaxInspections) {
		d.active.Add(-1)
		return nil
	}
	ins := d.pool.Get().(*inspection)
	f.Slot = ins
	return ins
}

// attach gives x's flow inspection state with x's endpoints cached in it;
// false when MaxInspections flows are inspected already.
func (d *Decider) attach(x *pkt) bool {
	if x.ins = d.acquire(x.f); x.ins == nil {
		return false
	}
	x.ins.src, x.ins.dst, x.ins.gen = x.src, x.dst, x.st.gen
	return true
}

// release gives f's inspection state back to the pool.
func (d *Decider) release(f *flowtable.Flow) {
	ins := slot(f)
	if ins == nil {
		return
	}
	f.Slot = nil
	d.noResponses(ins)
	ins.l7.Release()
	ins.src, ins.dst, ins.gen, ins.waitStart, ins.seen, ins.flags, ins.note = nil, nil, 0, 0, [4]uint64{}, 0, ""
	ins.pend = httpPending{}
	ins.ev.reset()
	ins.call = call{}
	d.pool.Put(ins)
	d.active.Add(-1)
}

// startL7 prepares the l7 state for f on its SYN or its first payload
// packet; the wait for L7 attributes starts with the first payload packet
// (payload).
func (d *Decider) startL7(ins *inspection, f *flowtable.Flow, now int64, payload bool) {
	if payload && ins.waitStart == 0 {
		ins.waitStart = now
	}
	if ins.flags&inspStarted != 0 {
		return
	}
	ins.flags |= inspStarted
	tr := l7.TCP
	if f.Key.Proto == flowtable.ProtoUDP {
		tr = l7.UDP
	}
	ins.l7.Init(d.engine, tr, f.Client().Port(), f.Server().Port(), l7.OrientationKnown)
}

// handshake handles a TCP packet without payload of a flow that waits for
// its L7 attributes and has carried no payload yet. A SYN (the client's,
// or the server's SYN-ACK) gives the l7 engine the side's initial sequence
// number, so that a segment outside the window cannot pass for the start of
// its stream (l7.Flow.SetISN); the flow takes its inspection state for that
// (without it, as at MaxInspections, the first payload packet starts the
// stream). A connection that closes before carrying anything gives the
// state back.
func (d *Decider) handshake(x *pkt) {
	p, f := x.p, x.f
	switch {
	case f.Key.Proto != flowtable.ProtoTCP:
	case closing(p):
		d.release(f)
		x.ins = nil
	case p.TCPFlags&dataplane.TCPSyn != 0:
		if x.ins == nil && !d.attach(x) {
			return
		}
		d.startL7(x.ins, f, x.now, false)
		x.ins.l7.SetISN(l7.Dir(x.dir), p.Seq)
	}
}

// SweepInspections releases the inspection state of flows idle for longer
// than idle, and returns how many it released: connections inspected
// request by request whose end the kernel kept to itself (only the
// client's data is queued), keep-alive connections at rest, and flows
// stuck waiting for their L7 attributes. A flow whose state was released
// starts inspecting afresh with its next queued packet; its wait counters
// (packets, bytes) are kept in the flow. The agent calls it periodically.
func (d *Decider) SweepInspections(now time.Time, idle time.Duration) int {
	limit := now.Add(-idle).UnixNano()
	n := 0
	d.flows.Range(func(f *flowtable.Flow) bool {
		if f.Slot != nil && f.LastSeen < limit {
			d.release(f)
			n++
		}
		return true
	})
	return n
}
