package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy/graphview"
)

// bulkhead graph: pictures of the learned communication graph
// (policy/graphview), from graph files or from the running agent.

func init() {
	register(command{
		name: "graph",
		usage: "[--format dot|mermaid|json|svg|png] [-o FILE] [--file GRAPH.json]... [--api SOCKET]\n" +
			"       [--workload NAME] [--app APP,...] [--max-external N] [GRAPH.json...]",
		summary: "draw the learned communication graph (Graphviz dot, Mermaid, JSON, SVG or PNG)",
		run:     runGraph,
	})
}

// fileList is a repeatable flag.
type fileList []string

func (l *fileList) String() string     { return strings.Join(*l, ",") }
func (l *fileList) Set(s string) error { *l = append(*l, s); return nil }

func runGraph(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("graph", stderr)
	format := fs.String("format", "dot", "output: dot, mermaid, json, svg or png (svg and png run Graphviz's dot)")
	out := fs.String("o", "", "write to this file instead of standard output")
	var files fileList
	fs.Var(&files, "file", "draw this graph file instead of asking the agent (repeatable; several are merged): a saved graph, a graph with verdicts, or the agent's state file graph.json")
	var cf clientFlags
	cf.addAPIFlags(fs)
	var opt graphview.Options
	fs.StringVar(&opt.Workload, "workload", "", "only the edges of this workload")
	apps := fs.String("app", "", "only these apps, comma-separated (http, dns, redis…)")
	maxExt := fs.Int("max-external", graphview.DefaultOptions.MaxExternal, "at most this many external nodes; the least used fold into world (0: every external peer is world)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	files = append(files, pos...)
	f, err := graphview.ParseFormat(*format)
	if err != nil {
		return usagef("--format %q: want one of dot, mermaid, json, svg, png", *format)
	}
	if *apps != "" {
		for _, name := range strings.Split(*apps, ",") {
			a, ok := l7.ParseApp(strings.TrimSpace(name))
			if !ok {
				return usagef("--app %q: unknown app (see docs/policy.md for the names)", name)
			}
			opt.Apps = append(opt.Apps, a)
		}
	}
	switch {
	case *maxExt < 0:
		return usagef("--max-external %d: want 0 or more", *maxExt)
	case *maxExt == 0:
		opt.MaxExternal = -1
	default:
		opt.MaxExternal = *maxExt
	}
	if f.Picture() && *out == "" && isTerminal(stdout) {
		return usagef("--format %s writes a picture: give -o FILE or redirect standard output", f)
	}

	in, err := graphInput(ctx, files, &cf)
	if err != nil {
		return err
	}
	g, err := graphview.Build(in, opt)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := graphview.Write(ctx, &buf, g, f, graphview.ExecGraphviz{}); err != nil {
		return err
	}
	return writeOutput(*out, stdout, buf.Bytes())
}

// graphInput reads and merges the graph files, or asks the agent when there
// are none.
func graphInput(ctx context.Context, files []string, cf *clientFlags) (graphview.Input, error) {
	if len(files) > 0 {
		ins := make([]graphview.Input, 0, len(files))
		for _, name := range files {
			in, err := readFile(name, "graph", graphview.ReadInput)
			if err != nil {
				return graphview.Input{}, err
			}
			ins = append(ins, in)
		}
		return graphview.MergeInputs(0, ins...), nil
	}
	var in graphview.Input
	err := cf.call(ctx, func(ctx context.Context, c *api.Client) error {
		raw, err := c.GraphWithVerdicts(ctx) // an agent that counts no verdicts answers the bare graph
		if errors.Is(err, api.ErrUnavailable) {
			return fmt.Errorf("the agent at %s has no learned graph to show: %w", c.Target(), err)
		}
		if err != nil {
			return fmt.Errorf("%w (to draw a saved graph instead: --file GRAPH.json)", err)
		}
		if in, err = graphview.ReadInput(bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("the agent at %s: %w", c.Target(), err)
		}
		return nil
	})
	return in, err
}
