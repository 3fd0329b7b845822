package agent

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/internal/fakeclock"
	"bulkhead.dev/bulkhead/agent/modes"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/netns"
	"bulkhead.dev/bulkhead/policy/learn"
)

const wiringPolicy = `apiVersion: bulkhead.dev/v1alpha1
kind: Policy
metadata: {name: t}
spec:
  groups:
    - {name: frontend, selector: {matchLabels: {bulkhead.dev/workload: frontend}}, mode: learn,
       autoPromote: {after: 1h, to: monitor}}
    - {name: api, selector: {matchLabels: {bulkhead.dev/workload: api}}, mode: protect}
    - {name: db, selector: {matchLabels: {bulkhead.dev/workload: db}}, mode: protect}
  rules:
    - {name: frontend-to-api, from: frontend, to: api, ports: [tcp/8080]}
    - {name: api-to-db, from: api, to: db, ports: [tcp/6379], app: redis, redis: [{command: GET}]}
`

var (
	feIP  = netip.MustParseAddr("198.18.0.10")
	apiIP = netip.MustParseAddr("198.18.0.11")
	dbIP  = netip.MustParseAddr("198.18.0.12")
)

// syn sends a connection's first packet through the Decider the agent gave
// the dataplane.
func syn(dp *fakeDataplane, c, s netip.Addr, cport, sport uint16, now time.Time) dataplane.Verdict {
	return dp.cfg.Decider.Decide(&dataplane.Packet{Family: dataplane.IPv4, Proto: dataplane.ProtoTCP, Src: c, Dst: s,
		SrcPort: cport, DstPort: sport, TCPFlags: dataplane.TCPSyn, Seq: 1, Len: 60, Time: now})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWiring drives the assembled agent with a fake dataplane and
// container source and the real policy engine and Decider: containers are
// named and attached, policy and mode changes reach the decisions, the
// learned graph persists, auto-promotion moves a group, and Close removes
// every rule.
func TestWiring(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Policy = filepath.Join(dir, "policy.yaml")
	cfg.Identity.NetNS.StripPrefixes = []string{"bh-t-"}
	if err := os.WriteFile(cfg.Policy, []byte(wiringPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	clk := fakeclock.New()
	dp := newFakeDataplane()
	cs := newFakeContainers(container("veth-fe", "bh-t-frontend", "198.18.0.10"), container("veth-api", "bh-t-api", "198.18.0.11"))
	opts := fakeOptions(cfg, nil, dp, cs)
	opts.Now = clk.Now
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c, err := api.NewClient(cfg.API.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"attach veth-fe [198.18.0.10/32]", "attach veth-api [198.18.0.11/32]", "start [veth-api veth-fe]"}, dp.events()); diff != "" {
		t.Errorf("dataplane calls (-want +got):\n%s", diff)
	}
	if dp.cfg.Marks != dataplane.DefaultMarks || dp.cfg.Queues != cfg.Queues || dp.cfg.QueueLen != queueLen {
		t.Errorf("dataplane config %+v", dp.cfg)
	}

	// A container appears while the agent runs: named, then attached.
	cs.ch <- netns.Event{Type: netns.Added, Container: container("veth-db", "bh-t-db", "198.18.0.12")}
	waitUntil(t, "db attached", func() bool { return len(dp.Veths()) == 3 })
	wl, err := c.Workloads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range wl {
		names = append(names, w.Name+":"+strings.Join(w.Groups, ",")+":"+w.Mode)
	}
	if diff := cmp.Diff([]string{"api:api:protect", "db:db:protect", "frontend:frontend:learn"}, names); diff != "" {
		t.Errorf("workloads (-want +got):\n%s", diff)
	}

	// Protect: api → db needs the Redis command (queued); frontend in
	// learn mode goes anywhere but db is protected.
	now := clk.Now()
	if v := syn(dp, apiIP, dbIP, 40001, 6379, now); v != dataplane.Accept {
		t.Errorf("api → db SYN: %v, want accept (waiting for the command)", v)
	}
	if v := syn(dp, feIP, dbIP, 40002, 6379, now); v != dataplane.Deny {
		t.Errorf("frontend → db: %v, want deny (db is protected)", v)
	}
	if v := syn(dp, feIP, apiIP, 40003, 8080, now); v != dataplane.Allow {
		t.Errorf("frontend → api: %v, want allow", v)
	}

	// The operator protects frontend: its egress to the world is now denied.
	if _, err := c.SetMode(ctx, "frontend", "protect"); err != nil {
		t.Fatal(err)
	}
	if v := syn(dp, feIP, netip.MustParseAddr("198.19.1.9"), 40004, 443, now); v != dataplane.Deny {
		t.Errorf("frontend → world after protect: %v, want deny", v)
	}
	if _, err := c.SetMode(ctx, "frontend", "learn"); err != nil {
		t.Fatal(err)
	}

	// Learning in learn mode is saved with the state.
	if v := syn(dp, feIP, netip.MustParseAddr("198.19.1.9"), 40005, 443, now); v != dataplane.Accept {
		t.Errorf("frontend → world in learn mode: %v, want accept", v)
	}
	dp.cfg.Decider.Decide(&dataplane.Packet{Family: dataplane.IPv4, Proto: dataplane.ProtoTCP, Src: feIP, Dst: netip.MustParseAddr("198.19.1.9"),
		SrcPort: 40005, DstPort: 443, TCPFlags: dataplane.TCPFin | dataplane.TCPAck, Seq: 2, Len: 40, Time: now})
	g, err := c.GraphWithVerdicts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var gv struct {
		Graph    learn.Snapshot `json:"graph"`
		Verdicts []struct {
			Src     learn.Peer `json:"src"`
			Allowed uint64     `json:"allowed"`
			Denied  uint64     `json:"denied"`
		} `json:"verdicts"`
	}
	if err := json.Unmarshal(g, &gv); err != nil {
		t.Fatalf("graph with verdicts: %v\n%s", err, g)
	}
	if len(gv.Graph.Edges) != 1 || gv.Graph.Edges[0].Dst != learn.Addr(netip.MustParseAddr("198.19.1.9")) {
		t.Errorf("learned edges %+v, want frontend → 198.19.1.9", gv.Graph.Edges)
	}
	denied := uint64(0)
	for _, v := range gv.Verdicts {
		denied += v.Denied
	}
	if denied != 2 {
		t.Errorf("denied connections in the verdict counts: %d, want 2\n%s", denied, g)
	}

	// Auto-promotion: an hour without new edges or violations.
	clk.Advance(61 * time.Minute)
	a.promote()
	if m, _ := a.Modes().Mode("frontend"); m != modes.Monitor {
		t.Errorf("frontend after its quiet period: %v, want monitor", m)
	}

	// The container goes: detached, forgotten.
	cs.ch <- netns.Event{Type: netns.Removed, Container: container("veth-db", "bh-t-db", "198.18.0.12")}
	waitUntil(t, "db detached", func() bool { return len(dp.Veths()) == 2 })

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if ev := dp.events(); ev[len(ev)-1] != "close: every rule removed" {
		t.Errorf("dataplane calls end with %q", ev[len(ev)-1])
	}
	var types []string
	for _, e := range readEvents(t, cfg.EventsFile()) {
		types = append(types, string(e.Type))
	}
	want := []string{"agent_start", "policy_reload", "drop", "mode_change", "drop", "mode_change", "learned", "promotion", "agent_stop"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	// A restart restores the graph and the promoted mode.
	dp2 := newFakeDataplane()
	opts2 := fakeOptions(cfg, nil, dp2, newFakeContainers(container("veth-fe", "bh-t-frontend", "198.18.0.10")))
	a2, err := New(opts2)
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if n := len(a2.graph.Snapshot().Edges); n != 1 {
		t.Errorf("edges after restart: %d, want 1", n)
	}
	if m, _ := a2.Modes().Mode("frontend"); m != modes.Monitor {
		t.Errorf("frontend after restart: %v, want monitor (promoted)", m)
	}
	if v := syn(dp2, feIP, netip.MustParseAddr("198.19.1.10"), 40006, 443, time.Now()); v != dataplane.Allow {
		t.Errorf("frontend → world in monitor mode: %v, want allow (reported)", v)
	}
}

func readEvents(t *testing.T, path string) []events.Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Event
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e events.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}
