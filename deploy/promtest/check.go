package promtest

import (
	"context"
	"fmt"
	"strings"
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
