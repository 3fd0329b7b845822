package decide

import (
	"net/netip"

	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

// Bits of flowtable.Flow.Flags the Decider owns.
const (
	// flagDNS: the flow is DNS (port 53), queued whole by the dataplane.
	flagDNS uint8 = 1 << iota
	// flagLearned: the flow was recorded in the learned graph.
	flagLearned
	// flagReported: a DNS flow that no rule allows, let through and
	// reported when it began (monitor mode): each of its queries counts as
	// reported at least.
	flagReported
)

// flagWhole: an inspected connection queued whole (InspectAll), its
// responses included. Bits 3 and 4 hold the counted outcome.
const flagWhole uint8 = 1 << 5

// The flow's most severe outcome counted so far (metrics, graph verdicts),
// plus one, in two bits of flowtable.Flow.Flags: 0 when none was.
const (
	countedShift = 3
	countedMask  = uint8(3) << countedShift
)

// pkt is the context of one Decide call. It lives on the stack: nothing
// keeps a pointer to it.
type pkt struct {
	st       *planState
	p        *dataplane.Packet
	f        *flowtable.Flow
	dir      flowtable.Dir
	ins      *inspection
	src, dst *endpoint
	now      int64 // unix nanoseconds
	kept     bool  // p is in the flow's evidence
}

// Decide implements dataplane.Decider.
func (d *Decider) Decide(p *dataplane.Packet) dataplane.Verdict {
	if p.Conn == dataplane.ConnDenied {
		return dataplane.Deny // a DNS packet of a denied connection
	}
	if icmpError(p) {
		// Errors about other connections (unreachable, time exceeded…):
		// conntrack relates them to the connection they are about.
		return dataplane.Accept
	}
	now := p.Time.UnixNano()
	if p.Time.IsZero() {
		now = d.now().UnixNano()
	}
	fp := flowtable.Packet{
		Tuple: flowtable.Tuple{Src: p.Src, Dst: p.Dst, SrcPort: p.SrcPort, DstPort: p.DstPort, Proto: uint8(p.Proto)},
		Len:   p.Len, TCPFlags: uint8(p.TCPFlags), Time: now,
		// The dataplane queues only the client's packets of an inspected
		// connection.
		FromClient: p.Conn == dataplane.ConnInspected,
	}
	st := d.state.Load()
	v := dataplane.Accept
	fast := false
	d.flows.Track(&fp, func(f *flowtable.Flow, dir flowtable.Dir, created bool) {
		before := f.Verdict
		x := pkt{st: st, p: p, f: f, dir: dir, now: now}
		v = d.decide(&x, created)
		fast = before != f.Verdict && (f.Verdict == flowtable.Allow || f.Verdict == flowtable.Deny)
	})
	if r := d.recorder(p.Queue); r != nil {
		if !p.Time.IsZero() {
			r.ObserveLatency(d.now().Sub(p.Time))
		}
		if fast {
			r.FastPathed(v != dataplane.Deny)
		}
	}
	return v
}

// icmpError reports whether p is an ICMP error message.
func icmpError(p *dataplane.Packet) bool {
	switch p.Proto {
	case dataplane.ProtoICMP:
		return p.ICMPType == 3 || p.ICMPType == 11 || p.ICMPType == 12
	case dataplane.ProtoICMPv6:
		return p.ICMPType >= 1 && p.ICMPType <= 4
	}
	return false
}

// decide answers one packet with its flow locked.
func (d *Decider) decide(x *pkt, created bool) dataplane.Verdict {
	f := x.f
	if created {
		d.newFlow(f, x.p)
	}
	x.ins = slot(f)
	if f.Flags&flagDNS != 0 {
		return d.dnsPacket(x)
	}
	switch f.Verdict {
	case flowtable.Allow:
		d.release(f)
		return keep(x.p, dataplane.Allow)
	case flowtable.Deny:
		d.release(f)
		return dataplane.Deny
	case flowtable.Inspect:
		if x.ins != nil {
			return d.inspected(x)
		}
		f.Verdict = flowtable.Undecided // its state is gone: decide afresh
	}
	return d.undecided(x)
}

// newFlow names the ends of a flow seen for the first time: a container by
// the node-side interface the packet came in on or goes out by (so that an
// address it borrowed does not give it another workload's rights), else by
// address.
func (d *Decider) newFlow(f *flowtable.Flow, p *dataplane.Packet) {
	c, s := f.Client(), f.Server()
	in, out := p.PhysIn, p.PhysOut
	if in == 0 {
		in = p.InIf
	}
	if out == 0 {
		out = p.OutIf
	}
	if p.Src.Unmap() != c.Addr() || p.SrcPort != c.Port() {
		in, out = out, in // the server sent it
	}
	f.Src = d.name(c.Addr(), in)
	f.Dst = d.name(s.Addr(), out)
	if (f.Key.Proto == flowtable.ProtoTCP || f.Key.Proto == flowtable.ProtoUDP) && (s.Port() == 53 || c.Port() == 53) {
		f.Flags |= flagDNS
	}
	d.metrics.FlowCreated(f.Key.Proto)
}

// name names the end of a flow at addr, reached through the node-side
// interface idx (0: unknown).
func (d *Decider) name(addr netip.Addr, idx uint32) identity.Identity {
	if id, _, ok := d.resolver.Interface(int(idx)); ok {
		return id
	}
	return d.resolver.Addr(addr)
}

// keep returns v, or Accept when the connmark already records v (the
// packet was queued before the kernel applied the decision, or the
// connection stays inspected): Accept does not send the packet through
// the chain again.
func keep(p *dataplane.Packet, v dataplane.Verdict) dataplane.Verdict {
	switch {
	case v == dataplane.Allow && p.Conn == dataplane.ConnAllowed,
		v == dataplane.Inspect && p.Conn == dataplane.ConnInspected,
		v == dataplane.InspectAll && p.Conn == dataplane.ConnInspectedAll:
		return dataplane.Accept
	}
	return v
}

// endpoints classifies the flow's ends under the plan in force (cached in
// the inspection state while its policy stays in force).
func (d *Decider) endpoints(x *pkt) {
	if ins := x.ins; ins != nil && ins.src != nil && ins.gen == x.st.gen {
		x.src, x.dst = ins.src, ins.dst
		return
	}
	x.src = d.classify(x.st, x.f.Src, x.f.Client().Addr())
	x.dst = d.classify(x.st, x.f.Dst, x.f.Server().Addr())
	if ins := x.ins; ins != nil {
		ins.src, ins.dst, ins.gen = x.src, x.dst, x.st.gen
	}
}

// evaluate evaluates the flow with what is known of its app (no request).
func (d *Decider) evaluate(x *pkt) policy.Decision {
	f := x.f
	pf := policy.Flow{Src: x.src.ep, Dst: x.dst.ep, Proto: l7.Transport(f.Key.Proto), Port: f.Server().Port()}
	if ins := x.ins; ins != nil && ins.flags&inspStarted != 0 {
		switch ins.l7.State() {
		case l7.StateDetected:
			pf.AppKnown, pf.App = true, ins.l7.App()
		case l7.StateUnknown:
			pf.AppKnown = true
		}
	}
	return x.st.plan.Evaluate(&pf)
}

// payloadProto reports whether the flow carries payload the l7 engine
// reads (TCP, UDP).
func payloadProto(f *flowtable.Flow) bool {
	return f.Key.Proto == flowtable.ProtoTCP || f.Key.Proto == flowtable.ProtoUDP
}

// closing reports whether p ends its TCP connection.
func closing(p *dataplane.Packet) bool {
	return p.Proto == dataplane.ProtoTCP && p.TCPFlags&(dataplane.TCPFin|dataplane.TCPRst) != 0
}

// inspect attaches inspection state (when there is none), counts the
// packet against the wait, keeps it as evidence and feeds its payload to
// the l7 engine; the sink evaluates the requests it completes. It returns
// false when no inspection state is available (MaxInspections).
func (d *Decider) inspect(x *pkt) bool {
	f, p := x.f, x.p
	if x.ins == nil && !d.attach(x) {
		d.stats.inspectLimit.Add(1)
		return false
	}
	ins := x.ins
	if len(p.Payload) > 0 {
		d.startL7(ins, f, x.now, true)
		if f.Verdict == flowtable.Undecided {
			f.L7.Packets++
			f.L7.Bytes += uint32(len(p.Payload))
		}
	}
	if n := len(ins.ev.pkts); !ins.ev.full(d.cfg.EvidencePackets) {
		ins.ev.keep(p, x.dir, d.cfg.EvidencePackets)
		x.kept = len(ins.ev.pkts) > n
	}
	ins.call = call{d: d, st: x.st, f: f, p: p, dir: x.dir, now: x.now, kept: x.kept, src: x.src, dst: x.dst}
	if ins.flags&inspStarted != 0 {
		switch f.Key.Proto {
		case flowtable.ProtoTCP:
			ins.l7.TCP(l7.Dir(x.dir), p.Seq, l7.TCPFlags(p.TCPFlags)&(l7.FIN|l7.SYN|l7.RST|l7.ACK), p.Payload, ins)
		case flowtable.ProtoUDP:
			if len(p.Payload) > 0 {
				ins.l7.UDP(l7.Dir(x.dir), p.Payload, ins)
			}
		}
	}
	if ins.flags&inspStarted != 0 && ins.l7.State() == l7.StateDetected {
		f.App = uint8(ins.l7.App())
	}
	return true
}

// endCall clears the sink's view of the packet (it must not outlive it).
func endCall(ins *inspection) { ins.call = call{} }

// waitExceeded reports whether a flow waiting for L7 attributes has used
// up its wait.
func (d *Decider) waitExceeded(x *pkt) bool {
	f := x.f
	return int(f.L7.Packets) >= d.cfg.Wait.Packets || int(f.L7.Bytes) >= d.cfg.Wait.Bytes ||
		(x.ins != nil && x.ins.waitStart != 0 && x.now-x.ins.waitStart >= int64(d.cfg.Wait.Time))
}

// moreRequests reports whether more requests may still be parsed on the
// flow (so inspecting it further can tell something).
func moreRequests(ins *inspection) bool {
	return ins != nil && ins.flags&inspStarted != 0 && !ins.l7.Stopped(l7.FromClient) && !handshakeOnly(ins.l7.App())
}
