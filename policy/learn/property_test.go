package learn

import (
	stdcmp "cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"bulkhead.dev/bulkhead/internal/golden"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

var (
	workloadNames = []string{"fe", "api", "db", "cache", "batch"}
	fqdnNames     = []string{"github.com", "api.github.com", "pypi.org", "s3.eu.example.net"}
	addrs         = []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::5")}
	ports         = []uint16{53, 80, 443, 5432, 6379, 8080, 9000}
	apps          = []l7.App{l7.HTTP, l7.DNS, l7.Redis, l7.SSH, l7.TLS, l7.Unknown}
	paths         = []string{"/", "/users/1", "/users/22", "/orders", "/static/app.js", "/a/b/c"}
)

func peerGen(withWorkloadsOnly bool) *rapid.Generator[Peer] {
	return rapid.Custom(func(t *rapid.T) Peer {
		kind := 0
		if !withWorkloadsOnly {
			kind = rapid.IntRange(0, 3).Draw(t, "kind")
		}
		switch kind {
		case 1:
			return FQDN(rapid.SampledFrom(fqdnNames).Draw(t, "fqdn"))
		case 2:
			return Addr(rapid.SampledFrom(addrs).Draw(t, "addr"))
		case 3:
			return Host()
		}
		return Workload(rapid.SampledFrom(workloadNames).Draw(t, "workload"))
	})
}

func labelsOf(name string) map[string]string {
	switch name {
	case "fe":
		return map[string]string{"app": "fe", "tier": "web"}
	case "api":
		return map[string]string{"app": "api", "tier": "web", "pod-template-hash": "abc12"}
	case "db":
		return map[string]string{"tier": "data", "bulkhead.dev/netns": "bh-1-db"}
	case "cache":
		return map[string]string{"tier": "data", "kind": "cache"}
	}
	return map[string]string{"bulkhead.dev/netns": "bh-1-batch"} // batch: selected by name
}

var obsGen = rapid.Custom(func(t *rapid.T) Observation {
	o := Observation{
		Src:   peerGen(false).Draw(t, "src"),
		Dst:   peerGen(false).Draw(t, "dst"),
		Proto: rapid.SampledFrom([]l7.Transport{l7.TCP, l7.UDP}).Draw(t, "proto"),
		Port:  rapid.SampledFrom(ports).Draw(t, "port"),
		App:   rapid.SampledFrom(apps).Draw(t, "app"),
	}
	if o.Src.Kind != PeerWorkload && o.Dst.Kind != PeerWorkload {
		o.Src = Workload(rapid.SampledFrom(workloadNames).Draw(t, "local")) // one end is local
	}
	o.SrcLabels, o.DstLabels = labelsOf(o.Src.Name), labelsOf(o.Dst.Name)
	if rapid.Bool().Draw(t, "hasRequest") {
		switch o.App {
		case l7.HTTP:
			o.Request = &l7.Request{Method: rapid.SampledFrom([]string{"GET", "POST"}).Draw(t, "method"), Path: rapid.SampledFrom(paths).Draw(t, "path")}
		case l7.DNS:
			o.Request = &l7.Request{Host: rapid.SampledFrom(fqdnNames).Draw(t, "qname")}
		case l7.Redis:
			o.Request = &l7.Request{Command: rapid.SampledFrom([]string{"GET", "SET", "DEL"}).Draw(t, "cmd")}
		case l7.TLS:
			o.Request = &l7.Request{Host: rapid.SampledFrom(fqdnNames).Draw(t, "sni")}
		}
	}
	return o
})

func graphOf(obs []Observation, maxValues int) Snapshot {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := New(func() time.Time { now = now.Add(time.Minute); return now }, Limits{MaxValues: maxValues})
	for _, o := range obs {
		g.Observe(o)
	}
	return g.Snapshot()
}

func TestMergeProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		maxValues := rapid.IntRange(1, 4).Draw(t, "maxValues")
		snap := func(label string) Snapshot {
			return graphOf(rapid.SliceOfN(obsGen, 0, 12).Draw(t, label), maxValues)
		}
		a, b, c := snap("a"), snap("b"), snap("c")
		if d := cmp.Diff(Merge(maxValues, a, b), Merge(maxValues, b, a), cmpOpts); d != "" {
			t.Fatalf("not commutative:\n%s", d)
		}
		if d := cmp.Diff(Merge(maxValues, Merge(maxValues, a, b), c), Merge(maxValues, a, Merge(maxValues, b, c)), cmpOpts); d != "" {
			t.Fatalf("not associative:\n%s", d)
		}
		if d := cmp.Diff(Merge(maxValues, a), Merge(maxValues, a, Snapshot{Version: 1}), cmpOpts); d != "" {
			t.Fatalf("empty graph is not neutral:\n%s", d)
		}
	})
}

