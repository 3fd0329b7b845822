package decide

import (
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/policy"
)

// dnsPacket answers a DNS packet. The dataplane queues DNS whole, decided
// or not, so the flow's verdict is the Decider's own record; each packet is
// answered on its own: every query is checked against the policy (a query
// for a name the policy does not allow is dropped in protect mode: the
// datagram, or over TCP the connection) and every answer feeds the FQDN
// map. A query that must be checked but cannot be parsed is treated like a
// request whose L7 attributes never came.
//
// The flow's outcome is counted (metrics, graph verdicts) when the client
// has sent something: under the app it carries (dns), the most severe of
// the flow's and the query's outcomes; a later query dropped or reported
// counts again.
func (d *Decider) dnsPacket(x *pkt) dataplane.Verdict {
	f, p := x.f, x.p
	if f.Verdict == flowtable.Deny {
		d.release(f)
		return dataplane.Deny
	}
	d.endpoints(x)
	// Parse first, so that the flow is decided and counted knowing its app.
	parsed := len(p.Payload) > 0 && d.inspect(x)
	var c call
	if parsed {
		c = x.ins.call
		endCall(x.ins)
	}
	if f.Verdict == flowtable.Undecided {
		if v, final := d.dnsFlow(x); final {
			return v
		}
	}
	if len(p.Payload) == 0 {
		return dataplane.Accept
	}
	if x.dir == flowtable.FromServer {
		if parsed && f.Key.Proto == flowtable.ProtoUDP && x.ins.l7.Responses() >= x.ins.l7.Requests() {
			d.release(f) // every query answered: the next datagram starts afresh
		}
		return dataplane.Accept
	}
	switch {
	case !parsed:
		// No state to parse it (MaxInspections): the answer will not be
		// learnt, and a query that must be checked cannot be.
		if dec := d.evaluate(x); namesDecide(&dec) && dec.Mode == policy.ModeProtect && d.cfg.Wait.Deny {
			d.countOutcome(x, metrics.EdgeDenied)
			return d.dnsRefuse(x)
		}
		d.countOutcome(x, dnsFlowOutcome(f))
		return dataplane.Accept
	case c.requests > 0:
		d.countOutcome(x, max(dnsFlowOutcome(f), outcome(&c.worst)))
		if !c.worst.Drop() {
			if f.Key.Proto == flowtable.ProtoUDP && clientStopped(x.ins) {
				d.release(f) // the next datagram is parsed afresh
			}
			return dataplane.Accept
		}
		if f.Key.Proto == flowtable.ProtoUDP {
			d.release(f) // no answer to wait for
		}
		return d.dnsRefuse(x)
	case f.Key.Proto == flowtable.ProtoUDP:
		// A datagram from the client that carried no query the parser
		// could read; the next one is parsed afresh.
		v := dataplane.Accept
		if dec := d.evaluate(x); namesDecide(&dec) {
			v = d.dnsUnchecked(x, &dec)
		} else {
			d.countOutcome(x, dnsFlowOutcome(f))
		}
		d.release(f)
		return v
	case clientStopped(x.ins):
		// Over TCP: the client's stream broke; no later query is parsed.
		if dec := d.evaluate(x); namesDecide(&dec) && x.ins.flags&inspLostReported == 0 {
			x.ins.flags |= inspLostReported
			return d.dnsUnchecked(x, &dec)
		}
		d.countOutcome(x, dnsFlowOutcome(f))
	}
	return dataplane.Accept // a query not complete yet
}

// namesDecide reports whether a decision about a DNS flow leaves it to the
// names of its queries.
func namesDecide(dec *policy.Decision) bool {
	return dec.Mode != policy.ModeLearn && (dec.Verdict == policy.Pending || dec.Verdict == policy.Allowed && dec.PerRequest)
}

// dnsFlow decides a DNS flow as a whole, on its first packet; final is true
// when that packet's verdict is final (the flow is denied).
func (d *Decider) dnsFlow(x *pkt) (v dataplane.Verdict, final bool) {
	dec := d.evaluate(x)
	switch {
	case dec.Mode == policy.ModeLearn || dec.Verdict == policy.Allowed && !dec.PerRequest:
		record(x.f, flowtable.Allow, &dec)
	case dec.Drop():
		d.report(x, &dec, nil, "", "deny")
		return d.settle(x, flowtable.Deny, &dec, metrics.EdgeDenied), true
	case dec.Verdict == policy.Violation:
		d.report(x, &dec, nil, "", "allow")
		record(x.f, flowtable.Allow, &dec)
		x.f.Flags |= flagReported
	default: // the queries' names decide
		record(x.f, flowtable.Inspect, &dec)
	}
	return dataplane.Accept, false
}

// dnsFlowOutcome is the outcome of a DNS flow as a whole: reported when no
// rule allows it and its mode let it through, else allowed (its queries
// decide the rest).
func dnsFlowOutcome(f *flowtable.Flow) metrics.EdgeVerdict {
	if f.Flags&flagReported != 0 {
		return metrics.EdgeReported
	}
	return metrics.EdgeAllowed
}

// outcome is what a decision does to its flow, for counting.
func outcome(dec *policy.Decision) metrics.EdgeVerdict {
	switch {
	case dec.Drop():
		return metrics.EdgeDenied
	case dec.Report():
		return metrics.EdgeReported
	}
	return metrics.EdgeAllowed
}

// dnsUnchecked handles client bytes of a DNS flow whose queries must be
// checked (dec) but could not be parsed: reported ("request inspection
// failed"), and in protect mode with the deny wait verdict dropped: the
// datagram over UDP, the connection over TCP (no later query on it can be
// parsed).
func (d *Decider) dnsUnchecked(x *pkt, dec *policy.Decision) dataplane.Verdict {
	d.stats.lost.Add(1)
	why := stoppedWhy("request inspection failed", x.ins)
	if x.f.Key.Proto == flowtable.ProtoUDP && x.ins.note == "" {
		why = "request inspection failed (no DNS query in the datagram)"
	}
	if dec.Mode == policy.ModeProtect && d.cfg.Wait.Deny {
		d.report(x, dec, nil, why, "deny")
		d.countOutcome(x, metrics.EdgeDenied)
		return d.dnsRefuse(x)
	}
	d.report(x, dec, nil, why, "allow")
	d.countOutcome(x, metrics.EdgeReported)
	return dataplane.Accept
}

// dnsRefuse drops a query: the datagram over UDP; over TCP the connection,
// since a retransmission of a dropped segment would not be parsed again.
// Over TCP it releases the flow's inspection state (the caller must not use
// it afterwards).
func (d *Decider) dnsRefuse(x *pkt) dataplane.Verdict {
	d.stats.dnsDropped.Add(1)
	if x.f.Key.Proto == flowtable.ProtoTCP {
		x.f.Verdict = flowtable.Deny
		d.release(x.f)
		return dataplane.Deny
	}
	return dataplane.Drop
}
