package graphview

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy/learn"
)

// edgeList is "SRC->DST" for each edge, in order.
func edgeList(g *Graph) []string {
	var out []string
	for _, e := range g.Edges {
		out = append(out, e.Src+"->"+e.Dst)
	}
	return out
}

func nodeList(g *Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		out = append(out, n.ID)
	}
	return out
}

func TestBuildRealistic(t *testing.T) {
	g := build(t, realisticInput(), Options{})
	wantNodes := []string{"workload:api", "workload:db", "workload:dns", "workload:frontend", "host",
		"fqdn:*.example.com", "cidr:198.18.64.0/24", "addr:198.19.0.10", "world"}
	if d := cmp.Diff(wantNodes, nodeList(g)); d != "" {
		t.Errorf("nodes (-want +got):\n%s", d)
	}
	wantEdges := []string{
		"workload:api->workload:db", "workload:api->workload:dns", "workload:api->fqdn:*.example.com",
		"workload:api->cidr:198.18.64.0/24", "workload:api->addr:198.19.0.10",
		"workload:frontend->workload:api", "workload:frontend->workload:db",
		"host->workload:api", "host->workload:frontend", "world->workload:frontend",
	}
	if d := cmp.Diff(wantEdges, edgeList(g)); d != "" {
		t.Errorf("edges (-want +got):\n%s", d)
	}
	status := map[string]Status{}
	for _, e := range g.Edges {
		status[e.Src+"->"+e.Dst] = e.Status
	}
	for edge, want := range map[string]Status{
		"workload:frontend->workload:api":   StatusAllowed,
		"workload:frontend->workload:db":    StatusDenied,
		"workload:api->addr:198.19.0.10":    StatusReported,
		"workload:api->cidr:198.18.64.0/24": StatusLearned,
		"host->workload:frontend":           StatusLearned,
	} {
		if status[edge] != want {
			t.Errorf("%s: status %s, want %s", edge, status[edge], want)
		}
	}
	if !g.Verdicts {
		t.Error("Verdicts false with verdict counts in the input")
	}
}

// edgeOf returns the edge src→dst of g.
func edgeOf(t *testing.T, g *Graph, src, dst string) *Edge {
	t.Helper()
	for i := range g.Edges {
		if g.Edges[i].Src == src && g.Edges[i].Dst == dst {
			return &g.Edges[i]
		}
	}
	t.Fatalf("no edge %s->%s in %q", src, dst, edgeList(g))
	return nil
}

func TestServices(t *testing.T) {
	g := build(t, realisticInput(), Options{})
	fe := edgeOf(t, g, "workload:frontend", "workload:api")
	want := []Service{{
		Proto: "tcp", Ports: []string{"8080"}, App: "http",
		L7:     []string{"GET /users/{id}", "GET,POST /orders", "GET /products/search"},
		L7More: 2, Count: 32, FirstSeen: fe.Services[0].FirstSeen, LastSeen: fe.Services[0].LastSeen,
		Verdicts: Tally{Allowed: 1240}, Status: StatusAllowed,
	}}
	if d := cmp.Diff(want, fe.Services); d != "" {
		t.Errorf("frontend->api (-want +got):\n%s", d)
	}
	if got := fe.Services[0].L7Text(); got != "GET /users/{id}, GET,POST /orders, GET /products/search +2 more" {
		t.Errorf("L7Text = %q", got)
	}
	store := edgeOf(t, g, "workload:api", "cidr:198.18.64.0/24")
	if d := cmp.Diff([]string{"9000-9002"}, store.Services[0].Ports); d != "" || store.Services[0].PortText() != "tcp/9000-9002" {
		t.Errorf("ports of the object store: %s / %q", d, store.Services[0].PortText())
	}
	if got := edgeOf(t, g, "workload:api", "workload:db").Services[0].L7Text(); got != "GET,SET,EXPIRE" {
		t.Errorf("redis summary %q", got)
	}
	if got := edgeOf(t, g, "workload:api", "workload:dns").Services[0].L7Text(); got != "*.example.com, db.shop.internal" {
		t.Errorf("dns summary %q", got)
	}
}

// obsInput builds an input from observations.
func obsInput(obs ...learn.Observation) Input {
	g := learn.New(stepClock(), learn.Limits{})
	for _, o := range obs {
		g.Observe(o)
	}
	return Input{Graph: g.Snapshot()}
}

func httpReq(method, path string) *l7.Request { return &l7.Request{Method: method, Path: path} }

