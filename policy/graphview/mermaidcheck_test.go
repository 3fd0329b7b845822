package graphview

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A strict reader for the Mermaid that WriteMermaid emits, used as a test
// oracle: every line must be one of the statements we write, every label a
// quoted string whose text holds no quote, bar, bracket, backtick or raw
// markup (only #NN; entity codes and our <b>, <i>, <br/> tags). Returns the
// decoded label texts.

// labelRE is a quoted label's content.
const labelRE = `((?:[^"<>#|\x60\[\]\n]|#[0-9]+;|<b>|</b>|<i>|</i>|<br/>)*)`

var mermaidLineRE = []*regexp.Regexp{
	regexp.MustCompile(`^---$`),
	regexp.MustCompile(`^title: "[A-Za-z ,.():]*"$`),
	regexp.MustCompile(`^flowchart LR$`),
	regexp.MustCompile(`^  %% [a-z :-]*$`),
	regexp.MustCompile(`^  subgraph (workloads|outside) \["(workloads|outside)"\]$`),
	regexp.MustCompile(`^  end$`),
	regexp.MustCompile(`^ {2,4}(n[0-9]+)(\(|\{\{|\[/|\[\[|\(\()"` + labelRE + `"(\)|\}\}|/\]|\]\]|\)\))$`),
	regexp.MustCompile(`^  (n[0-9]+) (-->|-\.->)\|"` + labelRE + `"\| (n[0-9]+)$`),
	regexp.MustCompile(`^  classDef [a-z]+ fill:#[0-9a-f]{6},stroke:#[0-9a-f]{6},color:#[0-9a-f]{6}$`),
	regexp.MustCompile(`^  class (n[0-9]+(?:,n[0-9]+)*) [a-z]+$`),
	regexp.MustCompile(`^  linkStyle ([0-9]+) stroke:#[0-9a-f]{6},stroke-width:[0-9.]+px,color:#[0-9a-f]{6}$`),
}

var (
	entityRE = regexp.MustCompile(`#([0-9]+);`)
	tagRE    = regexp.MustCompile(`<b>|</b>|<i>|</i>`)
)

// decodeMermaid turns a label back into text: tags out, <br/> to newlines,
// entities decoded.
func decodeMermaid(s string) string {
	s = tagRE.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "<br/>", "\n")
	return entityRE.ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.Atoi(m[1 : len(m)-1])
		return string(rune(n))
	})
}

type mermaidGraph struct {
	nodes     map[string]string // n0 → label text
	edges     [][2]string       // (n0, n1)
	edgeText  []string
	linkStyle int // how many linkStyle lines, checked to be 0..n-1
}

func parseMermaid(src string) (*mermaidGraph, error) {
	if !strings.HasSuffix(src, "\n") {
		return nil, fmt.Errorf("no final newline")
	}
	mg := &mermaidGraph{nodes: map[string]string{}}
	depth := 0
	for i, line := range strings.Split(strings.TrimSuffix(src, "\n"), "\n") {
		which := -1
		var m []string
		for j, re := range mermaidLineRE {
			if m = re.FindStringSubmatch(line); m != nil {
				which = j
				break
			}
		}
		switch which {
		case -1:
			return nil, fmt.Errorf("line %d: not a statement we write: %q", i+1, line)
		case 4:
			depth++
		case 5:
			depth--
		case 6:
			if _, dup := mg.nodes[m[1]]; dup {
				return nil, fmt.Errorf("line %d: node %s defined twice", i+1, m[1])
			}
			mg.nodes[m[1]] = decodeMermaid(m[3])
		case 7:
			mg.edges = append(mg.edges, [2]string{m[1], m[4]})
			mg.edgeText = append(mg.edgeText, decodeMermaid(m[3]))
		case 10:
			if n, _ := strconv.Atoi(m[1]); n != mg.linkStyle {
				return nil, fmt.Errorf("line %d: linkStyle %d out of order", i+1, n)
			}
			mg.linkStyle++
		}
		if depth < 0 || depth > 1 {
			return nil, fmt.Errorf("line %d: subgraphs unbalanced", i+1)
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("subgraph not closed")
	}
	return mg, nil
}

// checkMermaidMatches checks that the flowchart draws exactly g's nodes and
// edges, with the labels' text intact.
func checkMermaidMatches(src string, g *Graph) error {
	mg, err := parseMermaid(src)
	if err != nil {
		return err
	}
	if len(mg.nodes) != len(g.Nodes) {
		return fmt.Errorf("%d nodes, want %d", len(mg.nodes), len(g.Nodes))
	}
	idx := map[string]string{}
	for i := range g.Nodes {
		id := fmt.Sprintf("n%d", i)
		idx[g.Nodes[i].ID] = id
		if want := linesText(nodeLines(&g.Nodes[i])); mg.nodes[id] != want {
			return fmt.Errorf("node %s label %q, want %q", id, mg.nodes[id], want)
		}
	}
	if len(mg.edges) != len(g.Edges) || mg.linkStyle != len(g.Edges) {
		return fmt.Errorf("%d edges and %d link styles, want %d", len(mg.edges), mg.linkStyle, len(g.Edges))
	}
	for i := range g.Edges {
		e := &g.Edges[i]
		if want := [2]string{idx[e.Src], idx[e.Dst]}; mg.edges[i] != want {
			return fmt.Errorf("edge %d: %v, want %v", i, mg.edges[i], want)
		}
		if want := linesText(edgeLines(e)); mg.edgeText[i] != want {
			return fmt.Errorf("edge %d label %q, want %q", i, mg.edgeText[i], want)
		}
	}
	return nil
}

// linesText is the plain text of label lines, one per line.
func linesText(lines []labelLine) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = l.text
	}
	return strings.Join(parts, "\n")
}
