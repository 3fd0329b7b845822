package scenario_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/events"
)

// TestEventsDocExamples: the example events of docs/events.md are events
// the agent writes today: they decode as events.Event with no unknown field,
// and each is, field by field, the drop TestScenario expects for the
// attack it shows (the shop's api is 198.18.0.11).
func TestEventsDocExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	attacks := []string{"lateral-frontend", "http-admin"} // in the page's order
	want := wantDrops(netip.MustParseAddr("198.18.0.11"))
	var n int
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "    {") {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(strings.TrimSpace(line))))
		dec.DisallowUnknownFields()
		var ev events.Event
		if err := dec.Decode(&ev); err != nil {
			t.Errorf("example %d does not decode as an event: %v\n%s", n+1, err, line)
			continue
		}
		if n >= len(attacks) {
			t.Errorf("example %d: no expectation for it (update the test): %s", n+1, line)
			continue
		}
		wd := want[attacks[n]]
		if diff := cmp.Diff(wd.want, dropOf(&ev)); diff != "" {
			t.Errorf("example %d is not the drop of %s the agent writes (-want +doc):\n%s", n+1, attacks[n], diff)
		}
		if r := wd.reason(&ev); ev.Reason != r {
			t.Errorf("example %d: reason %q, the agent's is %q", n+1, ev.Reason, r)
		}
		n++
	}
	if n != len(attacks) {
		t.Errorf("docs/events.md shows %d example events, want %d", n, len(attacks))
	}
}
