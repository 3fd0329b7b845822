package decide

import (
	"hash/maphash"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/policy/learn"
)

var valuesSeed = maphash.MakeSeed()

// learnFlow records a flow without a request in the learned graph (once
// per flow).
func (d *Decider) learnFlow(x *pkt) {
	f := x.f
	if d.graph == nil || f.Flags&flagLearned != 0 || !payloadProto(f) {
		return
	}
	f.Flags |= flagLearned
	app := l7.Unknown
	if ins := x.ins; ins != nil && ins.flags&inspStarted != 0 && ins.l7.State() == l7.StateDetected {
		app = ins.l7.App()
	}
	d.observe(x, app, nil)
}

// learnRequest records a request in the learned graph: the flow's first,
// and every later one whose L7 values this connection has not shown yet.
func (d *Decider) learnRequest(x *pkt, app l7.App, r *l7.Request) {
	f := x.f
	if d.graph == nil || !payloadProto(f) {
		return
	}
	vals, ok := learn.ValuesOf(app, r)
	if f.Flags&flagLearned != 0 {
		if !ok {
			return
		}
		h := hashValues(&vals)
		ins := x.ins
		for _, s := range ins.seen {
			if s == h {
				return // seen on this connection already
			}
		}
		copy(ins.seen[1:], ins.seen[:len(ins.seen)-1])
		ins.seen[0] = h
	} else if ok {
		x.ins.seen[0] = hashValues(&vals)
	}
	f.Flags |= flagLearned
	// The graph copies the values it keeps, and eventL7 what the event
	// keeps: r may point into the packet.
	d.observe(x, app, r)
}

func hashValues(v *learn.Values) uint64 {
	var h maphash.Hash
	h.SetSeed(valuesSeed)
	for _, s := range v {
		h.WriteString(s)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// observe adds the flow to the graph and reports a new edge.
func (d *Decider) observe(x *pkt, app l7.App, r *l7.Request) {
	f := x.f
	c, s := f.Client(), f.Server()
	o := learn.Observation{
		Src: peer(f.Src, c.Addr()), Dst: peer(f.Dst, s.Addr()),
		Proto: l7.Transport(f.Key.Proto), Port: s.Port(), App: app, Request: r,
	}
	if o.Src.Kind == learn.PeerWorkload {
		o.SrcLabels = f.Src.Labels
	}
	if o.Dst.Kind == learn.PeerWorkload {
		o.DstLabels = f.Dst.Labels
	}
	res := d.graph.Observe(o)
	d.graphGen.Add(1)
	if !res.NewEdge {
		return
	}
	d.metrics.EdgeLearned()
	d.restartQuiet(x, false)
	if !d.events.Reserve() {
		return
	}
	e := d.flowEvent(x, events.Learned, policy.ModeLearn, d.learnVerdict(x).String())
	if app != l7.Unknown {
		e.App = app.String()
	}
	if r != nil {
		e.L7 = eventL7(app, r)
	}
	d.events.Emit(e)
}

// learnVerdict is what a learning flow becomes once recorded: a connection
// of an application with L7 attributes that may carry more requests stays
// inspected, so that each distinct request of a keep-alive connection is
// learned (requests missing from the learned policy would be dropped in
// protect mode); with Config.LearnOnce, and for every other flow, the
// kernel fast path.
func (d *Decider) learnVerdict(x *pkt) flowtable.Verdict {
	if d.cfg.LearnOnce || !moreRequests(x.ins) || policy.KindForApp(x.ins.l7.App()) == policy.KindNone {
		return flowtable.Allow
	}
	return flowtable.Inspect
}

// GraphGeneration changes whenever the learned graph does (for periodic
// saving).
func (d *Decider) GraphGeneration() uint64 { return d.graphGen.Load() }

// restartQuiet tells auto-promotion about a new edge (violation false) or
// a violation concerning the groups of the flow's local endpoints. Each
// end's groups go as they are, one call per local end: nothing is
// allocated on the packet path, also when both ends are local.
func (d *Decider) restartQuiet(x *pkt, violation bool) {
	if d.promoter == nil {
		return
	}
	for _, e := range [2]*endpoint{x.src, x.dst} {
		if e == nil || !e.local || len(e.groups) == 0 {
			continue
		}
		if violation {
			d.promoter.Violation(e.groups...)
		} else {
			d.promoter.NewEdge(e.groups...)
		}
	}
}
