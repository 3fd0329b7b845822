package promote

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/policy"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

func TestPromotion(t *testing.T) {
	c := &clock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	p := New(c.Now)
	modes := map[string]policy.Mode{"api": policy.ModeLearn, "db": policy.ModeMonitor, "web": policy.ModeLearn, "fixed": policy.ModeLearn}
	current := func(g string) (policy.Mode, bool) { m, ok := modes[g]; return m, ok }
	p.Configure([]policy.GroupMode{
		{Group: "api", AutoPromote: &policy.AutoPromote{After: 24 * time.Hour, To: policy.ModeProtect}},
		{Group: "db", AutoPromote: &policy.AutoPromote{After: time.Hour, To: policy.ModeProtect}},
		{Group: "web", AutoPromote: &policy.AutoPromote{After: time.Hour, To: policy.ModeMonitor}},
		{Group: "fixed"},
	})
	apply := func(moves []Move) []string {
		var out []string
		for _, m := range moves {
			modes[m.Group] = m.To
			out = append(out, m.Group+" "+m.From.String()+"→"+m.To.String())
		}
		return out
	}
	steps := []struct {
		advance time.Duration
		events  func()
		want    []string
	}{
		{30 * time.Minute, nil, nil},
		{30 * time.Minute, func() { p.NewEdge("web") }, []string{"db monitor→protect"}}, // web's quiet period restarts at 0:30
		{30 * time.Minute, nil, []string{"web learn→monitor"}},
		{30 * time.Minute, nil, nil},
		{2 * time.Hour, func() { p.Violation("api", "unconfigured") }, nil}, // at 2:00
		{21 * time.Hour, nil, nil},
		{time.Hour, nil, []string{"api learn→monitor"}},
		{24 * time.Hour, nil, []string{"api monitor→protect"}},
		{48 * time.Hour, nil, nil}, // everything at its target
	}
	for i, s := range steps {
		if s.events != nil {
			s.events()
		}
		c.advance(s.advance)
		if d := cmp.Diff(s.want, apply(p.Due(current))); d != "" {
			t.Errorf("step %d (-want +got):\n%s", i, d)
		}
	}
	h := p.History()
	if len(h) != 4 {
		t.Fatalf("history %v", h)
	}
	want := "2026-03-01T01:00:00Z db: monitor → protect: no new edge and no violation for 1h (since 2026-03-01T00:00:00Z, last: auto-promotion configured)"
	if h[0].String() != want {
		t.Errorf("move\n%s\nwant\n%s", h[0], want)
	}
	if h[2].Reason != "no new edge and no violation for 1d (since 2026-03-01T02:00:00Z, last: violation at 2026-03-01T02:00:00Z)" {
		t.Errorf("reason %q", h[2].Reason)
	}
	if h[3].Reason != "no new edge and no violation for 1d (since 2026-03-02T02:00:00Z, last: promoted to monitor at 2026-03-02T02:00:00Z)" {
		t.Errorf("reason %q", h[3].Reason)
	}
	// The agent reports edges and violations from the packet path.
	if n := testing.AllocsPerRun(100, func() { p.Violation("api", "db"); p.NewEdge("web") }); n != 0 {
		t.Errorf("Violation and NewEdge allocate %v times per call", n)
	}
}

func TestModeSetAndReconfigure(t *testing.T) {
	c := &clock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	p := New(c.Now)
	cfg := []policy.GroupMode{{Group: "api", AutoPromote: &policy.AutoPromote{After: time.Hour, To: policy.ModeProtect}}}
	p.Configure(cfg)
	c.advance(50 * time.Minute)
	p.Configure(cfg) // a reload keeps the quiet period
	if left, ok := p.Remaining("api"); !ok || left != 10*time.Minute {
		t.Errorf("Remaining = %v, %v", left, ok)
	}
	p.ModeSet("api")
	if left, _ := p.Remaining("api"); left != time.Hour {
		t.Errorf("after ModeSet Remaining = %v", left)
	}
	p.Configure(nil)
	if _, ok := p.Remaining("api"); ok {
		t.Error("unconfigured group still tracked")
	}
	c.advance(2 * time.Hour)
	if m := p.Due(func(string) (policy.Mode, bool) { return policy.ModeLearn, true }); len(m) != 0 {
		t.Errorf("moves for an unconfigured group: %v", m)
	}
}
