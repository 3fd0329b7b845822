package deploy_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/deploy"
	"bulkhead.dev/bulkhead/deploy/promtest"
)

func dashboards(t *testing.T) map[string]*promtest.Dashboard {
	t.Helper()
	names, err := promtest.DashboardFiles(deploy.FS)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*promtest.Dashboard{}
	for _, name := range names {
		d, err := promtest.LoadDashboard(deploy.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = d
	}
	return out
}

func TestDashboardIsValidJSON(t *testing.T) {
	for name, d := range dashboards(t) {
		b, err := fs.ReadFile(deploy.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Errorf("%s: not valid JSON", name)
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid %q, title %q: both required for provisioning and links", name, d.UID, d.Title)
		}
	}
	if d := dashboards(t)[deploy.DashboardsDir+"/bulkhead-flows.json"]; d == nil || d.Title != "Bulkhead — flows" {
		t.Errorf("no dashboard titled %q in bulkhead-flows.json", "Bulkhead — flows")
	}
}

func TestDashboardPanelIDsUnique(t *testing.T) {
	for name, d := range dashboards(t) {
		seen := map[int]string{}
		for _, p := range d.AllPanels() {
			if p.ID <= 0 {
				t.Errorf("%s: panel %q has id %d", name, p.Title, p.ID)
			}
			if prev, dup := seen[p.ID]; dup {
				t.Errorf("%s: panels %q and %q share id %d", name, prev, p.Title, p.ID)
			}
			seen[p.ID] = p.Title
		}
	}
}

// TestDashboardDatasourceTemplated walks the whole JSON tree: every
// datasource reference must be the ${datasource} variable (Grafana's own
// built-in annotation source excepted), so the dashboard binds to whatever
// Prometheus the user picks.
func TestDashboardDatasourceTemplated(t *testing.T) {
	for name := range dashboards(t) {
		b, err := fs.ReadFile(deploy.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		var tree any
		if err := json.Unmarshal(b, &tree); err != nil {
			t.Fatal(err)
		}
		refs := 0
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for _, k := range slices.Sorted(maps.Keys(v)) {
					child := v[k]
					if k == "datasource" {
						refs++
						checkDatasourceRef(t, name, path+".datasource", child)
					}
					walk(path+"."+k, child)
				}
			case []any:
				for i, c := range v {
					walk(fmt.Sprintf("%s[%d]", path, i), c)
				}
			}
		}
		walk("", tree)
		if refs == 0 {
			t.Errorf("%s: no datasource reference at all", name)
		}
		var hasVar bool
		d := dashboards(t)[name]
		for _, v := range d.Templating.List {
			if v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus" {
				hasVar = true
			}
		}
		if !hasVar {
			t.Errorf("%s: no template variable datasource of type datasource (query prometheus)", name)
		}
	}
}

func checkDatasourceRef(t *testing.T, file, path string, v any) {
	t.Helper()
	ref, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s%s: datasource %v: want an object {type, uid}", file, path, v)
		return
	}
	if ref["type"] == "grafana" && ref["uid"] == "-- Grafana --" {
		return
	}
	if ref["type"] != "prometheus" || ref["uid"] != "${datasource}" {
		t.Errorf("%s%s: datasource %v: want {type: prometheus, uid: ${datasource}}", file, path, v)
	}
}

// TestDashboardQueries parses every expression with Prometheus' parser and
// checks its metric and label names against the agent's catalog.
func TestDashboardQueries(t *testing.T) {
	queries, err := promtest.DashboardQueries(deploy.FS)
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) == 0 {
		t.Fatal("no dashboard query found")
	}
	for _, q := range queries {
		if strings.TrimSpace(q.Expr) == "" {
			t.Errorf("%s: empty expression", q.Origin)
			continue
		}
		for _, err := range checkPromQL(q.Expr) {
			t.Errorf("%s: %v", q.Origin, err)
		}
	}
}

// TestDashboardVariables checks that every variable a query uses is
// defined by the dashboard or is one of Grafana's built-ins, and that the
// node and group variables exist.
func TestDashboardVariables(t *testing.T) {
	builtins := []string{"__rate_interval", "__interval", "__range"}
	for name, d := range dashboards(t) {
		vars := map[string]string{}
		for _, b := range builtins {
			vars[b] = "1m"
		}
		for _, v := range d.Templating.List {
			vars[v.Name] = ".*"
		}
		for _, want := range []string{"datasource", "job", "instance", "group"} {
			if _, ok := vars[want]; !ok {
				t.Errorf("%s: no template variable %q", name, want)
			}
		}
		for _, p := range d.AllPanels() {
			for _, tg := range p.Targets {
				if _, err := promtest.Expand(tg.Expr, vars); err != nil {
					t.Errorf("%s panel %d %q target %s: %v", name, p.ID, p.Title, tg.RefID, err)
				}
			}
		}
	}
}

