package agent

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/decide"
	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/agent/modes"
	"bulkhead.dev/bulkhead/l7"
)

// backend answers the API for an agent.
type backend struct{ a *Agent }

var _ api.Backend = backend{}

func (b backend) Status(ctx context.Context) (api.Status, error) {
	a := b.a
	checks := b.Ready(ctx)
	ready := true
	for _, c := range checks {
		ready = ready && c.OK
	}
	fs := a.flows.Stats()
	evicted := map[string]uint64{}
	for _, r := range flowtable.Reasons() {
		evicted[r.String()] = fs.Evicted[r]
	}
	es := a.events.Stats()
	return api.Status{
		Node: a.cfg.Node, Version: a.opts.Version, Started: a.started,
		FailMode: string(a.cfg.FailMode), DefaultMode: a.modes.Default().String(), Queues: a.cfg.Queues,
		Ready: ready, Checks: checks, Workloads: len(a.resolver.Locals()), Policy: a.policyInfo(),
		Flows:     api.FlowStats{Active: fs.Active, Limit: fs.Limit, Created: fs.Created, Evicted: evicted},
		Events:    api.EventStats{Emitted: es.Emitted, Dropped: es.Dropped, Written: es.Written, WriteErrors: es.WriteErrors, Evidence: es.Evidence, Subscribers: es.Subscribers},
		Dataplane: b.dataplane(),
	}, nil
}

func (b backend) dataplane() api.Dataplane { return b.a.dataplaneStatus() }

// Ready: a policy is in force (or deliberately none: the path is absent)
// and the dataplane is attached.
func (b backend) Ready(context.Context) []api.Check {
	a := b.a
	info := a.policyInfo()
	pc := api.Check{Name: "policy"}
	switch {
	case info.Loaded:
		pc.OK = true
		pc.Detail = api.Count(info.Rules, "rule") + " from " + api.Count(len(info.Files), "file")
		if info.FromState {
			pc.Detail += " (last good policy from the state directory)"
		}
	case a.loader != nil && info.LastError == "":
		pc.OK = true
		pc.Detail = info.Absent + ": empty policy in the default mode"
	default:
		pc.Detail = info.LastError
	}
	dp := b.dataplane()
	dc := api.Check{Name: "dataplane", OK: dp.Attached, Detail: dp.Detail}
	if dp.Attached {
		dc.Detail = fmt.Sprintf("attached to %s (%s)", api.Count(dp.Interfaces, "interface"), dp.Detail)
	}
	return []api.Check{pc, dc}
}

func (b backend) Workloads(context.Context) ([]api.Workload, error) {
	a := b.a
	locals := a.resolver.Locals()
	out := make([]api.Workload, 0, len(locals))
	for _, l := range locals {
		w := api.Workload{
			Name: l.Name, Kind: l.Kind.String(), Source: l.Source, Labels: l.Labels,
			Interface: l.HostIf, NetNS: l.NetNS, Addrs: l.Addrs,
		}
		mode := modes.Unset
		var addr netip.Addr
		if len(l.Addrs) > 0 {
			addr = l.Addrs[0]
		}
		w.Groups = a.decider.Classify(l.Identity, addr).Groups()
		for _, g := range w.Groups {
			if m, ok := a.modes.Mode(g); ok {
				mode = modes.Strictest(mode, m)
			}
		}
		if mode == modes.Unset {
			mode = a.modes.Default()
		}
		w.Mode = mode.String()
		out = append(out, w)
	}
	return out, nil
}

// Flows keeps the f.Limit most recently active matching flows in a heap
// while it walks the table, so a request costs memory for the answer only,
// whatever the table's size.
func (b backend) Flows(_ context.Context, f api.FlowFilter) ([]api.Flow, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = api.DefaultFlowLimit
	}
	h := &recentFlows{}
	b.a.flows.Range(func(fl *flowtable.Flow) bool {
		if len(*h) == limit && fl.LastSeen < (*h)[0].lastSeen {
			return true // older than everything kept
		}
		af := b.flow(fl)
		if !f.Match(&af) {
			return true
		}
		heap.Push(h, keptFlow{Flow: af, lastSeen: fl.LastSeen, id: fl.ID})
		if len(*h) > limit {
			heap.Pop(h)
		}
		return true
	})
	out := make([]api.Flow, len(*h))
	for i := len(out) - 1; i >= 0; i-- {
		k := heap.Pop(h).(keptFlow)
		k.Flow.ID = events.FlowID(k.id)
		out[i] = k.Flow
	}
	return out, nil
}

type keptFlow struct {
	api.Flow
	lastSeen int64
	id       uint64
}

// recentFlows is a min-heap on (last seen, then id descending): its root is
// the flow to drop first.
type recentFlows []keptFlow

func (h recentFlows) Len() int { return len(h) }
func (h recentFlows) Less(i, j int) bool {
	if h[i].lastSeen != h[j].lastSeen {
		return h[i].lastSeen < h[j].lastSeen
	}
	return h[i].id > h[j].id
}
func (h recentFlows) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *recentFlows) Push(x any)   { *h = append(*h, x.(keptFlow)) }
func (h *recentFlows) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// flow converts a locked flow into its API form.
func (b backend) flow(f *flowtable.Flow) api.Flow {
	c, s := f.Client(), f.Server()
	af := api.Flow{
		Src:     Endpoint(f.Src, c.Addr(), c.Port()),
		Dst:     Endpoint(f.Dst, s.Addr(), s.Port()),
		Proto:   flowtable.ProtoName(f.Key.Proto),
		Verdict: f.Verdict.String(),
		Rule:    f.Rule, Reason: f.Reason,
		Packets:  uint64(f.Packets[0]) + uint64(f.Packets[1]),
		Bytes:    f.Bytes[0] + f.Bytes[1],
		Started:  time.Unix(0, f.Created).UTC(),
		LastSeen: time.Unix(0, f.LastSeen).UTC(),
	}
	if f.Mode != modes.Unset {
		af.Mode = f.Mode.String()
	}
	if f.App != 0 {
		af.App = b.a.appName(f.App)
	}
	if f.Key.Proto == flowtable.ProtoTCP {
		af.State = [...]string{"opening", "established", "closing"}[f.State]
	}
	return af
}

func (a *Agent) appName(app uint8) string { return l7.App(app).String() }

// Endpoint describes one end of a flow for events and the API. A zero
// identity (not named yet) is reported as world.
func Endpoint(id identity.Identity, addr netip.Addr, port uint16) events.Endpoint {
	return decide.Endpoint(id, addr, port)
}

func (b backend) Graph(_ context.Context, verdicts bool) (json.RawMessage, error) {
	return b.a.graphJSON(verdicts)
}

func (b backend) Policy(context.Context) (api.Policy, error) {
	a := b.a
	p := api.Policy{PolicyInfo: a.policyInfo(), Sources: []api.PolicySource{}}
	if lp := a.Policy(); lp != nil {
		for _, f := range lp.Files {
			p.Sources = append(p.Sources, api.PolicySource{Name: f.Name, Content: f.Content})
		}
	}
	return p, nil
}

func (b backend) ReloadPolicy(context.Context) (api.PolicyInfo, error) {
	b.a.reloadMu.Lock()
	defer b.a.reloadMu.Unlock()
	return b.a.reloadPolicy()
}

func (b backend) Modes(context.Context) ([]modes.Entry, error) { return b.a.modes.List(), nil }

func (b backend) SetMode(_ context.Context, group string, m modes.Mode) (modes.Entry, error) {
	return b.a.setMode(group, m, modes.FromOperator, "set by the operator")
}
