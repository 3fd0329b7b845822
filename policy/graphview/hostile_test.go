package graphview

import (
	"net/netip"
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/internal/golden"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy/learn"
)

// hostileNames try to break out of DOT strings and HTML labels, Mermaid
// labels and statements, JSON, and the terminal.
var hostileNames = []string{
	`"];evil`,
	`"] ; "x" -> "y" [label="pwned`,
	`a\`,
	`a\"b`,
	`<b>bold</b>&amp;<script>alert(1)</script>`,
	"line\nbreak\r\ttab",
	`n0 --> n1`,
	`end`,
	`subgraph`,
	`#quot;#35;`,
	"`markdown`",
	`|pipe|[bracket]{brace}(paren)`,
	"\xff\xfe invalid utf-8",
	"\x1b[31mred\x1b[0m",
	"rtl \u202eoverride",
	`%41`, // must not collide with "A"
	"A",
	strings.Repeat("long-", 80),
	`\N \G \E \L`, // Graphviz escString escapes
	`&lt;`,
	`-- comment`,
	`'single'`,
}

// hostileInput builds a graph through learn.Graph.Observe (the agent's
// path, which does not sanitise names) with hostile workload names, labels,
// external names and L7 values.
func hostileInput() Input {
	g := learn.New(stepClock(), learn.Limits{})
	var vs []VerdictCount
	for i, name := range hostileNames {
		w := learn.Workload(name)
		g.Observe(learn.Observation{Src: w, Dst: api, Proto: l7.TCP, Port: 8080, App: l7.HTTP,
			SrcLabels: map[string]string{name: name, "app": `x"];y`},
			Request:   &l7.Request{Method: "GET", Path: "/" + name}})
		g.Observe(learn.Observation{Src: api, Dst: learn.FQDN(name + ".example.org"), Proto: l7.TCP, Port: 443, App: l7.TLS,
			Request: &l7.Request{Host: name}})
		g.Observe(learn.Observation{Src: api, Dst: w, Proto: l7.TCP, Port: 6379, App: l7.Redis,
			Request: &l7.Request{Command: name}})
		vs = append(vs, VerdictCount{Src: w, Dst: db, Proto: "tcp", Port: uint16(1000 + i), App: l7.Unknown, Denied: 1})
	}
	g.Observe(learn.Observation{Src: learn.Addr(netip.MustParseAddr("2001:2::1")), Dst: api, Proto: l7.UDP, Port: 53, App: l7.DNS,
		Request: &l7.Request{Host: `"];evil.example.net`}})
	return Input{Graph: g.Snapshot(), Verdicts: foldVerdicts(vs), HasVerdicts: true}
}

func TestHostileNames(t *testing.T) {
	g := build(t, hostileInput(), Options{})
	for _, n := range g.Nodes {
		if strings.ContainsAny(n.ID, "\"\\<>&'\n ") || !isPrintableASCII(n.ID) {
			t.Errorf("node ID %q is not plain printable ASCII", n.ID)
		}
	}
	if g.Node(nodeID(KindWorkload, "%41")) == nil || g.Node(nodeID(KindWorkload, "A")) == nil || nodeID(KindWorkload, "%41") == nodeID(KindWorkload, "A") {
		t.Errorf("IDs of %%41 and A collide or are missing")
	}
	dot := render(t, g, FormatDot)
	if err := checkDotMatches(string(dot), g); err != nil {
		t.Errorf("dot: %v", err)
	}
	dg, err := parseDot(string(dot))
	if err != nil {
		t.Fatal(err)
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if want := linesText(nodeLines(n)); dg.labels[n.ID] != want {
			t.Errorf("dot label of %s: %q, want %q", n.ID, dg.labels[n.ID], want)
		}
	}
	for i := range g.Edges {
		e := &g.Edges[i]
		if want := linesText(edgeLines(e)); dg.labels[e.Src+"->"+e.Dst] != want {
			t.Errorf("dot label of %s->%s: %q, want %q", e.Src, e.Dst, dg.labels[e.Src+"->"+e.Dst], want)
		}
	}
	mmd := render(t, g, FormatMermaid)
	if err := checkMermaidMatches(string(mmd), g); err != nil {
		t.Errorf("mermaid: %v", err)
	}
	js := render(t, g, FormatJSON)
	if err := checkJSONMatches(js, g); err != nil {
		t.Errorf("json: %v", err)
	}
	golden.Check(t, "testdata/hostile.dot", dot)
	golden.Check(t, "testdata/hostile.mermaid", mmd)
	golden.Check(t, "testdata/hostile.json", js)
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func TestDisplay(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain name", "plain name"},
		{"日本語", "日本語"},
		{"a\nb", `a\x0ab`},
		{"\x1b[31m", `\x1b[31m`},
		{"\xff\xfe", `\xff\xfe`},
		{"rtl\u202e", `rtl\u202e`},
		{"\u0085", `\u0085`},
		{"ok\ufffd", `ok\ufffd`},
	}
	for _, c := range cases {
		if got := display(c.in); got != c.want {
			t.Errorf("display(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNodeID(t *testing.T) {
	cases := []struct {
		kind NodeKind
		name string
		want string
	}{
		{KindWorkload, "api", "workload:api"},
		{KindWorkload, "default/api-7d9f", "workload:default/api-7d9f"},
		{KindFQDN, "*.example.com", "fqdn:*.example.com"},
		{KindAddr, "2001:2::1", "addr:2001:2::1"},
		{KindWorkload, `"];evil`, "workload:%22%5D%3Bevil"},
		{KindWorkload, "a b\\", "workload:a%20b%5C"},
		{KindWorkload, "%41", "workload:%2541"},
		{KindWorkload, "é", "workload:%C3%A9"},
	}
	for _, c := range cases {
		if got := nodeID(c.kind, c.name); got != c.want {
			t.Errorf("nodeID(%s, %q) = %q, want %q", c.kind, c.name, got, c.want)
		}
	}
}
