package promtest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/deploy/promtest"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"instance": ".*", "__rate_interval": "10s", "job": "bulkhead"}
	tests := []struct {
		expr, want, err string
	}{
		{`rate(x{instance=~"$instance"}[$__rate_interval])`, `rate(x{instance=~".*"}[10s])`, ""},
		{`x{job="${job}"}`, `x{job="bulkhead"}`, ""},
		{`x{job="${job:regex}"}`, `x{job="bulkhead"}`, ""},
		{`x{job="[[job]]"}`, `x{job="bulkhead"}`, ""},
		{`label_replace(x, "id", "$1", "src", "(.*)")`, `label_replace(x, "id", "$1", "src", "(.*)")`, ""},
		{`x{a="$instance$job"}`, `x{a=".*bulkhead"}`, ""},
		{`x{a="$nope"} + y{b="$other"}`, "", "undefined variable nope, other"},
		{`no variables`, `no variables`, ""},
	}
	for _, tt := range tests {
		got, err := promtest.Expand(tt.expr, vars)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Expand(%q) error = %v, want %q", tt.expr, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tt.expr, got, err, tt.want)
		}
	}
}

const testDashboard = `{
  "title": "t", "uid": "t",
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "prometheus"},
    {"name": "node", "type": "query", "query": "label_values(up{job=\"$job\"}, instance)"},
    {"name": "g", "type": "query", "query": {"query": "label_values(x, group)", "refId": "V"}}
  ]},
  "panels": [
    {"id": 1, "type": "row", "title": "r", "panels": [
      {"id": 2, "type": "stat", "title": "nested", "targets": [{"refId": "A", "expr": "up"}]}
    ]},
    {"id": 3, "type": "nodeGraph", "title": "map", "targets": [
      {"refId": "edges", "expr": "a", "instant": true, "format": "table"},
      {"refId": "nodes", "expr": "b", "instant": true, "format": "table"}
    ]}
  ]
}`

const testRules = `groups:
  - name: g
    rules:
      - alert: A1
        expr: up == 0
        labels: {severity: critical}
      - record: job:up:sum
        expr: sum by (job) (up)
`

func TestQueriesFromFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"grafana/dashboards/b.json":       {Data: []byte(testDashboard)},
		"grafana/dashboards/a.json":       {Data: []byte(`{"title": "a", "panels": [{"id": 7, "title": "p", "targets": [{"refId": "Z", "expr": "z"}]}]}`)},
		"prometheus/bulkhead-alerts.yaml": {Data: []byte(testRules)},
	}
	qs, err := promtest.AllQueries(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range qs {
		got = append(got, q.Origin+" = "+q.Expr)
	}
	want := []string{
		`a.json panel 7 "p" target Z = z`,
		`b.json variable node = count by (instance) (up{job="$job"})`,
		`b.json variable g = count by (group) (x)`,
		`b.json panel 2 "nested" target A = up`,
		`b.json panel 3 "map" target edges = a`,
		`b.json panel 3 "map" target nodes = b`,
		`bulkhead-alerts.yaml alert A1 = up == 0`,
		`bulkhead-alerts.yaml record job:up:sum = sum by (job) (up)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
	if !qs[4].Instant || qs[4].PanelType != "nodeGraph" || qs[4].RefID != "edges" || qs[0].Instant {
		t.Errorf("query fields: %+v / %+v", qs[4], qs[0])
	}
	if !qs[6].IsRule() || qs[0].IsRule() {
		t.Error("IsRule wrong")
	}
}

func TestQueriesErrors(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no dashboard":        {"prometheus/bulkhead-alerts.yaml": {Data: []byte(testRules)}},
		"bad dashboard":       {"grafana/dashboards/x.json": {Data: []byte(`{"panels": [`)}, "prometheus/bulkhead-alerts.yaml": {Data: []byte(testRules)}},
		"no rules":            {"grafana/dashboards/x.json": {Data: []byte(testDashboard)}},
		"bad variable query":  {"grafana/dashboards/x.json": {Data: []byte(`{"templating": {"list": [{"name": "v", "type": "query", "query": "query_result(up)"}]}}`)}, "prometheus/bulkhead-alerts.yaml": {Data: []byte(testRules)}},
		"unknown rules field": {"grafana/dashboards/x.json": {Data: []byte(testDashboard)}, "prometheus/bulkhead-alerts.yaml": {Data: []byte("groups:\n  - name: g\n    rulez: []\n")}},
	} {
		if _, err := promtest.AllQueries(fsys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestReport(t *testing.T) {
	out := promtest.Report([]promtest.Outcome{
		{Query: promtest.Query{Origin: "d panel 1"}, Result: promtest.Result{Samples: []promtest.Sample{{}, {}}}},
		{Query: promtest.Query{Origin: "d panel 2"}},
		{Query: promtest.Query{Origin: "r alert X"}, Err: os.ErrNotExist},
	})
	want := "DATA     2  d panel 1\nEMPTY    0  d panel 2\nERROR    0  r alert X: file does not exist\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestStartErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := promtest.Start(ctx, promtest.Config{}); err == nil {
		t.Error("Start without target succeeded")
	}
	if _, err := promtest.Start(ctx, promtest.Config{Targets: []string{"127.0.0.1:1"}, Binary: "/nonexistent/prometheus"}); err == nil || !strings.Contains(err.Error(), "/nonexistent/prometheus") {
		t.Errorf("Start with a missing binary: %v", err)
	}
}

// TestStartReportsEarlyExit gives Prometheus a rules file it refuses: Start
// must return its complaint, and leave no process or directory behind.
func TestStartReportsEarlyExit(t *testing.T) {
	requirePrometheus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: sum(\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := promtest.Start(ctx, promtest.Config{Targets: []string{"127.0.0.1:1"}, RuleFiles: []string{bad}, Dir: store})
	if err == nil {
		t.Fatal("Start succeeded with an invalid rules file")
	}
	if !strings.Contains(err.Error(), "exited before it was ready") {
		t.Errorf("error %q does not say Prometheus exited", err)
	}
}

func TestServerCloseTwice(t *testing.T) {
	requirePrometheus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := promtest.Start(ctx, promtest.Config{Targets: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Query(ctx, "vector(42)")
	if err != nil || len(res.Samples) != 1 || res.Samples[0].Value != 42 {
		t.Errorf("vector(42) = %+v, %v", res, err)
	}
	if res, err := srv.Query(ctx, "scalar(vector(7))"); err != nil || res.Type != "scalar" || res.Samples[0].Value != 7 {
		t.Errorf("scalar(vector(7)) = %+v, %v", res, err)
	}
	if _, err := srv.Query(ctx, "sum("); err == nil {
		t.Error("a bad expression returned no error")
	}
	if _, err := srv.Query(ctx, "up[1m]"); err == nil {
		t.Error("a range vector returned no error")
	}
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := srv.Query(ctx, "vector(1)"); err == nil {
		t.Error("query after Close succeeded")
	}
}