// endpointOf classifies a graph peer the way the agent would.
func endpointOf(plan *policy.Plan, p Peer) policy.Endpoint {
	switch p.Kind {
	case PeerWorkload:
		return plan.Workload(policy.Workload{Name: p.Name, Labels: labelsOf(p.Name)}, true)
	case PeerFQDN:
		return plan.Addr(netip.MustParseAddr("192.0.2.99"), p.Name)
	case PeerAddr:
		return plan.Addr(p.Addr)
	}
	return plan.Host()
}

// strictOptions turn generalisation off: no threshold is ever reached.
var strictOptions = Options{PortThreshold: 100, DNSThreshold: 100, AddrThreshold: 100, PathThreshold: 100}

// generatePlan generates a policy from obs and compiles it.
func generatePlan(t *rapid.T, obs []Observation, opt Options) (*policy.Policy, *policy.Plan) {
	pol, err := Generate(graphOf(obs, 64), opt)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := policy.Compile(pol)
	if err != nil {
		t.Fatal(err)
	}
	return pol, plan
}

// TestGeneratedPolicyAllowsTheGraph: a policy generated from a graph allows
// every flow of the graph (a flow that sent no request waits for one under
// L7 rules), with generalisation off and with it on at its lowest
// thresholds (1 to 3), where ports collapse, paths become {param}, names
// *.domain and addresses CIDR groups.
func TestGeneratedPolicyAllowsTheGraph(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		obs := rapid.SliceOfN(obsGen, 1, 30).Draw(t, "observations")
		opt := strictOptions
		if rapid.Bool().Draw(t, "generalise") {
			low := rapid.IntRange(1, 3)
			opt = Options{PortThreshold: low.Draw(t, "ports"), PathThreshold: low.Draw(t, "paths"),
				DNSThreshold: low.Draw(t, "names"), AddrThreshold: low.Draw(t, "addrs")}
		}
		pol, plan := generatePlan(t, obs, opt)
		for _, o := range obs {
			f := policy.Flow{Src: endpointOf(plan, o.Src), Dst: endpointOf(plan, o.Dst), Proto: o.Proto, Port: o.Port,
				AppKnown: true, App: o.App, Request: o.Request}
			d := plan.Evaluate(&f)
			ok := d.Verdict == policy.Allowed || o.Request == nil && d.Verdict == policy.Pending && d.Need == policy.NeedRequest
			if !ok {
				out, _ := policy.Marshal(pol, "p")
				t.Fatalf("observed flow %v → %v %v/%d %v %+v not allowed: %v %s\n%s", o.Src, o.Dst, o.Proto, o.Port, o.App, o.Request, d.Verdict, d.Reason, out)
			}
		}
	})
}

// flowKey is the L4 identity of a flow: what a generated policy (without
// generalisation) must deny when the graph never saw it.
type flowKey struct {
	src, dst Peer
	proto    l7.Transport
	port     uint16
}

// TestGeneratedPolicyDeniesTheUnseenAtL4: without generalisation, a policy
// generated from a graph denies at L4 every (source, destination, protocol,
// port) the graph never saw. The unseen flows are drawn mostly from the
// graph's own peers and ports, recombined, since that is where a policy
// that is too wide would show: a selector that also selects another
// workload of the graph, a rule on the wrong group pair or port.
func TestGeneratedPolicyDeniesTheUnseenAtL4(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		obs := rapid.SliceOfN(obsGen, 1, 30).Draw(t, "observations")
		pol, plan := generatePlan(t, obs, strictOptions)
		seen := map[flowKey]bool{}
		peerSet := map[Peer]bool{}
		type protoPort struct {
			proto l7.Transport
			port  uint16
		}
		portSet := map[protoPort]bool{}
		for _, o := range obs {
			seen[flowKey{o.Src, o.Dst, o.Proto, o.Port}] = true
			peerSet[o.Src], peerSet[o.Dst] = true, true
			portSet[protoPort{o.Proto, o.Port}] = true
			// The same port under the other protocol was not seen.
			portSet[protoPort{l7.TCP + l7.UDP - o.Proto, o.Port}] = true
		}
		peers := slices.SortedFunc(maps.Keys(peerSet), ComparePeers)
		pps := slices.SortedFunc(maps.Keys(portSet), func(a, b protoPort) int {
			return stdcmp.Or(stdcmp.Compare(a.proto, b.proto), stdcmp.Compare(a.port, b.port))
		})
		for range 40 {
			var k flowKey
			if rapid.IntRange(0, 9).Draw(t, "recombine") > 0 {
				pp := rapid.SampledFrom(pps).Draw(t, "seen port")
				k = flowKey{rapid.SampledFrom(peers).Draw(t, "seen src"), rapid.SampledFrom(peers).Draw(t, "seen dst"), pp.proto, pp.port}
			} else {
				k = flowKey{rapid.SampledFrom(peers).Draw(t, "src"), rapid.SampledFrom(peers).Draw(t, "dst"),
					rapid.SampledFrom([]l7.Transport{l7.TCP, l7.UDP}).Draw(t, "proto"), rapid.Uint16Range(1, 65535).Draw(t, "port")}
			}
			if seen[k] {
				continue
			}
			f := policy.Flow{Src: endpointOf(plan, k.src), Dst: endpointOf(plan, k.dst), Proto: k.proto, Port: k.port}
			if d := plan.Evaluate(&f); d.Verdict != policy.Violation {
				out, _ := policy.Marshal(pol, "p")
				t.Fatalf("unseen %v → %v %v/%d: %v %s\n%s", k.src, k.dst, k.proto, k.port, d.Verdict, d.Reason, out)
			}
		}
	})
}

