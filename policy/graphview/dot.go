package graphview

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteDot writes the graph in Graphviz's DOT language: workloads in a
// "workloads" cluster, the host and external peers around it (clients to
// the left, servers to the right, as the layout ranks them); one edge per
// pair of nodes coloured by its status; the legend as the graph's label. Node IDs are the view's IDs (printable ASCII
// without quotes or backslashes, by construction); every label is an
// HTML-like label with its text entity-escaped, so no name can end a string
// or inject an attribute.
func WriteDot(w io.Writer, g *Graph) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	p("// Bulkhead communication graph: bulkhead graph --format dot\n")
	p("digraph bulkhead {\n")
	p("  graph [rankdir=LR, fontname=\"Helvetica,Arial,sans-serif\", fontsize=10, nodesep=0.35, ranksep=0.9, labelloc=b, labeljust=l, label=<%s>];\n", dotLegend(g))
	p("  node [fontname=\"Helvetica,Arial,sans-serif\", fontsize=11, margin=\"0.15,0.06\"];\n")
	p("  edge [fontname=\"Helvetica,Arial,sans-serif\", fontsize=9, arrowsize=0.7];\n")
	cluster := func(name, title string, inside func(*Node) bool) {
		var members []*Node
		for i := range g.Nodes {
			if inside(&g.Nodes[i]) {
				members = append(members, &g.Nodes[i])
			}
		}
		if len(members) == 0 {
			return
		}
		p("  subgraph cluster_%s {\n", name)
		p("    label=<<b>%s</b>>; style=\"rounded,dashed\"; color=\"#90a4ae\"; fontcolor=\"#546e7a\";\n", title)
		for _, n := range members {
			p("    %s\n", dotNode(n))
		}
		p("  }\n")
	}
	cluster("workloads", "workloads", func(n *Node) bool { return n.Kind == KindWorkload })
	for i := range g.Nodes {
		if g.Nodes[i].Kind != KindWorkload {
			p("  %s\n", dotNode(&g.Nodes[i]))
		}
	}
	for i := range g.Edges {
		p("  %s\n", dotEdge(&g.Edges[i]))
	}
	p("}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("graphview: write dot: %w", err)
	}
	return nil
}

func dotNode(n *Node) string {
	st := nodeStyles[n.Kind]
	return fmt.Sprintf("%s [shape=%s, style=%q, fillcolor=%q, color=%q, tooltip=%q, label=<%s>];",
		dotID(n.ID), st.dotShape, st.dotStyle, st.fill, st.stroke, n.ID, htmlLines(nodeLines(n)))
}

func dotEdge(e *Edge) string {
	colour := statusColour[e.Status]
	style := "solid"
	if e.Status == StatusDenied {
		style = "dashed"
	}
	return fmt.Sprintf("%s -> %s [color=%q, fontcolor=%q, style=%s, penwidth=%s, tooltip=%q, label=<%s>];",
		dotID(e.Src), dotID(e.Dst), colour, colour, style, penWidth(e), edgeTooltip(e), htmlLines(edgeLines(e)))
}

// dotID quotes a node ID. IDs hold no '"' and no '\' (see nodeID); they are
// escaped all the same, so that dotID is safe for any string but a
// trailing backslash, which no ID has.
func dotID(id string) string {
	return `"` + strings.ReplaceAll(id, `"`, `\"`) + `"`
}

// htmlEscaper escapes text for Graphviz HTML-like labels: an XML dialect
// whose text Graphviz then reads as an escString, where \N, \G… stand for
// the node's or graph's name and \\ for one backslash.
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;", `\`, `\\`)

// htmlLines renders label lines as the content of an HTML-like label.
func htmlLines(lines []labelLine) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteString(`<br/>`)
		}
		t := htmlEscaper.Replace(l.text)
		switch {
		case l.bold:
			b.WriteString("<b>" + t + "</b>")
		case l.dim:
			b.WriteString(`<font point-size="9" color="#455a64">` + t + `</font>`)
		default:
			b.WriteString(t)
		}
	}
	return b.String()
}

// dotLegend is the graph's label: what the colours and shapes mean.
func dotLegend(g *Graph) string {
	var b strings.Builder
	b.WriteString(`<table border="0" cellborder="0" cellspacing="2" cellpadding="1"><tr><td align="left"><b>edges</b></td>`)
	for _, s := range statusOrder {
		fmt.Fprintf(&b, `<td align="left"><font color="%s"><b>&#9632; %s</b></font></td>`, statusColour[s], statusLegend[s])
	}
	b.WriteString(`</tr><tr><td align="left"><b>nodes</b></td>`)
	for _, k := range []NodeKind{KindWorkload, KindHost, KindFQDN, KindCIDR, KindWorld} {
		st := nodeStyles[k]
		fmt.Fprintf(&b, `<td align="left" bgcolor="%s"><font color="%s">%s</font></td>`, st.fill, st.stroke, st.what)
	}
	b.WriteString(`</tr>`)
	if !g.Verdicts {
		b.WriteString(`<tr><td align="left" colspan="6"><font color="#757575">no verdict counts in this input: every edge is learned-only</font></td></tr>`)
	}
	b.WriteString(`</table>`)
	return b.String()
}
