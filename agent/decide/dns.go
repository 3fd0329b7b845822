package decide

import (
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/agent/modes"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/policy"
)

// dnsPacket answers a DNS packet. The dataplane queues DNS whole, decided
// or not, so the flow's verdict is the Decider's own record; each packet is
// answered on its own: every query is checked against the policy (a query
// for a name the policy does not allow is dropped in protect mode: the
// datagram, or over TCP the connection) and every answer feeds the FQDN
// map.
func (d *Decider) dnsPacket(x *pkt) dataplane.Verdict {
	f, p := x.f, x.p
	if f.Verdict == flowtable.Deny {
		d.release(f)
		return dataplane.Deny
	}
	d.endpoints(x)
	if f.Verdict == flowtable.Undecided {
		dec := d.evaluate(x)
		switch {
		case dec.Mode == policy.ModeLearn || dec.Verdict == policy.Allowed && !dec.PerRequest:
			d.mark(x, flowtable.Allow, &dec, metrics.EdgeAllowed)
		case dec.Verdict == policy.Violation && dec.Drop():
			d.report(x, &dec, nil, "", "deny")
			return d.settle(x, flowtable.Deny, &dec, metrics.EdgeDenied)
		case dec.Verdict == policy.Violation:
			d.report(x, &dec, nil, "", "allow")
			d.mark(x, flowtable.Allow, &dec, metrics.EdgeReported)
		default: // the queries' names decide
			d.mark(x, flowtable.Inspect, &dec, metrics.EdgeAllowed)
		}
	}
	if len(p.Payload) == 0 {
		return dataplane.Accept
	}
	if !d.inspect(x) {
		// No state to parse it: the answer is not learnt, and a query
		// that must be checked cannot be.
		if f.Verdict == flowtable.Inspect && f.Mode == modes.Protect && d.cfg.Wait.Deny && x.dir == flowtable.FromClient {
			return d.dnsRefuse(x)
		}
		return dataplane.Accept
	}
	ins := x.ins
	c := ins.call
	endCall(ins)
	if c.requests > 0 && c.worst.Verdict == policy.Violation && c.worst.Drop() {
		return d.dnsRefuse(x)
	}
	if f.Key.Proto == flowtable.ProtoUDP && x.dir == flowtable.FromServer && ins.l7.Responses() >= ins.l7.Requests() {
		d.release(f) // every query answered: the next datagram starts afresh
	}
	return dataplane.Accept
}

// dnsRefuse drops a query: the datagram over UDP; over TCP the connection,
// since a retransmission of a dropped segment would not be parsed again.
func (d *Decider) dnsRefuse(x *pkt) dataplane.Verdict {
	d.stats.dnsDropped.Add(1)
	if x.f.Key.Proto == flowtable.ProtoTCP {
		x.f.Verdict = flowtable.Deny
		d.release(x.f)
		return dataplane.Deny
	}
	return dataplane.Drop
}
