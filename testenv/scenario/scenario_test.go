package scenario_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/testenv/scenario"
)

// TestScenario runs the whole demo against the real agent binary: learn
// the shop's traffic, generate the policy from the learned graph, load it,
// protect every group, then run every attack and check that it is blocked
// (nothing reached the target), reported (the agent's event log has a drop
// event about it, checked field by field) and that normal orders still go
// through; finally SIGTERM must leave no rule behind. It doubles as an
// end-to-end test of the product.
func TestScenario(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	st, err := w.StartAgent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rules == 0 {
		t.Errorf("the agent is ready but has no BULKHEAD rule in the node")
	}

	for _, r := range w.Learn(ctx, 3) {
		if !r.OK {
			t.Errorf("learn mode: %s", r)
		}
	}
	learned, err := w.FetchGraph(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var edges []string
	for i := range learned.Graph.Edges {
		edges = append(edges, scenario.EdgeString(&learned.Graph.Edges[i]))
	}
	if d := cmp.Diff(scenario.WantEdges, edges, sortStrings); d != "" {
		t.Errorf("learned edges (-want +got):\n%s", d)
	}
	// One learned event per new edge, no more.
	var learnedEvents []string
	for i := range learned.Events {
		learnedEvents = append(learnedEvents, scenario.EventEdge(&learned.Events[i]))
	}
	if d := cmp.Diff(scenario.WantEdges, learnedEvents, sortStrings); d != "" {
		t.Errorf("learned events (-want +got):\n%s", d)
	}

	gen, err := w.GeneratePolicy(ctx, learned)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated policy:\n%s", gen.YAML)
	checkPolicy(t, gen.YAML)
	if _, err := w.LoadPolicy(ctx, gen); err != nil {
		t.Fatal(err)
	}
	if r := w.Check(ctx); !r.OK {
		t.Errorf("the loaded policy (not yet protecting) breaks a normal order: %s", r)
	}
	switched, err := w.Protect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, r := range switched {
		groups = append(groups, r.Command)
	}
	want := []string{"bulkhead mode api protect", "bulkhead mode db protect", "bulkhead mode dns protect", "bulkhead mode frontend protect"}
	if d := cmp.Diff(want, groups, sortStrings); d != "" {
		t.Errorf("mode switches (-want +got):\n%s", d)
	}
	for _, r := range w.Learn(ctx, 1) {
		if !r.OK {
			t.Errorf("protect mode breaks the normal traffic: %s", r)
		}
	}

	for _, a := range w.Attacks() {
		o, err := w.RunAttack(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-20s reached %d/%d; %s; %d events", a.ID, o.Reached, o.Probes, o.Client, len(o.Events))
		if !o.Blocked {
			t.Errorf("%s (%s): not blocked: %d of %d probes reached the target; the client saw: %s", a.ID, a.Title, o.Reached, o.Probes, o.Client)
		}
		if !o.Reported {
			t.Errorf("%s (%s): no drop event in the agent's log", a.ID, a.Title)
		} else if len(o.Events) != o.Probes {
			// Every drop is an event (docs/events.md), one per probe.
			t.Errorf("%s: %d drop events for %d blocked probes", a.ID, len(o.Events), o.Probes)
		}
		checkDrops(t, w, &o)
		if !o.After.OK {
			t.Errorf("%s: the normal order after the attack failed: %s", a.ID, o.After)
		}
	}

	// The graph with the agent's verdicts tells what happened.
	g, _, err := w.Graph(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkGraphVerdicts(t, g)

	stopped, err := w.StopAgent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stopped.ExitCode != 0 || len(stopped.RulesLeft) > 0 || stopped.SocketLeft {
		t.Errorf("after SIGTERM: exit status %d, rules left %q, socket left %v; want 0, none, false", stopped.ExitCode, stopped.RulesLeft, stopped.SocketLeft)
	}
}

var sortStrings = cmp.Transformer("sort", func(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
})

// checkPolicy checks that the generated policy has one rule per learned
// edge, with L7 conditions.
func checkPolicy(t *testing.T, yaml string) {
	t.Helper()
	pol, err := policy.Parse("shop.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("the generated policy does not parse: %v", err)
	}
	var got []string
	for _, r := range pol.Rules {
		got = append(got, fmt.Sprintf("%s → %s %s l7=%v", r.From, r.To, r.AppString(), r.Kind != policy.KindNone))
	}
	want := []string{
		"frontend → api http l7=true",
		"api → db redis l7=true",
		"api → dns dns l7=true",
		"api → payments.example.com tls l7=true",
	}
	if d := cmp.Diff(want, got, sortStrings); d != "" {
		t.Errorf("generated rules (-want +got):\n%s", d)
	}
}
