package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/modes"
	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/policy/graphview"
	"bulkhead.dev/bulkhead/policy/learn"
)

// Learned is the graph the agent learned.
type Learned struct {
	// Graph is the learned graph as the agent serves it.
	Graph learn.Snapshot
	// File is where it was saved (the input of "bulkhead policy generate").
	File string
	// Events are the "learned" events the agent wrote.
	Events []events.Event
}

// WantEdges are the edges the shop's normal traffic makes, as
// "SRC → DST PROTO/PORT APP" (peers as learn.Peer prints them: FQDN
// destinations as fqdn:NAME).
var WantEdges = []string{
	"frontend → api tcp/8080 http",
	"api → db tcp/6379 redis",
	"api → dns udp/53 dns",
	"api → fqdn:" + PaymentsName + " tcp/443 tls",
}

// EdgeString renders an edge like WantEdges.
func EdgeString(e *learn.Edge) string {
	return fmt.Sprintf("%s → %s %s/%d %s", e.Src, e.Dst, e.Proto, e.Port, e.App)
}

// EventEdge renders the edge a flow event is about like WantEdges.
func EventEdge(ev *events.Event) string {
	peer := func(e events.Endpoint) string {
		if e.Kind == "fqdn" {
			return "fqdn:" + e.Workload
		}
		return e.Workload
	}
	return fmt.Sprintf("%s → %s %s/%d %s", peer(ev.Src), peer(ev.Dst), ev.Proto, ev.Dst.Port, ev.App)
}

// FetchGraph reads the learned graph from the agent (GET /v1/graph) until
// it holds every edge of WantEdges (or 10 s pass), saves it to
// Dir/graph.json and returns it with the learned events so far.
func (w *World) FetchGraph(ctx context.Context) (Learned, error) {
	a := w.Agent
	if a == nil {
		return Learned{}, errors.New("scenario: the agent is not running")
	}
	var (
		l    Learned
		raw  []byte
		last error
	)
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, last = a.Client.Graph(ctx)
		if last == nil {
			l.Graph, last = learn.ReadJSON(bytes.NewReader(raw))
		}
		if last == nil {
			last = missingEdges(&l.Graph)
		}
		if last == nil || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return l, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if last != nil {
		return l, fmt.Errorf("scenario: the learned graph: %w", last)
	}
	l.File = filepath.Join(w.Dir, "graph.json")
	if err := os.WriteFile(l.File, raw, 0o600); err != nil {
		return l, fmt.Errorf("scenario: save the graph: %w", err)
	}
	evs, err := a.Events.Since(0)
	if err != nil {
		return l, err
	}
	l.Events = Filter(evs, func(ev *events.Event) bool { return ev.Type == events.Learned })
	return l, nil
}

// missingEdges lists the edges of WantEdges the graph lacks.
func missingEdges(g *learn.Snapshot) error {
	have := map[string]bool{}
	for i := range g.Edges {
		have[EdgeString(&g.Edges[i])] = true
	}
	var missing []string
	for _, e := range WantEdges {
		if !have[e] {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		learned := slices.Sorted(maps.Keys(have))
		return fmt.Errorf("edges not learned: %s (learned: %s)", strings.Join(missing, "; "), strings.Join(learned, "; "))
	}
	return nil
}

// Generated is the policy made from the learned graph.
type Generated struct {
	// Command is the command line that made it.
	Command string
	// File is the policy file; YAML its text.
	File string
	YAML string
}

// GeneratePolicy runs "bulkhead policy generate" on the learned graph.
func (w *World) GeneratePolicy(ctx context.Context, l Learned) (Generated, error) {
	g := Generated{File: filepath.Join(w.Dir, "shop.yaml")}
	r, err := w.Agent.CLI(ctx, "policy", "generate", "--name", "shop", "-o", g.File, l.File)
	g.Command = r.Command
	if err != nil {
		return g, err
	}
	b, err := os.ReadFile(g.File)
	if err != nil {
		return g, fmt.Errorf("scenario: read the generated policy: %w", err)
	}
	g.YAML = string(b)
	return g, nil
}

// LoadPolicy copies the generated policy into the agent's policy directory
// and runs "bulkhead policy reload".
func (w *World) LoadPolicy(ctx context.Context, g Generated) (CLIResult, error) {
	dst := filepath.Join(w.Agent.PolicyDir, filepath.Base(g.File))
	if err := os.WriteFile(dst, []byte(g.YAML), 0o600); err != nil {
		return CLIResult{}, fmt.Errorf("scenario: install the policy: %w", err)
	}
	return w.Agent.CLI(ctx, "policy", "reload")
}

// Protect switches every policy group that has a mode to protect with
// "bulkhead mode GROUP protect", and returns each command's result.
func (w *World) Protect(ctx context.Context) ([]CLIResult, error) {
	entries, err := w.Agent.Client.Modes(ctx)
	if err != nil {
		return nil, fmt.Errorf("scenario: list the modes: %w", err)
	}
	var out []CLIResult
	for _, e := range entries {
		if e.Mode == modes.Protect {
			continue
		}
		r, err := w.Agent.CLI(ctx, "mode", e.Group, "protect")
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	if len(out) == 0 {
		return nil, errors.New("scenario: the policy has no group to protect")
	}
	return out, nil
}

// Graph asks the agent for its graph with "bulkhead graph --format json"
// and returns the view model: nodes, and edges with their services, L7
// summaries and verdict counts.
func (w *World) Graph(ctx context.Context) (graphview.Graph, CLIResult, error) {
	var g graphview.Graph
	r, err := w.Agent.CLI(ctx, "graph", "--format", "json")
	if err != nil {
		return g, r, err
	}
	// Fields a newer view model adds are ignored: the demo reads only what
	// it prints.
	if err := json.Unmarshal([]byte(r.Output), &g); err != nil {
		return g, r, fmt.Errorf("scenario: %s: bad view model: %w", r.Command, err)
	}
	return g, r, nil
}

// ValueString renders one learned L7 value on one line: "GET
// /api/orders/{id}", "INCR", "payments.example.com". The HTTP Host, which
// repeats the server's address, is left out.
func ValueString(v learn.Value) string {
	var parts []string
	for i, s := range v.Values {
		if s != "" && policy.Attr(i) != policy.AttrHost {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}