func TestSummary(t *testing.T) {
	obs := func(app l7.App, reqs ...*l7.Request) Input {
		var os []learn.Observation
		for _, r := range reqs {
			os = append(os, learn.Observation{Src: frontend, Dst: api, Proto: l7.TCP, Port: 1000, App: app, Request: r})
		}
		return obsInput(os...)
	}
	var manyPaths, manyCmds []*l7.Request
	for i := range 12 {
		manyPaths = append(manyPaths, httpReq("GET", fmt.Sprintf("/files/report-%c", 'a'+i)))
		manyCmds = append(manyCmds, &l7.Request{Command: fmt.Sprintf("CMD%02d", i)})
	}
	cases := []struct {
		name string
		in   Input
		opt  Options
		want string
	}{
		{"http methods share a path", obs(l7.HTTP, httpReq("GET", "/a"), httpReq("PUT", "/a"), httpReq("GET", "/a")), Options{}, "GET,PUT /a"},
		{"http ids", obs(l7.HTTP, httpReq("GET", "/u/1"), httpReq("GET", "/u/2")), Options{}, "GET /u/{id}"},
		{"http many last segments become {param}", obs(l7.HTTP, manyPaths...), Options{}, "GET /files/{param}"},
		{"http path threshold", obs(l7.HTTP, manyPaths[:3]...), Options{PathThreshold: 2}, "GET /files/{param}"},
		{"redis", obs(l7.Redis, &l7.Request{Command: "get"}, &l7.Request{Command: "SET"}, &l7.Request{Command: "GET"}), Options{}, "GET,SET"},
		{"capped with +N more", obs(l7.Redis, manyCmds...), Options{MaxL7Len: 20}, "CMD00,CMD01,CMD02 +9 more"},
		{"one long item is cut", obs(l7.HTTP, httpReq("GET", "/"+strings.Repeat("x", 100))), Options{MaxL7Len: 12}, "GET /xxxxxx…"},
		{"grpc", obs(l7.GRPC, &l7.Request{GRPCService: "shop.Cart", GRPCMethod: "Get"}), Options{}, "shop.Cart/Get"},
		{"kafka", obs(l7.Kafka, &l7.Request{Command: "PRODUCE", Topic: "orders"}, &l7.Request{Command: "FETCH", Topic: "orders"}), Options{}, "FETCH,PRODUCE orders"},
		{"postgresql", obs(l7.PostgreSQL, &l7.Request{Command: "SELECT", User: "app", Database: "shop"}), Options{}, "SELECT app@shop"},
		{"dns wildcard", obs(l7.DNS, &l7.Request{Host: "a.x.io.example.org"}, &l7.Request{Host: "b.x.io.example.org"}), Options{DNSThreshold: 2}, "*.x.io.example.org"},
		{"tls names", obs(l7.TLS, &l7.Request{Host: "a.example.com"}, &l7.Request{Host: "b.example.com"}), Options{}, "a.example.com, b.example.com"},
		{"no values", obs(l7.SSH, nil), Options{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := build(t, c.in, c.opt)
			if got := g.Edges[0].Services[0].L7Text(); got != c.want {
				t.Errorf("summary %q, want %q", got, c.want)
			}
		})
	}
}

func TestSummaryIncomplete(t *testing.T) {
	g := learn.New(stepClock(), learn.Limits{MaxValues: 2})
	for _, p := range []string{"/a", "/b", "/c"} {
		g.Observe(learn.Observation{Src: frontend, Dst: api, Proto: l7.TCP, Port: 80, App: l7.HTTP, Request: httpReq("GET", p)})
	}
	v := build(t, Input{Graph: g.Snapshot()}, Options{})
	if got := v.Edges[0].Services[0].L7Text(); got != "GET /a, GET /b +more" {
		t.Errorf("summary %q", got)
	}
	v = build(t, Input{Graph: g.Snapshot()}, Options{MaxL7Len: 6})
	if got := v.Edges[0].Services[0].L7Text(); got != "GET /a +1+ more" {
		t.Errorf("summary %q", got)
	}
}

