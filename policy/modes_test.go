package policy

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/l7"
)

func TestModesAndOverrides(t *testing.T) {
	plan := loadPlan(t, "testdata/shop.yaml")
	got := func(p *Plan) map[string]string {
		m := map[string]string{"(default)": p.DefaultMode().String()}
		for _, g := range p.Modes() {
			s := g.Mode.String()
			if g.Overridden {
				s += " (override)"
			}
			m[g.Group] = s
		}
		return m
	}
	want := map[string]string{"(default)": "monitor", "frontend": "protect", "api": "monitor", "db": "monitor", "dns-server": "monitor"}
	if d := cmp.Diff(want, got(plan)); d != "" {
		t.Errorf("modes (-want +got):\n%s", d)
	}
	p2, err := plan.WithMode("api", ModeProtect)
	if err != nil {
		t.Fatal(err)
	}
	p3, err := p2.WithDefaultMode(ModeLearn)
	if err != nil {
		t.Fatal(err)
	}
	want2 := map[string]string{"(default)": "learn", "frontend": "protect", "api": "protect (override)", "db": "learn", "dns-server": "learn"}
	if d := cmp.Diff(want2, got(p3)); d != "" {
		t.Errorf("modes after overrides (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, got(plan)); d != "" {
		t.Errorf("the original plan changed (-want +got):\n%s", d)
	}
	for _, bad := range []string{"corp", "world", "nope"} {
		if _, err := plan.WithMode(bad, ModeProtect); err == nil {
			t.Errorf("WithMode(%q): want an error", bad)
		}
	}
	// Overrides carry over to a reloaded plan; unknown groups are reported.
	o := p3.Overrides()
	o.Groups["gone"] = ModeProtect
	reloaded, unknown := loadPlan(t, "testdata/shop.yaml").WithOverrides(o)
	if d := cmp.Diff(want2, got(reloaded)); d != "" {
		t.Errorf("modes after reload (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"gone"}, unknown); d != "" {
		t.Errorf("unknown groups (-want +got):\n%s", d)
	}
	// Effective mode: the most enforcing local endpoint wins; a local
	// workload in no group has the default mode.
	fe := plan.Workload(Workload{Name: "fe", Labels: map[string]string{"app": "frontend"}}, true)
	api := plan.Workload(Workload{Name: "api", Labels: map[string]string{"app": "api"}}, true)
	stray := plan.Workload(Workload{Name: "stray"}, true)
	for _, tt := range []struct {
		p        *Plan
		src, dst Endpoint
		want     Mode
	}{
		{plan, fe, api, ModeProtect},
		{plan, api, fe, ModeProtect},
		{plan, api, stray, ModeMonitor},
		{p3, api, stray, ModeProtect},
		{p3, stray, plan.Host(), ModeLearn},
	} {
		d := tt.p.Evaluate(&Flow{Src: tt.src, Dst: tt.dst, Proto: l7.TCP, Port: 1})
		if d.Mode != tt.want {
			t.Errorf("%s → %s: mode %v, want %v", tt.src, tt.dst, d.Mode, tt.want)
		}
	}
}

func TestDecisionActions(t *testing.T) {
	for _, tt := range []struct {
		d            Decision
		drop, report bool
	}{
		{Decision{Verdict: Violation, Mode: ModeProtect}, true, true},
		{Decision{Verdict: Violation, Mode: ModeMonitor}, false, true},
		{Decision{Verdict: Violation, Mode: ModeLearn}, false, false},
		{Decision{Verdict: Allowed, Mode: ModeProtect}, false, false},
		{Decision{Verdict: Pending, Mode: ModeProtect}, false, false},
	} {
		if tt.d.Drop() != tt.drop || tt.d.Report() != tt.report {
			t.Errorf("%v/%v: drop %v report %v", tt.d.Verdict, tt.d.Mode, tt.d.Drop(), tt.d.Report())
		}
	}
}

func TestStaleEndpointsAfterReload(t *testing.T) {
	old := loadPlan(t, "testdata/shop.yaml")
	fe := old.Workload(Workload{Name: "fe", Labels: map[string]string{"app": "frontend"}}, true)
	ext := old.Addr(netip.MustParseAddr("198.18.1.1"))
	pol, err := Parse("new.yaml", []byte(header+"  groups:\n    - {name: fe, selector: {matchLabels: {app: frontend}}}\n    - {name: c, cidrs: [198.18.0.0/15]}\n  rules:\n    - {name: r, from: c, to: fe, ports: [tcp/22]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := Compile(pol)
	if err != nil {
		t.Fatal(err)
	}
	f := Flow{Src: ext, Dst: fe, Proto: l7.TCP, Port: 22}
	if d := next.Evaluate(&f); d.Verdict != Allowed || d.Rule != "r" {
		t.Errorf("stale endpoints: %+v", summarize(d))
	}
	if fresh := next.Refresh(fe); fresh.info.c != next.c || fresh.String() != "fe" {
		t.Errorf("Refresh: %v", fresh)
	}
	if got := next.Refresh(fe).Groups(); !cmp.Equal(got, []string{"fe"}) {
		t.Errorf("groups %v", got)
	}
}
