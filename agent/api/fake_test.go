package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/modes"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeBackend is an in-memory agent.
type fakeBackend struct {
	mu        sync.Mutex
	ready     []Check
	flows     []Flow
	graph     json.RawMessage
	policy    Policy
	reloadErr error
	modes     *modes.Table
}

func newFake() *fakeBackend {
	tab := modes.New(modes.Learn, func() time.Time { return t0 })
	tab.SetPolicy(modes.Learn, map[string]modes.Mode{"api": modes.Unset, "db": modes.Monitor})
	ep := func(w, ip string, port uint16) events.Endpoint {
		return events.Endpoint{Workload: w, Kind: "local", IP: netip.MustParseAddr(ip), Port: port}
	}
	return &fakeBackend{
		ready: []Check{{Name: "policy", OK: true, Detail: "3 rules"}, {Name: "dataplane", OK: true}},
		flows: []Flow{
			{ID: "0000000000000001", Src: ep("frontend", "198.18.0.10", 41000), Dst: ep("api", "198.18.0.11", 8080), Proto: "tcp", App: "http", Verdict: "allow", LastSeen: t0.Add(3 * time.Second)},
			{ID: "0000000000000002", Src: ep("api", "198.18.0.11", 41001), Dst: ep("db", "198.18.0.12", 6379), Proto: "tcp", App: "redis", Verdict: "allow", LastSeen: t0.Add(2 * time.Second)},
			{ID: "0000000000000003", Src: ep("frontend", "198.18.0.10", 41002), Dst: ep("db", "198.18.0.12", 6379), Proto: "tcp", App: "redis", Verdict: "deny", Reason: "no rule", LastSeen: t0.Add(1 * time.Second)},
			{ID: "0000000000000004", Src: ep("api", "198.18.0.11", 5353), Dst: events.Endpoint{Workload: "world", Kind: "world", IP: netip.MustParseAddr("2001:2:0:100::9"), Port: 53}, Proto: "udp", App: "dns", Verdict: "allow", LastSeen: t0},
		},
		policy: Policy{
			PolicyInfo: PolicyInfo{Loaded: true, Source: "/etc/bulkhead/policy/", Files: []string{"/etc/bulkhead/policy/a.yaml"}, Groups: 2, Rules: 3, LoadedAt: t0},
			Sources:    []PolicySource{{Name: "/etc/bulkhead/policy/a.yaml", Content: "kind: Policy\n"}},
		},
		modes: tab,
	}
}

func (f *fakeBackend) Status(context.Context) (Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Status{Node: "node-1", Version: "test", Started: t0, FailMode: "open", DefaultMode: "learn", Queues: 2,
		Ready: true, Checks: f.ready, Workloads: 3, Policy: f.policy.PolicyInfo,
		Flows: FlowStats{Active: len(f.flows), Limit: 100, Created: 9, Evicted: map[string]uint64{"idle": 5}}}, nil
}

func (f *fakeBackend) Ready(context.Context) []Check {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

func (f *fakeBackend) Workloads(context.Context) ([]Workload, error) {
	return []Workload{{Name: "api", Kind: "local", Source: "netns", Interface: "veth1", Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.11")}, Mode: "learn"}}, nil
}

func (f *fakeBackend) Flows(_ context.Context, ff FlowFilter) ([]Flow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Flow
	for i := range f.flows {
		if ff.Match(&f.flows[i]) {
			out = append(out, f.flows[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	if len(out) > ff.Limit {
		out = out[:ff.Limit]
	}
	return out, nil
}

func (f *fakeBackend) Graph(_ context.Context, verdicts bool) (json.RawMessage, error) {
	if f.graph == nil {
		return nil, fmt.Errorf("no learned graph yet: %w", ErrUnavailable)
	}
	if verdicts {
		return json.RawMessage(`{"graph":` + string(f.graph) + `,"verdicts":[]}`), nil
	}
	return f.graph, nil
}

func (f *fakeBackend) Policy(context.Context) (Policy, error) { return f.policy, nil }

func (f *fakeBackend) ReloadPolicy(context.Context) (PolicyInfo, error) {
	if f.reloadErr != nil {
		return PolicyInfo{}, f.reloadErr
	}
	return f.policy.PolicyInfo, nil
}

func (f *fakeBackend) Modes(context.Context) ([]modes.Entry, error) { return f.modes.List(), nil }

func (f *fakeBackend) SetMode(_ context.Context, group string, m modes.Mode) (modes.Entry, error) {
	if _, err := f.modes.Set(group, m, modes.FromOperator); err != nil {
		return modes.Entry{}, err
	}
	for _, e := range f.modes.List() {
		if e.Group == group {
			return e, nil
		}
	}
	return modes.Entry{}, ErrNotFound
}