func TestPorts(t *testing.T) {
	var obs []learn.Observation
	for _, p := range []uint16{80, 443, 8080, 8081, 8082} {
		obs = append(obs, learn.Observation{Src: frontend, Dst: api, Proto: l7.TCP, Port: p})
	}
	obs = append(obs, learn.Observation{Src: frontend, Dst: api, Proto: l7.UDP, Port: 53, App: l7.DNS})
	g := build(t, obsInput(obs...), Options{})
	var got []string
	for _, s := range g.Edges[0].Services {
		got = append(got, s.PortText()+" "+s.App)
	}
	if d := cmp.Diff([]string{"tcp/80,443,8080-8082 unknown", "udp/53 dns"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	g = build(t, obsInput(obs...), Options{PortThreshold: 3})
	if got := g.Edges[0].Services[0].PortText(); got != "tcp/any" {
		t.Errorf("many ports over a wide span: %q, want tcp/any", got)
	}
}

func TestExternalNodes(t *testing.T) {
	addr := func(s string) learn.Peer { return learn.Addr(netip.MustParseAddr(s)) }
	out := func(dst learn.Peer, n int) []learn.Observation {
		var os []learn.Observation
		for range n {
			os = append(os, learn.Observation{Src: api, Dst: dst, Proto: l7.TCP, Port: 443})
		}
		return os
	}
	var obs []learn.Observation
	obs = append(obs, out(addr("198.18.1.1"), 5)...)
	obs = append(obs, out(addr("198.18.2.1"), 3)...)
	obs = append(obs, out(learn.FQDN("one.example.com"), 1)...)
	obs = append(obs, learn.Observation{Src: addr("198.18.9.9"), Dst: api, Proto: l7.TCP, Port: 80}) // client only
	cases := []struct {
		name    string
		opt     Options
		want    []string
		members map[string][]string
	}{
		{"all shown", Options{}, []string{"workload:api", "fqdn:one.example.com", "addr:198.18.1.1", "addr:198.18.2.1", "world"},
			map[string][]string{"world": {"198.18.9.9"}}},
		{"least used fold into world", Options{MaxExternal: 1}, []string{"workload:api", "addr:198.18.1.1", "world"},
			map[string][]string{"world": {"198.18.2.1", "198.18.9.9", "one.example.com"}}},
		{"everything is world", Options{MaxExternal: -1}, []string{"workload:api", "world"},
			map[string][]string{"world": {"198.18.1.1", "198.18.2.1", "198.18.9.9", "one.example.com"}}},
		{"members capped", Options{MaxExternal: -1, MaxMembers: 2}, []string{"workload:api", "world"},
			map[string][]string{"world": {"198.18.1.1", "198.18.2.1"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := build(t, obsInput(obs...), c.opt)
			if d := cmp.Diff(c.want, nodeList(g)); d != "" {
				t.Errorf("nodes (-want +got):\n%s", d)
			}
			for id, want := range c.members {
				if d := cmp.Diff(want, g.Node(id).Members); d != "" {
					t.Errorf("%s members (-want +got):\n%s", id, d)
				}
			}
		})
	}
	g := build(t, obsInput(obs...), Options{MaxExternal: -1, MaxMembers: 2})
	if w := g.Node("world"); w.MembersMore != 2 || memberText(w) != "4 peers" {
		t.Errorf("world: more %d, text %q", w.MembersMore, memberText(w))
	}
	// Folded peers merge into one world edge per client.
	if d := cmp.Diff([]string{"workload:api->world", "world->workload:api"}, edgeList(g)); d != "" {
		t.Errorf("edges (-want +got):\n%s", d)
	}
}

func TestFilters(t *testing.T) {
	in := realisticInput()
	cases := []struct {
		name  string
		opt   Options
		edges []string
	}{
		{"workload db", Options{Workload: "db"}, []string{"workload:api->workload:db", "workload:frontend->workload:db"}},
		{"workload dns", Options{Workload: "dns"}, []string{"workload:api->workload:dns"}},
		{"app redis", Options{Apps: []l7.App{l7.Redis}}, []string{"workload:api->workload:db", "workload:frontend->workload:db"}},
		{"apps http and dns", Options{Apps: []l7.App{l7.HTTP, l7.DNS}}, []string{"workload:api->workload:dns", "workload:frontend->workload:api", "host->workload:api"}},
		{"workload and app", Options{Workload: "frontend", Apps: []l7.App{l7.TLS}}, []string{"host->workload:frontend", "world->workload:frontend"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := build(t, in, c.opt)
			if d := cmp.Diff(c.edges, edgeList(g)); d != "" {
				t.Errorf("edges (-want +got):\n%s", d)
			}
			used := map[string]bool{}
			for _, e := range g.Edges {
				used[e.Src], used[e.Dst] = true, true
			}
			for _, n := range g.Nodes {
				if !used[n.ID] && n.ID != nodeID(KindWorkload, c.opt.Workload) {
					t.Errorf("node %s is on no edge of the filtered graph", n.ID)
				}
			}
		})
	}
	if _, err := Build(in, Options{Workload: "nosuch"}); err == nil || !strings.Contains(err.Error(), `workload "nosuch" is not in the graph`) {
		t.Errorf("unknown workload: err = %v", err)
	}
	// A workload known only by its labels (no edge) is drawn alone.
	lone := Input{Graph: learn.Snapshot{Version: 1, Workloads: []learn.WorkloadInfo{{Name: "batch"}}}}
	if g := build(t, lone, Options{Workload: "batch"}); len(g.Nodes) != 1 || len(g.Edges) != 0 {
		t.Errorf("lone workload: %q %q", nodeList(g), edgeList(g))
	}
}

func TestTallyStatus(t *testing.T) {
	cases := []struct {
		t    Tally
		want Status
	}{
		{Tally{}, StatusLearned},
		{Tally{Allowed: 5}, StatusAllowed},
		{Tally{Allowed: 5, Reported: 1}, StatusReported},
		{Tally{Allowed: 5, Reported: 1, Denied: 1}, StatusDenied},
	}
	for _, c := range cases {
		if got := c.t.Status(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.t, got, c.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		if got, err := ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("gif"); err == nil || !strings.Contains(err.Error(), "dot, mermaid, json, svg, png") {
		t.Errorf("ParseFormat(gif): %v", err)
	}
}

// TestPeersAsRecorded: peers that learn's constructors would normalise
// differently ("." → "", a 4-in-6 address) still get their node.
func TestPeersAsRecorded(t *testing.T) {
	mapped := learn.Peer{Kind: learn.PeerAddr, Addr: netip.MustParseAddr("::ffff:198.18.0.1")}
	dot := learn.Peer{Kind: learn.PeerFQDN, Name: "."}
	in := Input{HasVerdicts: true, Verdicts: []VerdictCount{
		{Src: api, Dst: mapped, Proto: "tcp", Port: 1, Denied: 1},
		{Src: api, Dst: dot, Proto: "tcp", Port: 2, Denied: 1},
	}}
	g := build(t, in, Options{})
	if d := cmp.Diff([]string{"workload:api", "fqdn:.", "addr:::ffff:198.18.0.1"}, nodeList(g)); d != "" {
		t.Errorf("nodes (-want +got):\n%s", d)
	}
	checkRenders(t, in, Options{})
}

func TestLabelLines(t *testing.T) {
	labels := map[string]string{"bulkhead.dev/workload": "w", "a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}
	n := &Node{ID: "workload:w", Kind: KindWorkload, Name: "w", Labels: labels}
	if d := cmp.Diff("w\na=1\nb=2\nc=3\nd=4\n+2 more", linesText(nodeLines(n))); d != "" {
		t.Errorf("node label (-want +got):\n%s", d)
	}
	var obs []learn.Observation
	for _, p := range []uint16{1, 3, 5, 7, 9, 11} {
		for _, proto := range []l7.Transport{l7.TCP, l7.UDP} {
			obs = append(obs, learn.Observation{Src: frontend, Dst: api, Proto: proto, Port: p, App: l7.App(p)})
		}
	}
	g := build(t, obsInput(obs...), Options{})
	want := "tcp/5 dns\ntcp/3 grpc\ntcp/1 http\ntcp/11 kafka\n+8 more services"
	if d := cmp.Diff(want, linesText(edgeLines(&g.Edges[0]))); d != "" {
		t.Errorf("edge label (-want +got):\n%s", d)
	}
}

// TestUndrawablePeers: an Input built in Go with invalid peers draws the
// rest.
func TestUndrawablePeers(t *testing.T) {
	in := Input{Graph: learn.Snapshot{Version: 1, Edges: []learn.Edge{
		{Src: learn.Peer{}, Dst: api, Proto: "tcp", Port: 1},
		{Src: learn.Workload(""), Dst: api, Proto: "tcp", Port: 1},
		{Src: learn.Peer{Kind: learn.PeerAddr}, Dst: api, Proto: "tcp", Port: 1},
		{Src: frontend, Dst: api, Proto: "tcp", Port: 2, Count: 1},
	}}}
	g := build(t, in, Options{})
	if d := cmp.Diff([]string{"workload:frontend->workload:api"}, edgeList(g)); d != "" {
		t.Errorf("edges (-want +got):\n%s", d)
	}
	checkRenders(t, in, Options{})
}