func TestGenerateGolden(t *testing.T) {
	var obs []Observation
	add := func(o Observation, n int) {
		for range n {
			obs = append(obs, o)
		}
	}
	fe, api, db := Workload("frontend"), Workload("api"), Workload("db")
	lbl := map[Peer]map[string]string{
		fe:  {"app": "frontend", "bulkhead.dev/netns": "bh-4242x1-frontend"},
		api: {"app": "api", "pod-template-hash": "7d9f"},
		db:  {"app": "redis", "bulkhead.dev/netns": "bh-4242x1-db"},
	}
	withLabels := func(o Observation) Observation {
		o.SrcLabels, o.DstLabels = lbl[o.Src], lbl[o.Dst]
		return o
	}
	for i := range 30 {
		add(withLabels(Observation{Src: fe, Dst: api, Proto: l7.TCP, Port: 8080, App: l7.HTTP,
			Request: &l7.Request{Method: "GET", Path: fmt.Sprintf("/users/%d", i)}}), 1)
	}
	for _, f := range []string{"a.css", "b.css", "c.js", "d.js", "e.png", "f.png", "g.svg", "h.svg", "i.ico"} {
		add(withLabels(Observation{Src: fe, Dst: api, Proto: l7.TCP, Port: 8080, App: l7.HTTP, Request: &l7.Request{Method: "GET", Path: "/static/" + f}}), 1)
	}
	add(withLabels(Observation{Src: fe, Dst: api, Proto: l7.TCP, Port: 8080, App: l7.HTTP, Request: &l7.Request{Method: "POST", Path: "/orders"}}), 3)
	// A client that dials the api by address sends an IP-literal Host: it
	// must not become a condition. A name Host stays.
	add(withLabels(Observation{Src: fe, Dst: api, Proto: l7.TCP, Port: 8080, App: l7.HTTP, Request: &l7.Request{Method: "POST", Path: "/orders", Host: "198.18.0.11:8080"}}), 1)
	add(withLabels(Observation{Src: fe, Dst: api, Proto: l7.TCP, Port: 8080, App: l7.HTTP, Request: &l7.Request{Method: "GET", Path: "/healthz", Host: "api.shop.internal"}}), 1)
	add(withLabels(Observation{Src: api, Dst: db, Proto: l7.TCP, Port: 6379, App: l7.Redis, Request: &l7.Request{Command: "GET"}}), 5)
	add(withLabels(Observation{Src: api, Dst: db, Proto: l7.TCP, Port: 6379, App: l7.Redis, Request: &l7.Request{Command: "SET"}}), 2)
	for _, n := range []string{"a.cdn.example.com", "b.cdn.example.com", "c.cdn.example.com", "d.cdn.example.com", "e.cdn.example.com", "pypi.org"} {
		add(withLabels(Observation{Src: api, Dst: Addr(netip.MustParseAddr("198.18.0.53")), Proto: l7.UDP, Port: 53, App: l7.DNS, Request: &l7.Request{Host: n}}), 1)
		add(withLabels(Observation{Src: api, Dst: FQDN(n), Proto: l7.TCP, Port: 443, App: l7.TLS, Request: &l7.Request{Host: n}}), 1)
	}
	for i := range 5 {
		add(withLabels(Observation{Src: api, Dst: Addr(netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)})), Proto: l7.TCP, Port: 22, App: l7.SSH}), 1)
	}
	for p := uint16(9000); p < 9012; p++ {
		add(withLabels(Observation{Src: Host(), Dst: api, Proto: l7.TCP, Port: p, App: l7.Unknown}), 1)
	}
	pol, err := Generate(graphOf(obs, 64), Options{Name: "shop", AutoPromote: &policy.AutoPromote{After: 7 * 24 * time.Hour, To: policy.ModeProtect}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := policy.Marshal(pol, "shop")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/generate.golden.yaml", out)
}
