package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
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
			httpItems(&rule, 5)
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

// dense adds to synthetic(nGroups, nRules) what makes evaluation work
// hard: endpoints in several groups (their own, a tier group, a team group
// and a "selector: {}" group of every workload) and one group pair, tier
// web to tier data, with pairRules rules over many ports: single ports
// (one in three with HTTP conditions, one in five Kafka), port ranges, and
// rules on every port. Rules from the all-workloads group and the team
// groups add candidates on every pair.
func dense(nGroups, nRules, pairRules int) *Policy {
	p := synthetic(nGroups, nRules)
	sel := func(k, v string) *Selector { return &Selector{MatchLabels: map[string]string{k: v}} }
	p.Groups = append(p.Groups,
		Group{Name: "all", Kind: GroupSelector, Selector: &Selector{}},
		Group{Name: "tier-web", Kind: GroupSelector, Selector: sel("tier", "web")},
		Group{Name: "tier-data", Kind: GroupSelector, Selector: sel("tier", "data")},
	)
	for t := range 4 {
		p.Groups = append(p.Groups, Group{Name: fmt.Sprintf("team%d", t), Kind: GroupSelector, Selector: sel("team", fmt.Sprint(t))})
	}
	add := func(r Rule) {
		r.ID = fmt.Sprintf("d%d", len(p.Rules))
		r.Name = r.ID
		p.Rules = append(p.Rules, r)
	}
	tcp := func(lo, hi int) []PortRange { return []PortRange{{Proto: l7.TCP, Lo: uint16(lo), Hi: uint16(hi)}} }
	for i := range pairRules {
		r := Rule{From: "tier-web", To: "tier-data", AnyApp: true}
		switch {
		case i%10 == 9: // a range
			r.Ports = tcp(20000+i*10, 20000+i*10+5)
		case i == pairRules-1: // every port, one app
			r.Ports, r.AnyApp, r.App = []PortRange{{Proto: l7.TCP, Lo: 1, Hi: 65535}}, false, l7.SSH
		default:
			r.Ports = tcp(10000+i, 10000+i)
			if i%2 == 0 {
				r.Ports = append(r.Ports, PortRange{Proto: l7.UDP, Lo: uint16(10000 + i), Hi: uint16(10000 + i)})
			}
		}
		switch {
		case i%3 == 0 && i%10 != 9:
			httpItems(&r, 4)
		case i%5 == 0 && i%10 != 9:
			r.AnyApp, r.App, r.Kind = false, l7.Kafka, KindKafka
			var m L7Match
			m.Values[AttrTopic] = fmt.Sprintf("orders.%d.*", i)
			r.Matches = append(r.Matches, m)
		}
		add(r)
	}
	for t := range 4 {
		add(Rule{From: fmt.Sprintf("team%d", t), To: "all", AnyApp: true, Ports: tcp(9100+t, 9100+t)})
		add(Rule{From: "all", To: fmt.Sprintf("team%d", t), AnyApp: false, App: l7.DNS, Ports: []PortRange{{Proto: l7.UDP, Lo: 53, Hi: 53}}})
	}
	add(Rule{From: "all", To: "all", AnyApp: true, Ports: tcp(9999, 9999)})
	return p
}

// denseFlows returns flows between workloads of tier web and tier data
// (each also in its own group, a team group and "all") over the dense
// pair's ports: a quarter allowed at L4, a quarter allowed by L7
// conditions, a quarter denied by them, a quarter on ports no rule allows.
func denseFlows(plan *Plan, n int) []Flow {
	r := rand.New(rand.NewPCG(5, 6))
	ep := func(tier string, i int) Endpoint {
		return plan.Workload(Workload{Name: fmt.Sprintf("%s%d", tier, i), Labels: map[string]string{
			"app": fmt.Sprintf("app%d", i), "tier": tier, "team": fmt.Sprint(i % 4)}}, true)
	}
	var web, data []Endpoint
	for i := range 64 {
		web, data = append(web, ep("web", i)), append(data, ep("data", i+64))
	}
	var flows []Flow
	for i := range n {
		f := Flow{Src: web[r.IntN(len(web))], Dst: data[r.IntN(len(data))], Proto: l7.TCP, AppKnown: true, App: l7.Redis}
		k := 3 * r.IntN(30) // a rule with HTTP conditions
		switch i % 4 {
		case 0:
			f.Port = uint16(10000 + 3*r.IntN(30) + 1) // a rule without conditions
		case 1:
			f.Port, f.App = uint16(10000+k), l7.HTTP
			f.Request = &l7.Request{App: l7.HTTP, Method: "GET", Path: "/api/v3/items/12345"}
		case 2:
			f.Port, f.App = uint16(10000+k), l7.HTTP
			f.Request = &l7.Request{App: l7.HTTP, Method: "DELETE", Path: "/api/v3/items/12345"}
		case 3:
			f.Port = uint16(30000 + r.IntN(1000))
		}
		flows = append(flows, f)
	}
	return flows
}

