package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/agent/config"
)

// TestFailClosedPolicyBeforeDataplane: in fail-closed mode the policy is in
// force in the Decider before the dataplane starts (and so before any
// packet can be queued): the configured policy at a first start; after the
// policy file broke, the last good policy from the state directory; with
// neither, the dataplane never starts.
func TestFailClosedPolicyBeforeDataplane(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Metrics.Listen = ""
	cfg.FailMode = config.FailClosed
	cfg.Policy = filepath.Join(dir, "policy.yaml")
	const want = "rules [frontend-to-api api-to-db] modes [api=protect db=protect frontend=learn] default learn"

	start := func() (*Agent, *fakeDataplane, error) {
		t.Helper()
		dp := newFakeDataplane()
		a, err := New(fakeOptions(cfg, nil, dp, newFakeContainers()))
		if err != nil {
			t.Fatal(err)
		}
		return a, dp, a.Start(ctx)
	}
	for _, step := range []struct {
		name      string
		policy    string // written to the policy file first
		fromState bool   // the status says the policy came from the state directory
	}{
		{"the configured policy", wiringPolicy, false},
		{"the last good policy after the file broke", "spec: {rules: [{from: nowhere}]\n", true},
	} {
		if err := os.WriteFile(cfg.Policy, []byte(step.policy), 0o644); err != nil {
			t.Fatal(err)
		}
		a, dp, err := start()
		if err != nil {
			t.Fatalf("%s: Start: %v", step.name, err)
		}
		if dp.atStart != want {
			t.Errorf("%s: in force when the dataplane started: %q, want %q", step.name, dp.atStart, want)
		}
		if info := a.policyInfo(); !info.Loaded || info.FromState != step.fromState {
			t.Errorf("%s: policy %+v, want loaded, from the state directory: %v", step.name, info, step.fromState)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// No last good policy either: Start fails before the dataplane starts.
	if err := os.Remove(filepath.Join(cfg.StateDir, "policy.json")); err != nil {
		t.Fatal(err)
	}
	a, dp, err := start()
	if err == nil || !strings.Contains(err.Error(), "fail-closed and no usable policy") {
		t.Errorf("Start without a usable policy: %v", err)
	}
	a.Close()
	if dp.started || dp.atStart != "" {
		t.Errorf("the dataplane started (with %q) without a usable policy in fail-closed mode", dp.atStart)
	}
}
