package promtest_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"bulkhead.dev/bulkhead/deploy/promtest"
)

func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		`rate(x{instance=~"$instance"}[$__rate_interval])`, `${job:regex}`, `[[group]]`, `$1 $$ ${} [[]] $`, `label_replace(x,"a","$1","b","(.*)")`,
	} {
		f.Add(s)
	}
	vars := promtest.Vars("bulkhead")
	f.Fuzz(func(t *testing.T, expr string) {
		out, err := promtest.Expand(expr, vars)
		if err != nil {
			if !strings.Contains(err.Error(), "undefined variable") {
				t.Errorf("Expand(%q): unexpected error %v", expr, err)
			}
			return
		}
		if !strings.Contains(expr, "$") && !strings.Contains(expr, "[[") && out != expr {
			t.Errorf("Expand(%q) = %q: changed an expression without variables", expr, out)
		}
		// A defined variable standing alone expands to its value.
		if v, ok := vars[strings.TrimPrefix(expr, "$")]; ok && strings.HasPrefix(expr, "$") && out != v {
			t.Errorf("Expand(%q) = %q, want %q", expr, out, v)
		}
	})
}

func FuzzQueries(f *testing.F) {
	f.Add([]byte(testDashboard), []byte(testRules))
	f.Add([]byte(`{"panels":[{"panels":[{"panels":[]}]}]}`), []byte("groups: []"))
	f.Add([]byte(`[]`), []byte(":"))
	f.Fuzz(func(t *testing.T, dash, rules []byte) {
		fsys := fstest.MapFS{
			"grafana/dashboards/d.json":       {Data: dash},
			"prometheus/bulkhead-alerts.yaml": {Data: rules},
		}
		qs, err := promtest.AllQueries(fsys)
		if err != nil {
			return
		}
		for _, q := range qs {
			if q.Origin == "" || q.File == "" {
				t.Errorf("query without origin: %+v", q)
			}
		}
	})
}
