package promtest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Outcome is what one query returned from a live Prometheus.
type Outcome struct {
	Query
	// Expanded is the expression sent, Grafana variables replaced.
	Expanded string
	Result   Result
	Err      error
}

// HasData reports whether the query returned at least one sample.
func (o Outcome) HasData() bool { return o.Err == nil && len(o.Result.Samples) > 0 }

// State is "DATA", "EMPTY" or "ERROR".
func (o Outcome) State() string {
	switch {
	case o.Err != nil:
		return "ERROR"
	case len(o.Result.Samples) > 0:
		return "DATA"
	}
	return "EMPTY"
}

// CheckAll expands every query with vars and runs it against s, in order.
// A query that cannot be expanded or that Prometheus refuses has Err set.
func (s *Server) CheckAll(ctx context.Context, queries []Query, vars map[string]string) []Outcome {
	out := make([]Outcome, 0, len(queries))
	for _, q := range queries {
		o := Outcome{Query: q}
		o.Expanded, o.Err = Expand(q.Expr, vars)
		if o.Err == nil {
			o.Result, o.Err = s.Query(ctx, o.Expanded)
		}
		out = append(out, o)
	}
	return out
}

// Report renders outcomes as a table: state, number of samples, origin,
// and the error where there is one.
func Report(outcomes []Outcome) string {
	var b strings.Builder
	for _, o := range outcomes {
		fmt.Fprintf(&b, "%-5s %4d  %s", o.State(), len(o.Result.Samples), o.Origin)
		if o.Err != nil {
			fmt.Fprintf(&b, ": %v", o.Err)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Problems says what is wrong with the outcomes of CheckAll, one line per
// problem (none when all is well): a query that failed; a dashboard query
// that returned no data (it names a metric or label the target does not
// export, or the traffic did not make it); an alert expression that
// returned data but is not in firing, or that is in firing but returned
// nothing.
func Problems(outcomes []Outcome, firing []string) []string {
	var out []string
	fired := map[string]bool{}
	for _, o := range outcomes {
		switch {
		case o.Err != nil:
			out = append(out, fmt.Sprintf("%s: %v", o.Origin, o.Err))
		case o.Alert != "":
			fired[o.Alert] = fired[o.Alert] || o.HasData()
		case !o.HasData():
			out = append(out, fmt.Sprintf("%s returned no data:\n%s", o.Origin, o.Expanded))
		}
	}
	want := map[string]bool{}
	for _, a := range firing {
		want[a] = true
		if !fired[a] {
			out = append(out, fmt.Sprintf("alert %s: its expression returned no data, want it firing", a))
		}
	}
	for _, a := range slices.Sorted(maps.Keys(fired)) {
		if fired[a] && !want[a] {
			out = append(out, fmt.Sprintf("alert %s: its expression returned data, want it quiet", a))
		}
	}
	return out
}

// FlowMap is what the flow map (the dashboards' Node Graph panel) shows.
type FlowMap struct {
	Edges []FlowEdge
	Nodes []FlowNode
}

// FlowEdge is one edge of the flow map: the labels Grafana's node graph
// reads.
type FlowEdge struct{ ID, Source, Target, Color string }

// FlowNode is one node of the flow map.
type FlowNode struct{ ID, Title, Subtitle string }

// FlowMapOf collects the flow map from outcomes, edges and nodes sorted by
// ID, and the problems with its shape: not exactly one node-graph query for
// edges and one for nodes, an edge whose id is not "source->target", a
// node whose title is not its id or that lacks a subtitle (its group).
func FlowMapOf(outcomes []Outcome) (FlowMap, []string) {
	var (
		m        FlowMap
		problems []string
		seen     = map[string]int{}
	)
	for _, o := range outcomes {
		if o.PanelType != "nodeGraph" {
			continue
		}
		seen[o.RefID]++
		for _, s := range o.Result.Samples {
			l := s.Labels
			switch o.RefID {
			case "edges":
				e := FlowEdge{ID: l["id"], Source: l["source"], Target: l["target"], Color: l["color"]}
				if e.Source == "" || e.Target == "" || e.ID != e.Source+"->"+e.Target {
					problems = append(problems, fmt.Sprintf("flow map edge %v: want id = source->target", l))
				}
				m.Edges = append(m.Edges, e)
			case "nodes":
				n := FlowNode{ID: l["id"], Title: l["title"], Subtitle: l["subtitle"]}
				if n.ID == "" || n.Title != n.ID || n.Subtitle == "" {
					problems = append(problems, fmt.Sprintf("flow map node %v: want title = id and a subtitle (its group)", l))
				}
				m.Nodes = append(m.Nodes, n)
			}
		}
	}
	if len(seen) != 2 || seen["edges"] != 1 || seen["nodes"] != 1 {
		problems = append(problems, fmt.Sprintf("node graph queries by target %v, want one edges and one nodes", seen))
	}
	slices.SortFunc(m.Edges, func(a, b FlowEdge) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(m.Nodes, func(a, b FlowNode) int { return strings.Compare(a.ID, b.ID) })
	return m, problems
}

// CheckRules waits (polling, at most within) until Prometheus has
// evaluated every rule it loaded, then says what is wrong, one line per
// problem: no rule loaded, a rule that failed to evaluate, active alerts
// (pending or firing) other than firing. The error is for a server that
// does not answer, or rules still not evaluated after within.
func (s *Server) CheckRules(ctx context.Context, firing []string, within time.Duration) ([]string, error) {
	deadline := time.Now().Add(within)
	for {
		rules, err := s.RuleHealth(ctx)
		if err != nil {
			return nil, err
		}
		if len(rules) == 0 {
			return []string{"Prometheus loaded no rule"}, nil
		}
		var problems, active []string
		pending := false
		for _, r := range rules {
			switch r.Health {
			case "ok":
			case "unknown":
				pending = true
			default:
				problems = append(problems, fmt.Sprintf("rule %s: health %s: %s", r.Name, r.Health, r.LastError))
			}
			if r.Firing {
				active = append(active, r.Name)
			}
		}
		if !pending {
			slices.Sort(active)
			want := slices.Sorted(slices.Values(firing))
			if !slices.Equal(active, want) {
				problems = append(problems, fmt.Sprintf("active alerts %q, want %q", active, want))
			}
			return problems, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("promtest: rules not all evaluated after %v: %+v", within, rules)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("promtest: rules: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
