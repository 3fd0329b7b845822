package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"bulkhead.dev/bulkhead/l7"
)

// synthetic builds a policy of nGroups workload groups (plus 1 in 10 CIDR
// groups among them) and nRules rules spread over them: each rule goes from
// one group to another on one or two TCP ports, one in five is HTTP with
// path conditions, one in ten is DNS with name conditions.
func synthetic(nGroups, nRules int) *Policy {
	r := rand.New(rand.NewPCG(1, 2))
	p := &Policy{DefaultMode: ModeProtect}
	for i := range nGroups {
		g := Group{Name: fmt.Sprintf("g%d", i), Kind: GroupSelector,
			Selector: &Selector{MatchLabels: map[string]string{"app": fmt.Sprintf("app%d", i)}}}
		if i%10 == 9 {
			g = Group{Name: fmt.Sprintf("g%d", i), Kind: GroupCIDR,
				CIDRs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i / 256), byte(i % 256)}), 32)}}
		}
		p.Groups = append(p.Groups, g)
	}
	for i := range nRules {
		from, to := r.IntN(nGroups), r.IntN(nGroups)
		rule := Rule{ID: fmt.Sprintf("r%d", i), Name: fmt.Sprintf("r%d", i),
			From: p.Groups[from].Name, To: p.Groups[to].Name, AnyApp: true,
			Ports: []PortRange{{Proto: l7.TCP, Lo: uint16(1000 + r.IntN(200)), Hi: 0}}}
		rule.Ports[0].Hi = rule.Ports[0].Lo
		if i%3 == 0 {
			rule.Ports = append(rule.Ports, PortRange{Proto: l7.TCP, Lo: 8000, Hi: 8100})
		}
		switch i % 10 {
		case 0, 5:
			rule.AnyApp, rule.App, rule.Kind = false, l7.HTTP, KindHTTP
			for j := range 5 {
				var m L7Match
				m.Values[AttrMethod] = "GET"
				m.Values[AttrPath] = fmt.Sprintf("/api/v%d/items/{id}", j)
				rule.Matches = append(rule.Matches, m)
			}
		case 3:
			rule.AnyApp, rule.App, rule.Kind = false, l7.DNS, KindDNS
			var m L7Match
			m.Values[AttrName] = fmt.Sprintf("*.svc%d.example.com", i)
			rule.Matches = append(rule.Matches, m)
		}
		p.Rules = append(p.Rules, rule)
	}
	return p
}

// benchFlows returns flows over the synthetic plan: half to an allowed
// (group pair, port), half to a pair or port no rule allows.
func benchFlows(plan *Plan, pol *Policy, n int) []Flow {
	r := rand.New(rand.NewPCG(3, 4))
	ep := func(gi int) Endpoint {
		g := &pol.Groups[gi]
		if g.Kind == GroupCIDR {
			return plan.Addr(g.CIDRs[0].Addr())
		}
		return plan.Workload(Workload{Name: g.Name, Labels: g.Selector.MatchLabels}, true)
	}
	index := map[string]int{}
	for i, g := range pol.Groups {
		index[g.Name] = i
	}
	var flows []Flow
	for i := range n {
		rule := &pol.Rules[r.IntN(len(pol.Rules))]
		f := Flow{Src: ep(index[rule.From]), Dst: ep(index[rule.To]), Proto: l7.TCP, Port: rule.Ports[0].Lo}
		switch {
		case i%2 == 1:
			f.Port = 2000 + uint16(r.IntN(1000)) // no rule
		case rule.Kind == KindHTTP:
			f.AppKnown, f.App = true, l7.HTTP
			f.Request = &l7.Request{App: l7.HTTP, Method: "GET", Path: "/api/v3/items/12345"}
		case rule.Kind == KindDNS:
			f.AppKnown, f.App = true, l7.DNS
			f.Request = &l7.Request{App: l7.DNS, Host: "x.svc3.example.com"}
		}
		flows = append(flows, f)
	}
	return flows
}

func BenchmarkEvaluate(b *testing.B) {
	for _, size := range []struct{ groups, rules int }{{10, 100}, {100, 1000}, {1000, 10000}} {
		pol := synthetic(size.groups, size.rules)
		plan, err := Compile(pol)
		if err != nil {
			b.Fatal(err)
		}
		flows := benchFlows(plan, pol, 4096)
		b.Run(fmt.Sprintf("groups=%d/rules=%d", size.groups, size.rules), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				plan.Evaluate(&flows[i&4095])
				i++
			}
		})
	}
}

func BenchmarkClassify(b *testing.B) {
	pol := synthetic(1000, 10000)
	plan, err := Compile(pol)
	if err != nil {
		b.Fatal(err)
	}
	w := Workload{Name: "x", Labels: map[string]string{"app": "app500"}}
	b.ReportAllocs()
	for b.Loop() {
		plan.Workload(w, true)
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	pol := synthetic(1000, 10000)
	plan, err := Compile(pol)
	if err != nil {
		t.Fatal(err)
	}
	flows := benchFlows(plan, pol, 512)
	allowed := 0
	for i := range flows {
		if plan.Evaluate(&flows[i]).Verdict == Allowed {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(flows) {
		t.Fatalf("benchmark flows are not a mix: %d of %d allowed", allowed, len(flows))
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() { plan.Evaluate(&flows[i%len(flows)]); i++ }); n != 0 {
		t.Errorf("Evaluate allocates %.1f times per call", n)
	}
}