func TestDashboardPanelsWellFormed(t *testing.T) {
	types := []string{"row", "stat", "timeseries", "table", "nodeGraph"}
	for name, d := range dashboards(t) {
		var placed []promtest.Panel
		for _, p := range d.AllPanels() {
			if !slices.Contains(types, p.Type) {
				t.Errorf("%s panel %d %q: type %q not in %v", name, p.ID, p.Title, p.Type, types)
			}
			g := p.GridPos
			if g.W < 1 || g.H < 1 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
				t.Errorf("%s panel %d %q: gridPos %+v outside the 24-column grid", name, p.ID, p.Title, g)
			}
			for _, o := range placed {
				og := o.GridPos
				if g.X < og.X+og.W && og.X < g.X+g.W && g.Y < og.Y+og.H && og.Y < g.Y+g.H {
					t.Errorf("%s: panels %q and %q overlap", name, o.Title, p.Title)
				}
			}
			placed = append(placed, p)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s panel %d %q has no query", name, p.ID, p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if tg.RefID == "" || refs[tg.RefID] {
					t.Errorf("%s panel %d %q: refId %q empty or repeated", name, p.ID, p.Title, tg.RefID)
				}
				refs[tg.RefID] = true
			}
		}
	}
}

// TestFlowMapShape checks the node graph panel against Grafana's node
// graph data API: an edges frame (fields id, source, target, mainstat,
// color) and a nodes frame (id, title, subtitle, mainstat), built by
// instant table queries whose value column is renamed to mainstat. The
// real-Prometheus test (deploy/promtest) checks what the queries return.
func TestFlowMapShape(t *testing.T) {
	d := dashboards(t)[deploy.DashboardsDir+"/bulkhead-flows.json"]
	var graphs []promtest.Panel
	for _, p := range d.AllPanels() {
		if p.Type == "nodeGraph" {
			graphs = append(graphs, p)
		}
	}
	if len(graphs) != 1 {
		t.Fatalf("%d node graph panels, want 1", len(graphs))
	}
	p := graphs[0]
	wantLabels := map[string][]string{
		"edges": {`"id"`, `"source"`, `"target"`, `"color"`},
		"nodes": {`"id"`, `"title"`, `"subtitle"`},
	}
	for _, tg := range p.Targets {
		labels, ok := wantLabels[tg.RefID]
		if !ok {
			t.Errorf("node graph target %q: want refId edges or nodes", tg.RefID)
			continue
		}
		delete(wantLabels, tg.RefID)
		if !tg.Instant || tg.Format != "table" {
			t.Errorf("node graph target %s: instant %v, format %q; want an instant table query", tg.RefID, tg.Instant, tg.Format)
		}
		for _, l := range labels {
			if !strings.Contains(tg.Expr, l) {
				t.Errorf("node graph target %s does not make label %s", tg.RefID, l)
			}
		}
	}
	for ref := range wantLabels {
		t.Errorf("node graph has no %s target", ref)
	}
	renamed := false
	for _, tr := range p.Transformations {
		if tr.ID == "renameByRegex" && tr.Options["renamePattern"] == "mainstat" {
			renamed = true
		}
	}
	if !renamed {
		t.Error("node graph: no renameByRegex transformation turning the value column into mainstat")
	}
}

// TestDashboardCoversIssue checks that the flows dashboard shows what
// issue 6 asks for: the map, violations, drops, verdict latency, queue
// health, top talkers and DNS.
func TestDashboardCoversIssue(t *testing.T) {
	queries, err := promtest.DashboardQueries(deploy.FS)
	if err != nil {
		t.Fatal(err)
	}
	for topic, metric := range map[string]string{
		"flow map and top talkers": "bulkhead_connections_total",
		"violations":               "bulkhead_policy_violations_total",
		"drops":                    "bulkhead_verdicts_total",
		"verdict latency":          "bulkhead_verdict_latency_seconds_bucket",
		"queue health":             "bulkhead_queue_kernel_drops_total",
		"fail-open":                "bulkhead_dataplane_fail_open",
		"DNS":                      "bulkhead_dns_queries_total",
		"HTTP":                     "bulkhead_http_requests_total",
		"group modes":              "bulkhead_policy_group_mode",
	} {
		found := slices.ContainsFunc(queries, func(q promtest.Query) bool { return strings.Contains(q.Expr, metric+"{") })
		if !found {
			t.Errorf("no dashboard panel for %s (%s)", topic, metric)
		}
	}
}
