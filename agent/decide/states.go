package decide

import (
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/agent/modes"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

// undecided answers a packet of a flow not decided yet: evaluate at L4,
// and when the policy (or learning) needs L7 attributes, inspect until they
// arrive or the wait ends.
func (d *Decider) undecided(x *pkt) dataplane.Verdict {
	f, p := x.f, x.p
	d.endpoints(x)
	dec := d.evaluate(x)
	learning := dec.Mode == policy.ModeLearn
	if !payloadProto(f) || (!learning && dec.Verdict != policy.Pending) {
		return d.conclude(x, dec)
	}
	if len(p.Payload) == 0 && (x.ins == nil || x.ins.waitStart == 0) {
		// Handshake, or a connection closing before it carried anything.
		d.handshake(x)
		if learning && closing(p) {
			return d.conclude(x, dec)
		}
		return dataplane.Accept
	}
	if !d.inspect(x) {
		return d.waitOver(x, dec, "inspection capacity reached")
	}
	ins := x.ins
	c := ins.call
	endCall(ins)
	if c.requests > 0 {
		return d.afterRequests(x, c.worst)
	}
	dec = d.evaluate(x)
	switch {
	case dec.Mode == policy.ModeLearn:
		if d.learnReady(x) || d.waitExceeded(x) {
			return d.conclude(x, dec)
		}
		return dataplane.Accept
	case dec.Verdict != policy.Pending:
		return d.conclude(x, dec)
	case d.waitExceeded(x):
		d.stats.waitExceeded.Add(1)
		return d.waitOver(x, dec, "L7 wait exceeded")
	case clientStopped(ins):
		// The attributes the policy waits for will never be parsed.
		return d.waitOver(x, dec, stoppedWhy("L7 inspection failed", ins))
	}
	return dataplane.Accept
}

// learnReady reports whether a learning flow without a request has shown
// what can be learnt of it.
func (d *Decider) learnReady(x *pkt) bool {
	ins := x.ins
	if closing(x.p) {
		return true
	}
	if ins == nil || ins.flags&inspStarted == 0 {
		return false
	}
	switch ins.l7.State() {
	case l7.StateUnknown:
		return true
	case l7.StateDetected:
		if policy.KindForApp(ins.l7.App()) == policy.KindNone || ins.l7.Done() || clientStopped(ins) {
			return true
		}
	}
	// A UDP flow is learnt from its first datagram: most UDP flows are one
	// datagram each way, and waiting would hold state for every one.
	return x.f.Key.Proto == flowtable.ProtoUDP && len(x.p.Payload) > 0
}

// inspected answers a packet of a connection inspected request by request:
// the client's data (the kernel passes the rest).
func (d *Decider) inspected(x *pkt) dataplane.Verdict {
	if len(x.p.Payload) == 0 {
		return keep(x.p, inspectVerdict(x.f))
	}
	d.endpoints(x)
	d.inspect(x)
	ins := x.ins
	c := ins.call
	endCall(ins)
	if c.requests > 0 {
		return d.afterRequests(x, c.worst)
	}
	if requestsLost(ins) {
		dec := d.evaluate(x)
		if dec.Mode == policy.ModeLearn {
			return d.settle(x, flowtable.Allow, &dec, metrics.EdgeAllowed)
		}
		return d.lost(x, dec)
	}
	if !moreRequests(ins) {
		dec := d.evaluate(x)
		return d.settle(x, flowtable.Allow, &dec, metrics.EdgeAllowed)
	}
	if x.f.Flags&flagWhole != 0 && ins.l7.Stopped(l7.FromServer) {
		// The responses are no longer parsed: stop queueing them.
		x.f.Flags &^= flagWhole
		d.noResponses(ins)
	}
	return keep(x.p, inspectVerdict(x.f))
}

// conclude applies a final decision to a flow without a request in hand:
// the verdict by mode, the report, the learned graph.
func (d *Decider) conclude(x *pkt, dec policy.Decision) dataplane.Verdict {
	switch {
	case dec.Mode == policy.ModeLearn:
		d.learnFlow(x)
		return d.settle(x, d.learnVerdict(x), &dec, metrics.EdgeAllowed)
	case dec.Verdict == policy.Allowed:
		v := flowtable.Allow
		if dec.PerRequest && moreRequests(x.ins) {
			v = flowtable.Inspect
		}
		return d.settle(x, v, &dec, metrics.EdgeAllowed)
	case dec.Verdict == policy.Violation:
		if dec.Drop() {
			d.report(x, &dec, nil, "", "deny")
			return d.settle(x, flowtable.Deny, &dec, metrics.EdgeDenied)
		}
		v := flowtable.Allow
		if dec.PerRequest && moreRequests(x.ins) {
			v = flowtable.Inspect
		}
		d.report(x, &dec, nil, "", v.String())
		return d.settle(x, v, &dec, metrics.EdgeReported)
	}
	return dataplane.Accept // Pending: not final
}

// afterRequests decides after the sink evaluated (and reported) the
// requests of one packet; worst is the most severe of their decisions.
func (d *Decider) afterRequests(x *pkt, worst policy.Decision) dataplane.Verdict {
	more := moreRequests(x.ins)
	if worst.Mode != policy.ModeLearn && worst.PerRequest && !worst.Drop() && requestsLost(x.ins) {
		// The requests of this packet pass, but the bytes after them broke
		// the parser: the requests that follow cannot be checked, and
		// fast-pathing the connection would let them all through.
		return d.lost(x, d.evaluate(x))
	}
	switch {
	case worst.Mode == policy.ModeLearn:
		return d.settle(x, d.learnVerdict(x), &worst, metrics.EdgeAllowed)
	case worst.Verdict == policy.Violation && worst.Drop():
		return d.settle(x, flowtable.Deny, &worst, metrics.EdgeDenied)
	case worst.Verdict == policy.Violation:
		v := flowtable.Allow
		if worst.PerRequest && more {
			v = flowtable.Inspect
		}
		return d.settle(x, v, &worst, metrics.EdgeReported)
	case worst.Verdict == policy.Allowed:
		v := flowtable.Allow
		if worst.PerRequest && more {
			v = flowtable.Inspect
		}
		return d.settle(x, v, &worst, metrics.EdgeAllowed)
	}
	return dataplane.Accept
}

// waitOver decides a flow whose L7 attributes did not come (the wait ended,
// inspection failed, or no inspection state was available): learn mode
// records what it saw and allows; otherwise the flow is reported and protect
// mode applies the configured verdict.
func (d *Decider) waitOver(x *pkt, dec policy.Decision, why string) dataplane.Verdict {
	if dec.Mode == policy.ModeLearn {
		return d.conclude(x, dec)
	}
	v, edge, verdict := flowtable.Allow, metrics.EdgeReported, "allow"
	if dec.Mode == policy.ModeProtect && d.cfg.Wait.Deny {
		v, edge, verdict = flowtable.Deny, metrics.EdgeDenied, "deny"
	}
	d.report(x, &dec, nil, why, verdict)
	return d.settle(x, v, &dec, edge)
}

// lost decides a connection checked request by request whose requests can
// no longer be parsed: reported, and in protect mode the configured L7 wait
// verdict applies.
func (d *Decider) lost(x *pkt, dec policy.Decision) dataplane.Verdict {
	d.stats.lost.Add(1)
	return d.waitOver(x, dec, stoppedWhy("request inspection failed", x.ins))
}

// settle records the flow's decision and returns the packet's verdict.
func (d *Decider) settle(x *pkt, v flowtable.Verdict, dec *policy.Decision, edge metrics.EdgeVerdict) dataplane.Verdict {
	d.mark(x, v, dec, edge)
	switch v {
	case flowtable.Allow:
		d.release(x.f)
		return keep(x.p, dataplane.Allow)
	case flowtable.Deny:
		d.release(x.f)
		return dataplane.Deny
	case flowtable.Inspect:
		if d.wantResponses(x, dec.Mode) {
			x.f.Flags |= flagWhole
			return keep(x.p, dataplane.InspectAll)
		}
		x.f.Flags &^= flagWhole
		d.noResponses(x.ins)
		return keep(x.p, dataplane.Inspect)
	}
	return dataplane.Accept
}

// mark records the flow's decision and counts its outcome.
func (d *Decider) mark(x *pkt, v flowtable.Verdict, dec *policy.Decision, edge metrics.EdgeVerdict) {
	record(x.f, v, dec)
	d.countOutcome(x, edge)
}

// record records the flow's decision.
func record(f *flowtable.Flow, v flowtable.Verdict, dec *policy.Decision) {
	f.Verdict = v
	f.Mode = modes.Mode(dec.Mode)
	if dec.Rule != "" {
		f.Rule = dec.Rule
	}
}
