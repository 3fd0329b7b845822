package agent

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/flowtable"
)

// TestFlowVerdictFilter: the API's verdict filter accepts exactly the
// verdicts the flow table gives flows (what GET /v1/flows reports).
func TestFlowVerdictFilter(t *testing.T) {
	var got []string
	for v := flowtable.Verdict(0); !strings.HasPrefix(v.String(), "verdict("); v++ {
		got = append(got, v.String())
	}
	if diff := cmp.Diff(got, api.FlowVerdicts); diff != "" {
		t.Errorf("api.FlowVerdicts differ from the flow table's verdicts (-table +api):\n%s", diff)
	}
}
