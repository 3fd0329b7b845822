package graphview

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// WriteMermaid writes the graph as a Mermaid flowchart (left to right):
// workloads and external peers in two subgraphs, a shape and a class per
// node kind, one link per edge coloured by its status (denied links are
// dotted), and the legend in the diagram's title. Node IDs are n0, n1… in
// node order; every label is quoted with its text entity-coded (#NN;), so
// no name can end a label or inject markup.
func WriteMermaid(w io.Writer, g *Graph) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	legend := make([]string, 0, len(statusOrder))
	for _, s := range statusOrder {
		legend = append(legend, mermaidColourName[s]+" "+statusLegend[s])
	}
	p("---\ntitle: \"Bulkhead communication graph. Edges: %s\"\n---\n", strings.Join(legend, ", "))
	p("flowchart LR\n")
	if !g.Verdicts {
		p("  %%%% no verdict counts in this input: every edge is learned-only\n")
	}
	ids := make(map[string]string, len(g.Nodes))
	for i := range g.Nodes {
		ids[g.Nodes[i].ID] = fmt.Sprintf("n%d", i)
	}
	subgraph := func(name string, inside func(*Node) bool) {
		first := true
		for i := range g.Nodes {
			n := &g.Nodes[i]
			if !inside(n) {
				continue
			}
			if first {
				p("  subgraph %s [\"%s\"]\n", name, name)
				first = false
			}
			p("    %s\n", mermaidNode(ids[n.ID], n))
		}
		if !first {
			p("  end\n")
		}
	}
	subgraph("workloads", func(n *Node) bool { return n.Kind == KindWorkload })
	for i := range g.Nodes {
		if n := &g.Nodes[i]; n.Kind == KindHost {
			p("  %s\n", mermaidNode(ids[n.ID], n))
		}
	}
	subgraph("outside", func(n *Node) bool { return n.Kind != KindWorkload && n.Kind != KindHost })
	for i := range g.Edges {
		e := &g.Edges[i]
		arrow := "-->"
		if e.Status == StatusDenied {
			arrow = "-.->"
		}
		p("  %s %s|\"%s\"| %s\n", ids[e.Src], arrow, mermaidLines(edgeLines(e)), ids[e.Dst])
	}
	for _, k := range []NodeKind{KindWorkload, KindHost, KindFQDN, KindCIDR, KindAddr, KindWorld} {
		st := nodeStyles[k]
		var members []string
		for i := range g.Nodes {
			if g.Nodes[i].Kind == k {
				members = append(members, ids[g.Nodes[i].ID])
			}
		}
		if len(members) == 0 {
			continue
		}
		p("  classDef %s fill:%s,stroke:%s,color:#212121\n", k, st.fill, st.stroke)
		p("  class %s %s\n", strings.Join(members, ","), k)
	}
	for i := range g.Edges {
		c := statusColour[g.Edges[i].Status]
		p("  linkStyle %d stroke:%s,stroke-width:%spx,color:%s\n", i, c, penWidth(&g.Edges[i]), c)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("graphview: write mermaid: %w", err)
	}
	return nil
}

// mermaidColourName names the colours in the title's legend.
var mermaidColourName = map[Status]string{
	StatusAllowed: "green", StatusReported: "orange", StatusDenied: "red dotted", StatusLearned: "grey",
}

// mermaidShape is the opening and closing of each kind's node shape.
var mermaidShape = map[NodeKind][2]string{
	KindWorkload: {"(", ")"},   // rounded box
	KindHost:     {"{{", "}}"}, // hexagon
	KindFQDN:     {"[/", "/]"}, // parallelogram
	KindCIDR:     {"[[", "]]"}, // subroutine box
	KindAddr:     {"[[", "]]"},
	KindWorld:    {"((", "))"}, // circle
}

func mermaidNode(id string, n *Node) string {
	sh := mermaidShape[n.Kind]
	return fmt.Sprintf("%s%s\"%s\"%s", id, sh[0], mermaidLines(nodeLines(n)), sh[1])
}

// mermaidLines renders label lines for a quoted Mermaid label.
func mermaidLines(lines []labelLine) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteString("<br/>")
		}
		t := mermaidEscape(l.text)
		switch {
		case l.bold:
			b.WriteString("<b>" + t + "</b>")
		case l.dim:
			b.WriteString("<i>" + t + "</i>")
		default:
			b.WriteString(t)
		}
	}
	return b.String()
}

// mermaidEscape entity-codes (#NN;) every character of s but letters,
// digits, spaces and punctuation that is inert inside a quoted label.
func mermaidEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" .,:/_-+*@=()?!{}", r)):
			b.WriteRune(r)
		case r >= 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '…'):
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "#%d;", r)
		}
	}
	return b.String()
}
