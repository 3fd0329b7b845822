package decide

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

// report reports a violation: the metric, the quiet period of the groups
// concerned, and a violation or drop event with the request's attributes
// and the connection's first packets. why, when set, says the L7
// attributes never came (the wait ended). verdict is what happens to the
// flow: allow, inspect or deny.
func (d *Decider) report(x *pkt, dec *policy.Decision, r *l7.Request, why string, verdict string) {
	reason := violationReason(dec, why)
	d.metrics.Violation(d.violationGroup(x, dec.Mode), dec.Mode.String(), reason)
	d.restartQuiet(x, true)
	if !d.events.Reserve() {
		// The event queue is full (a flood): neither the event nor the
		// flow's reason text is built.
		return
	}
	text := reasonText(x, dec)
	if why != "" {
		text = why + ": " + text
	}
	x.f.Reason = text
	typ := events.Violation
	if verdict == "deny" {
		typ = events.Drop
	}
	e := d.flowEvent(x, typ, dec.Mode, verdict)
	e.Rule, e.Reason = dec.Rule, text
	app := l7.App(x.f.App)
	if r != nil {
		app = r.App
		e.L7 = eventL7(app, r)
	}
	if app != l7.Unknown {
		e.App = app.String()
	}
	if d.cfg.EvidencePackets > 0 {
		if ins := x.ins; ins != nil {
			e.Packets = ins.ev.packets(x.f, x.p, x.dir, x.kept)
		} else {
			var none evidence
			e.Packets = none.packets(x.f, x.p, x.dir, false)
		}
	}
	d.events.Emit(e)
}

// violationReason maps a decision to the bounded reason label.
func violationReason(dec *policy.Decision, why string) metrics.ViolationReason {
	switch {
	case why != "":
		return metrics.ReasonInspectionLimit
	case dec.Reason.Code == policy.ReasonApp:
		return metrics.ReasonApp
	case dec.Reason.Code == policy.ReasonRequest && dec.Reason.Kind == policy.KindDNS:
		return metrics.ReasonDNSName
	case dec.Reason.Code == policy.ReasonRequest:
		return metrics.ReasonL7
	}
	return metrics.ReasonNoRule
}

// violationGroup returns the group whose mode applied: the group of a local
// endpoint in the flow's mode ("" when the mode came from the default).
func (d *Decider) violationGroup(x *pkt, mode policy.Mode) string {
	for _, e := range [2]*endpoint{x.src, x.dst} {
		if e == nil || !e.local {
			continue
		}
		for _, g := range e.groups {
			if m, ok := x.st.plan.Mode(g); ok && m == mode {
				return g
			}
		}
	}
	return ""
}

// countOutcome counts the flow's outcome v when it is more severe than the
// outcomes counted for it so far: a connection counts once when it is
// first decided, and once more each time a later request makes its outcome
// more severe (a keep-alive connection allowed, then denied for a
// forbidden request, counts as allowed and as denied). Counted under the
// app known by then.
func (d *Decider) countOutcome(x *pkt, v metrics.EdgeVerdict) {
	f := x.f
	level := uint8(v) + 1
	if v > metrics.EdgeDenied || level <= (f.Flags&countedMask)>>countedShift {
		return
	}
	f.Flags = f.Flags&^countedMask | level<<countedShift
	d.count(x, v)
}

// count counts one outcome of the flow: the communication graph metric
// and the graph API's verdict counts.
func (d *Decider) count(x *pkt, v metrics.EdgeVerdict) {
	f := x.f
	app := l7.App(f.App)
	d.metrics.Connection(metrics.Edge{
		Src: x.src.label, SrcGroup: x.src.group, Dst: x.dst.label, DstGroup: x.dst.group,
		DstPort: f.Server().Port(), Proto: f.Key.Proto, App: app.String(), Verdict: v,
	})
	if payloadProto(f) {
		c, s := f.Client(), f.Server()
		d.verdicts.add(verdictKey{src: peer(f.Src, c.Addr()), dst: peer(f.Dst, s.Addr()),
			proto: f.Key.Proto, port: s.Port(), app: app}, v, x.now)
	}
}

// flowEvent builds an event about the flow.
func (d *Decider) flowEvent(x *pkt, typ events.Type, mode policy.Mode, verdict string) events.Event {
	f := x.f
	c, s := f.Client(), f.Server()
	return events.Event{
		Time: time.Unix(0, x.now).UTC(), Type: typ, FlowID: events.FlowID(f.ID),
		Src: Endpoint(f.Src, c.Addr(), c.Port()), Dst: Endpoint(f.Dst, s.Addr(), s.Port()),
		Proto: flowtable.ProtoName(f.Key.Proto), Mode: mode.String(), Verdict: verdict,
	}
}

// Endpoint describes one end of a flow for events and the API. A zero
// identity (not named yet) is reported as world.
func Endpoint(id identity.Identity, addr netip.Addr, port uint16) events.Endpoint {
	ep := events.Endpoint{Workload: id.Name, Kind: id.Kind.String(), Labels: id.Labels, IP: addr, Port: port}
	if ep.Workload == "" {
		ep.Workload = identity.WorldName
		ep.Kind = identity.World.String()
	}
	return ep
}

// eventL7 copies a request's attributes into an event.
func eventL7(app l7.App, r *l7.Request) events.L7 {
	e := events.L7{
		Method: strings.Clone(r.Method), Host: strings.Clone(r.Host), Path: strings.Clone(r.Path),
		GRPCService: strings.Clone(r.GRPCService), GRPCMethod: strings.Clone(r.GRPCMethod),
		Command: strings.Clone(r.Command), Topic: strings.Clone(r.Topic),
		User: strings.Clone(r.User), Database: strings.Clone(r.Database),
	}
	if app == l7.DNS {
		e.Query, e.Host = e.Host, ""
		e.QType = qtypeName(r.QType)
	}
	return e
}

// qtypeName names a DNS query type ("A", "AAAA", "TYPE65280").
func qtypeName(t uint16) string {
	if n, ok := dns.TypeToString[t]; ok {
		return n
	}
	return "TYPE" + strconv.Itoa(int(t))
}
