package graphview

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// requireDot returns the path of Graphviz's dot. The SVG tests are part of
// the feature (issue 6: the picture's nodes and edges match the graph):
// without Graphviz they fail, they never skip.
func requireDot(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("dot")
	if err != nil {
		t.Fatalf("Graphviz's dot is not installed (%v): install the Debian package graphviz (scripts/install-deps.sh does)", err)
	}
	return p
}

// svgTitles returns the titles of the SVG's node and edge groups, as
// Graphviz writes them: the node ID, and TAIL->HEAD for edges.
func svgTitles(svg []byte) (nodes, edges []string, texts map[string]string, err error) {
	dec := xml.NewDecoder(bytes.NewReader(svg))
	dec.Strict = false // the SVG has a DOCTYPE
	texts = map[string]string{}
	var class, title string
	var inTitle bool
	var text strings.Builder
	depth, groupDepth := 0, -1
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nodes, edges, texts, nil
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("svg: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if t.Name.Local == "g" && groupDepth < 0 {
				for _, a := range t.Attr {
					if a.Name.Local == "class" && (a.Value == "node" || a.Value == "edge") {
						class, title, groupDepth = a.Value, "", depth
						text.Reset()
					}
				}
			}
			inTitle = t.Name.Local == "title" && groupDepth > 0
		case xml.EndElement:
			if t.Name.Local == "text" && groupDepth > 0 {
				text.WriteByte('\n')
			}
			if depth == groupDepth {
				if class == "node" {
					nodes = append(nodes, title)
				} else {
					edges = append(edges, title)
				}
				texts[title] = strings.TrimSuffix(text.String(), "\n")
				groupDepth = -1
			}
			inTitle = false
			depth--
		case xml.CharData:
			switch {
			case inTitle:
				title += string(t)
			case groupDepth > 0:
				text.Write(t)
			}
		}
	}
}

// checkSVG checks that the picture has exactly g's nodes and edges.
func checkSVG(t *testing.T, svg []byte, g *Graph) map[string]string {
	t.Helper()
	nodes, edges, texts, err := svgTitles(svg)
	if err != nil {
		t.Fatal(err)
	}
	var wantNodes, wantEdges []string
	for _, n := range g.Nodes {
		wantNodes = append(wantNodes, n.ID)
	}
	for _, e := range g.Edges {
		wantEdges = append(wantEdges, e.Src+"->"+e.Dst)
	}
	slices.Sort(wantNodes)
	slices.Sort(wantEdges)
	slices.Sort(nodes)
	slices.Sort(edges)
	if d := cmp.Diff(wantNodes, nodes); d != "" {
		t.Errorf("SVG node titles (-graph +svg):\n%s", d)
	}
	if d := cmp.Diff(wantEdges, edges); d != "" {
		t.Errorf("SVG edge titles (-graph +svg):\n%s", d)
	}
	return texts
}

// runDot lays dot out as SVG and fails on any warning.
func runDot(t *testing.T, dot []byte) []byte {
	t.Helper()
	var out, stderr bytes.Buffer
	cmd := exec.Command(requireDot(t), "-Tsvg")
	cmd.Stdin = bytes.NewReader(dot)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dot -Tsvg: %v: %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("dot -Tsvg warned: %s", stderr.String())
	}
	return out.Bytes()
}

func TestSVGMatchesGraph(t *testing.T) {
	cases := []struct {
		name string
		in   Input
		opt  Options
	}{
		{"realistic", realisticInput(), Options{}},
		{"learned", Input{Graph: realisticGraph()}, Options{}},
		{"filtered", realisticInput(), Options{Workload: "api"}},
		{"hostile", hostileInput(), Options{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := build(t, c.in, c.opt)
			texts := checkSVG(t, runDot(t, render(t, g, FormatDot)), g)
			// The names are drawn as text, intact.
			for i := range g.Nodes {
				n := &g.Nodes[i]
				if want := nodeLines(n)[0].text; !strings.Contains(texts[n.ID], want) {
					t.Errorf("node %s: text %q does not show its name %q", n.ID, texts[n.ID], want)
				}
			}
		})
	}
}

// TestExecGraphviz renders through the Graphviz interface, as bulkhead
// graph --format svg|png does.
func TestExecGraphviz(t *testing.T) {
	requireDot(t)
	g := build(t, realisticInput(), Options{})
	var svg bytes.Buffer
	if err := Write(context.Background(), &svg, g, FormatSVG, ExecGraphviz{}); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, svg.Bytes(), g)
	var png bytes.Buffer
	if err := Write(context.Background(), &png, g, FormatPNG, ExecGraphviz{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png.Bytes(), []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("png output does not start with the PNG signature: % x", png.Bytes()[:min(8, png.Len())])
	}
}

func TestExecGraphvizMissing(t *testing.T) {
	g := build(t, realisticInput(), Options{})
	err := Write(context.Background(), io.Discard, g, FormatSVG, ExecGraphviz{Program: "bulkhead-no-such-dot"})
	if !errors.Is(err, ErrNoGraphviz) {
		t.Fatalf("err = %v, want ErrNoGraphviz", err)
	}
	for _, want := range []string{`"bulkhead-no-such-dot"`, "apt-get install graphviz", "render svg"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestExecGraphvizFails(t *testing.T) {
	dot := requireDot(t)
	_, err := ExecGraphviz{Program: dot}.Render(context.Background(), "svg", []byte("digraph { a -> }"))
	if err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("err = %v, want dot's syntax error", err)
	}
}

// TestDocsImage checks that the README picture (make docs-images) draws the
// realistic graph: every node and edge, nothing else.
func TestDocsImage(t *testing.T) {
	svg, err := os.ReadFile("../../docs/images/graph.svg")
	if err != nil {
		t.Fatalf("%v (run make docs-images)", err)
	}
	checkSVG(t, svg, build(t, realisticInput(), Options{}))
}
