package learn

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSelectorLabels: labels that name one instance (a replica, the
// network namespace of one run) stay out of selectors.
func TestSelectorLabels(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   map[string]string
	}{
		{"plain", map[string]string{"app": "api", "tier": "web"}, map[string]string{"app": "api", "tier": "web"}},
		{"replica hash", map[string]string{"app": "api", "pod-template-hash": "7d9f"}, map[string]string{"app": "api"}},
		{"network namespace of the run", map[string]string{"app": "api", "bulkhead.dev/netns": "bh-4242x1-api"}, map[string]string{"app": "api"}},
		{"only per-instance labels", map[string]string{"bulkhead.dev/netns": "bh-4242x1-api", "bulkhead.dev/workload": "api"}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, selectorLabels(tt.labels)); diff != "" {
				t.Errorf("selectorLabels (-want +got):\n%s", diff)
			}
		})
	}
}
