package deploy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/deploy/promtest"
)

// seriesLabels maps every series name the agent exports (histograms as
// their _bucket, _sum and _count series) to the labels it may carry, plus
// `up`, which Prometheus makes. Prometheus adds job and instance to all.
func seriesLabels() map[string][]string {
	out := map[string][]string{"up": {"job", "instance"}}
	for _, f := range metrics.Families() {
		for _, s := range f.Series() {
			ls := append([]string{"job", "instance"}, f.Labels...)
			if strings.HasSuffix(s, "_bucket") {
				ls = append(ls, "le")
			}
			out[s] = ls
		}
	}
	return out
}

// checkPromQL parses expr (Grafana variables expanded) with Prometheus'
// own parser and checks that every metric it selects is exported by the
// agent, that every label a selector matches exists on that metric, and
// that every label used for grouping or vector matching exists on one of
// the expression's metrics or is made by label_replace or label_join.
func checkPromQL(expr string) []error {
	expanded, err := promtest.Expand(expr, promtest.Vars("bulkhead"))
	if err != nil {
		return []error{err}
	}
	node, err := parser.NewParser(parser.Options{}).ParseExpr(expanded)
	if err != nil {
		return []error{fmt.Errorf("parse %q: %w", expanded, err)}
	}
	known := seriesLabels()
	var errs []error
	usable := map[string]bool{}
	var grouping []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			labels, ok := known[n.Name]
			if !ok {
				errs = append(errs, fmt.Errorf("metric %q is not exported by the agent (see agent/metrics catalog)", n.Name))
				return nil
			}
			for _, l := range labels {
				usable[l] = true
			}
			for _, m := range n.LabelMatchers {
				if m.Name != "__name__" && !slices.Contains(labels, m.Name) {
					errs = append(errs, fmt.Errorf("%s has no label %q", n.Name, m.Name))
				}
			}
		case *parser.AggregateExpr:
			grouping = append(grouping, n.Grouping...)
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				grouping = append(grouping, n.VectorMatching.MatchingLabels...)
				grouping = append(grouping, n.VectorMatching.Include...)
			}
		case *parser.Call:
			switch n.Func.Name {
			case "label_replace", "label_join":
				if s, ok := n.Args[1].(*parser.StringLiteral); ok {
					usable[s.Val] = true
				}
			}
		}
		return nil
	})
	for _, g := range grouping {
		if !usable[g] {
			errs = append(errs, fmt.Errorf("grouping or matching label %q is on none of the expression's metrics", g))
		}
	}
	return errs
}

func TestCheckPromQL(t *testing.T) {
	tests := []struct {
		expr string
		want []string // substrings of the errors, in order
	}{
		{`sum by (verdict) (rate(bulkhead_verdicts_total{instance=~"$instance"}[$__rate_interval]))`, nil},
		{`histogram_quantile(0.9, sum by (le) (rate(bulkhead_verdict_latency_seconds_bucket[5m])))`, nil},
		{`up{job="bulkhead"} == 0`, nil},
		{`label_replace(sum by (dst) (bulkhead_connections_total), "id", "$1", "dst", "(.*)") or on (id) vector(0)`, nil},
		{`rate(bulkhead_verdict_total[5m])`, []string{`metric "bulkhead_verdict_total" is not exported`}},
		{`bulkhead_verdicts_total{verdikt="drop"}`, []string{`has no label "verdikt"`}},
		{`bulkhead_verdict_latency_seconds_sum{le="1"}`, []string{`has no label "le"`}},
		{`sum by (queue) (bulkhead_verdicts_total)`, []string{`grouping or matching label "queue"`}},
		{`bulkhead_flows_active / on (proto) bulkhead_flows_limit`, []string{`grouping or matching label "proto"`}},
		{`rate(bulkhead_verdicts_total[$intervall])`, []string{"undefined variable intervall"}},
		{`sum(rate(bulkhead_verdicts_total[5m])`, []string{"parse"}},
	}
	for _, tt := range tests {
		errs := checkPromQL(tt.expr)
		var got []string
		for _, err := range errs {
			got = append(got, err.Error())
		}
		if len(got) != len(tt.want) {
			t.Errorf("checkPromQL(%q) = %q, want %d errors %q", tt.expr, got, len(tt.want), tt.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tt.want[i]) {
				t.Errorf("checkPromQL(%q) error %d = %q, want it to contain %q", tt.expr, i, got[i], tt.want[i])
			}
		}
	}
}
