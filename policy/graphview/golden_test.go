package graphview

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/internal/golden"
)

// render returns g in format f (text formats only).
func render(t testing.TB, g *Graph, f Format) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(context.Background(), &b, g, f, nil); err != nil {
		t.Fatalf("write %s: %v", f, err)
	}
	return b.Bytes()
}

func build(t testing.TB, in Input, opt Options) *Graph {
	t.Helper()
	g, err := Build(in, opt)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return g
}

// TestRealisticInput keeps testdata/realistic.input.json (the input of the
// README picture, `make docs-images`) equal to the graph learned here, and
// checks that it reads back as the same input.
func TestRealisticInput(t *testing.T) {
	in := realisticInput()
	var b bytes.Buffer
	if err := in.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/realistic.input.json", b.Bytes())
	back, err := ReadInput(&b)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if d := cmp.Diff(in, back, cmpOpts); d != "" {
		t.Errorf("read back (-want +got):\n%s", d)
	}
}

func TestGolden(t *testing.T) {
	learned := Input{Graph: realisticGraph()}
	cases := []struct {
		name string
		in   Input
		opt  Options
	}{
		{"realistic", realisticInput(), Options{}},
		{"learned", learned, Options{}},
		{"workload-db", realisticInput(), Options{Workload: "db"}},
		{"all-world", learned, Options{MaxExternal: -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := build(t, c.in, c.opt)
			for _, f := range []Format{FormatDot, FormatMermaid, FormatJSON} {
				golden.Check(t, "testdata/"+c.name+"."+string(f), render(t, g, f))
			}
		})
	}
}

// TestStable checks that equal inputs render identically, whatever order
// the graph and verdicts came in.
func TestStable(t *testing.T) {
	a := realisticInput()
	b := realisticInput()
	// reverse the order of everything
	for i, j := 0, len(b.Graph.Edges)-1; i < j; i, j = i+1, j-1 {
		b.Graph.Edges[i], b.Graph.Edges[j] = b.Graph.Edges[j], b.Graph.Edges[i]
	}
	for i, j := 0, len(b.Verdicts)-1; i < j; i, j = i+1, j-1 {
		b.Verdicts[i], b.Verdicts[j] = b.Verdicts[j], b.Verdicts[i]
	}
	for _, f := range []Format{FormatDot, FormatMermaid, FormatJSON} {
		if d := cmp.Diff(string(render(t, build(t, a, Options{}), f)), string(render(t, build(t, b, Options{}), f))); d != "" {
			t.Errorf("%s differs with the input reordered:\n%s", f, d)
		}
	}
}
