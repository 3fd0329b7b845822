package metrics_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/metrics"
)

// modes returns the exported group → mode → value of the mode gauge.
func modes(t *testing.T, m *metrics.Metrics) map[string]map[string]float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "bulkhead_policy_group_mode" {
			continue
		}
		for _, s := range mf.GetMetric() {
			var group, mode string
			for _, l := range s.GetLabel() {
				switch l.GetName() {
				case "group":
					group = l.GetValue()
				case "mode":
					mode = l.GetValue()
				}
			}
			if out[group] == nil {
				out[group] = map[string]float64{}
			}
			out[group][mode] = s.GetGauge().GetValue()
		}
	}
	return out
}

func TestPolicyModes(t *testing.T) {
	now := time.Unix(1700000000, 500e6)
	m := newMetrics(t, metrics.Options{MaxGroups: 3, Now: func() time.Time { return now }})
	m.PolicyLoaded(7, map[string]string{"web": "protect", "api": "monitor", "db": "learn", "zz1": "protect", "zz2": "bogus"})
	want := map[string]map[string]float64{
		"api":   {"monitor": 1},
		"db":    {"learn": 1},
		"web":   {"protect": 1},
		"other": {"protect": 1, "unknown": 1}, // zz1 and zz2 are past the cap of 3 groups
	}
	if diff := cmp.Diff(want, modes(t, m)); diff != "" {
		t.Errorf("after load (-want +got):\n%s", diff)
	}
	reg := m.Registry()
	for name, v := range map[string]float64{
		"bulkhead_policy_rules":                                 7,
		"bulkhead_policy_last_reload_successful":                1,
		"bulkhead_policy_last_reload_success_timestamp_seconds": 1700000000.5,
	} {
		if got := counterValue(t, reg, name, nil); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}

	m.SetGroupMode("db", "monitor")
	m.SetGroupMode("zz2", "protect")
	m.SetGroupMode("new", "learn") // past the cap too
	want = map[string]map[string]float64{
		"api":   {"monitor": 1},
		"db":    {"monitor": 1},
		"web":   {"protect": 1},
		"other": {"protect": 2, "learn": 1},
	}
	if diff := cmp.Diff(want, modes(t, m)); diff != "" {
		t.Errorf("after mode changes (-want +got):\n%s", diff)
	}

	m.PolicyLoadFailed()
	if got := counterValue(t, reg, "bulkhead_policy_last_reload_successful", nil); got != 0 {
		t.Errorf("last_reload_successful = %v after a failure, want 0", got)
	}
	for result, want := range map[string]float64{"success": 1, "failure": 1} {
		if got := counterValue(t, reg, "bulkhead_policy_reloads_total", map[string]string{"result": result}); got != want {
			t.Errorf("reloads %s = %v, want %v", result, got, want)
		}
	}
	// A reload replaces the modes: groups gone from the policy disappear.
	m.PolicyLoaded(1, map[string]string{"web": "monitor"})
	want = map[string]map[string]float64{"web": {"monitor": 1}}
	if diff := cmp.Diff(want, modes(t, m)); diff != "" {
		t.Errorf("after reload (-want +got):\n%s", diff)
	}
}

func TestViolations(t *testing.T) {
	m := newMetrics(t, metrics.Options{MaxGroups: 1})
	m.Violation("web", "protect", metrics.ReasonNoRule)
	m.Violation("web", "protect", metrics.ReasonNoRule)
	m.Violation("", "weird", metrics.ViolationReason(77))
	reg := m.Registry()
	for _, tt := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"group": "web", "mode": "protect", "reason": "no_rule"}, 2},
		{map[string]string{"group": "none", "mode": "unknown", "reason": "unknown"}, 1},
	} {
		if got := counterValue(t, reg, "bulkhead_policy_violations_total", tt.labels); got != tt.want {
			t.Errorf("%v = %v, want %v", tt.labels, got, tt.want)
		}
	}
	// The cap is MaxGroups × modes × reasons series; fill it, then a new
	// group folds into "other".
	for i := range 40 {
		m.Violation("web", []string{"learn", "monitor", "protect", "x"}[i%4], metrics.ViolationReason(i/4%7))
	}
	m.Violation("late", "protect", metrics.ReasonL7)
	if got := counterValue(t, reg, "bulkhead_policy_violations_total", map[string]string{"group": "other", "mode": "protect", "reason": "l7"}); got != 1 {
		t.Errorf("late group not folded into other: %v", got)
	}
}

func TestViolationReasonString(t *testing.T) {
	want := []string{"no_rule", "app", "l7", "dns_name", "inspection_limit", "malformed", "unknown"}
	var got []string
	for r := range metrics.ViolationReason(7) {
		got = append(got, r.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
}

func TestLearning(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	m.EdgeLearned()
	m.EdgeLearned()
	m.SetLearnedEdges(17)
	reg := m.Registry()
	if got := counterValue(t, reg, "bulkhead_learning_edges_added_total", nil); got != 2 {
		t.Errorf("edges added = %v, want 2", got)
	}
	if got := counterValue(t, reg, "bulkhead_learning_graph_edges", nil); got != 17 {
		t.Errorf("graph edges = %v, want 17", got)
	}
}
