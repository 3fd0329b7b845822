package scenario_test

import (
	"context"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/testenv"
	"bulkhead.dev/bulkhead/testenv/scenario"
)

// newWorld builds the shop for a test and removes it when the test ends.
func newWorld(t *testing.T) *scenario.World {
	t.Helper()
	testenv.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := scenario.Build(ctx, scenario.Config{Bin: bulkheadBin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() && w.Agent != nil {
			t.Logf("agent log (last lines):\n%s", w.Agent.LogTail(60))
		}
		if err := w.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return w
}

// TestBaselineAttacksSucceed runs every attack with no agent: each must
// reach its target. This is what makes "blocked" mean something in the
// other tests: the attacks are real, and the way the scenario tells whether
// they reached their target works.
func TestBaselineAttacksSucceed(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, a := range w.Attacks() {
		o, err := w.RunAttack(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-20s %s: reached %d/%d; %s", a.ID, a.Title, o.Reached, o.Probes, o.Client)
		if o.Blocked || o.Reached == 0 {
			t.Errorf("%s: without an agent nothing reached the target: %s", a.ID, o.Client)
		}
		if o.Reported || len(o.Events) > 0 {
			t.Errorf("%s: events without an agent: %v", a.ID, o.Events)
		}
		if !o.After.OK {
			t.Errorf("%s: the normal order afterwards failed: %s", a.ID, o.After)
		}
	}
	for _, r := range w.Learn(ctx, 2) {
		if !r.OK {
			t.Errorf("normal traffic: %s", r)
		}
	}
}