// httpItems makes r an HTTP rule allowing GET /api/vJ/items/{id} for J
// below n.
func httpItems(r *Rule, n int) {
	r.AnyApp, r.App, r.Kind = false, l7.HTTP, KindHTTP
	for j := range n {
		var m L7Match
		m.Values[AttrMethod] = "GET"
		m.Values[AttrPath] = fmt.Sprintf("/api/v%d/items/{id}", j)
		r.Matches = append(r.Matches, m)
	}
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
	run := func(name string, plan *Plan, flows []Flow) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				plan.Evaluate(&flows[i&4095])
				i++
			}
		})
	}
	for _, size := range []struct{ groups, rules int }{{10, 100}, {100, 1000}, {1000, 10000}} {
		pol := synthetic(size.groups, size.rules)
		plan, err := Compile(pol)
		if err != nil {
			b.Fatal(err)
		}
		run(fmt.Sprintf("groups=%d/rules=%d", size.groups, size.rules), plan, benchFlows(plan, pol, 4096))
	}
	plan, err := Compile(dense(1000, 10000, densePairRules))
	if err != nil {
		b.Fatal(err)
	}
	run(fmt.Sprintf("dense/groups=1000/rules=10000/pair=%d", densePairRules), plan, denseFlows(plan, 4096))
}

// densePairRules is the number of rules of the dense benchmark's group pair.
const densePairRules = 150

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
	dplan, err := Compile(dense(1000, 10000, densePairRules))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		plan  *Plan
		flows []Flow
	}{
		{"synthetic", plan, benchFlows(plan, pol, 512)},
		{"dense", dplan, denseFlows(dplan, 512)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			allowed := 0
			for i := range tt.flows {
				if tt.plan.Evaluate(&tt.flows[i]).Verdict == Allowed {
					allowed++
				}
			}
			if allowed == 0 || allowed == len(tt.flows) {
				t.Fatalf("benchmark flows are not a mix: %d of %d allowed", allowed, len(tt.flows))
			}
			i := 0
			if n := testing.AllocsPerRun(1000, func() { tt.plan.Evaluate(&tt.flows[i%len(tt.flows)]); i++ }); n != 0 {
				t.Errorf("Evaluate allocates %.1f times per call", n)
			}
		})
	}
}

// TestDenseShape checks that the dense benchmark is what it claims: its
// endpoints are in several groups including the all-workloads one, its
// pair's bucket is large enough to be indexed by port, with rules left to
// scan outside the index, and its flows get each kind of answer.
func TestDenseShape(t *testing.T) {
	plan, err := Compile(dense(1000, 10000, densePairRules))
	if err != nil {
		t.Fatal(err)
	}
	flows := denseFlows(plan, 400)
	if got := flows[0].Src.Groups(); len(got) < 4 || !slices.Contains(got, "all") || !slices.Contains(got, "tier-web") {
		t.Errorf("source groups %v: want its own, all, tier-web and a team", got)
	}
	c := plan.c
	bi, ok := bucketOf(c.out[c.byName["tier-web"]], c.byName["tier-data"])
	if !ok {
		t.Fatal("dense policy has no tier-web -> tier-data pair")
	}
	b := &c.buckets[bi]
	if len(b.rules) != densePairRules || b.byPort == nil || len(b.wide) == 0 {
		t.Errorf("dense pair: %d rules, indexed %v, %d outside the index", len(b.rules), b.byPort != nil, len(b.wide))
	}
	codes := map[string]int{}
	for i := range flows {
		d := plan.Evaluate(&flows[i])
		codes[d.Verdict.String()+"/"+fmt.Sprint(d.Reason.Code)]++
	}
	if len(codes) < 4 {
		t.Errorf("dense flows get too few kinds of answer: %v", codes)
	}
}
