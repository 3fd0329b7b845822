package learn

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/policy"
)

// TestSelectorDisambiguation: when a workload's labels alone would also
// select another workload of the graph, its generated selector adds its
// name (policy.WorkloadLabel), so that every group selects exactly its own
// workload among the graph's; a workload whose labels are unique keeps
// them alone.
func TestSelectorDisambiguation(t *testing.T) {
	tests := []struct {
		name      string
		workloads []WorkloadInfo
		byName    []string // the workloads whose selector must use their name
	}{
		{"labels of one are a subset of another's", []WorkloadInfo{
			{"db", map[string]string{"tier": "data"}},
			{"cache", map[string]string{"tier": "data", "kind": "cache"}},
		}, []string{"db"}},
		{"identical labels", []WorkloadInfo{
			{"blue", map[string]string{"app": "shop"}},
			{"green", map[string]string{"app": "shop"}},
		}, []string{"blue", "green"}},
		{"identical once per-instance labels are left out", []WorkloadInfo{
			{"a", map[string]string{"app": "shop", "pod-template-hash": "1"}},
			{"b", map[string]string{"app": "shop", "pod-template-hash": "2"}},
		}, []string{"a", "b"}},
		{"only per-instance labels", []WorkloadInfo{
			{"job1", map[string]string{"controller-uid": "x"}},
			{"job2", nil},
		}, []string{"job1", "job2"}},
		{"one label shared by three", []WorkloadInfo{
			{"team", map[string]string{"team": "t"}},
			{"team-api", map[string]string{"team": "t", "app": "api"}},
			{"team-web", map[string]string{"team": "t", "app": "web"}},
		}, []string{"team"}},
		{"distinct labels", []WorkloadInfo{
			{"api", map[string]string{"app": "api", "tier": "web"}},
			{"web", map[string]string{"app": "web", "tier": "web"}},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol, err := Generate(Snapshot{Version: SnapshotVersion, Workloads: tt.workloads}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var byName []string
			for _, w := range tt.workloads {
				g := pol.Group(w.Name)
				if g == nil || g.Kind != policy.GroupSelector {
					t.Fatalf("no selector group for workload %s", w.Name)
				}
				if g.Selector.MatchLabels[policy.WorkloadLabel] != "" {
					byName = append(byName, w.Name)
				}
				for _, other := range tt.workloads {
					if got, want := g.Selector.Matches(other.Name, other.Labels), other.Name == w.Name; got != want {
						t.Errorf("group %s (%s) selects %s: %v, want %v", g.Name, g.Selector, other.Name, got, want)
					}
				}
			}
			want := slices.Clone(tt.byName)
			slices.Sort(want)
			slices.Sort(byName)
			if d := cmp.Diff(want, byName); d != "" {
				t.Errorf("workloads selected by name (-want +got):\n%s", d)
			}
		})
	}
}
