package promtest_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/agent/metrics/metricstest"
	"bulkhead.dev/bulkhead/deploy"
	"bulkhead.dev/bulkhead/deploy/promtest"
)

func requirePrometheus(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(promtest.DefaultBinary); err != nil {
		t.Fatalf("%s not installed (Debian package prometheus): run scripts/install-deps.sh (make test does): %v", promtest.DefaultBinary, err)
	}
}

// driveWorkload serves a registry fed by the synthetic workload, one round
// every 100 ms until the test ends, and returns its host:port.
func driveWorkload(t *testing.T) string {
	t.Helper()
	m, _, _, err := metricstest.New(metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for round := 1; ; round++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				metricstest.Drive(m, round)
			}
		}
	})
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		srv.Close()
	})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// alertsExpectedToFire are the alerts the synthetic workload triggers: it
// has violations in protect mode (frontend → db, denied); everything else
// is healthy.
var alertsExpectedToFire = []string{"BulkheadProtectViolations"}

func TestDashboardsAndAlertsAgainstPrometheus(t *testing.T) {
	requirePrometheus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	target := driveWorkload(t)

	srv, err := promtest.Start(ctx, promtest.Config{
		Targets:   []string{target},
		RuleFiles: []string{"../prometheus/bulkhead-alerts.yaml"},
		Logger:    slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()
	checkEverything(ctx, t, srv)
}

// checkEverything waits for scrapes, then runs every dashboard and alert
// expression: dashboards must return data, only the expected alerts may,
// the flow map must show the synthetic graph, and every loaded rule must
// evaluate without error.
func checkEverything(ctx context.Context, t *testing.T, srv *promtest.Server) {
	t.Helper()
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	defer waitCancel()
	if err := srv.WaitScrapes(waitCtx, 5); err != nil {
		t.Fatal(err)
	}

	queries, err := promtest.AllQueries(deploy.FS)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := srv.CheckAll(ctx, queries, promtest.Vars(srv.Job))
	t.Logf("query outcomes:\n%s", promtest.Report(outcomes))

	var fired []string
	for _, o := range outcomes {
		switch {
		case o.Err != nil:
			t.Errorf("%s: %v", o.Origin, o.Err)
		case o.Alert != "":
			if o.HasData() {
				fired = append(fired, o.Alert)
			}
		case !o.HasData():
			t.Errorf("%s returned no data:\n%s", o.Origin, o.Expanded)
		}
	}
	if diff := cmp.Diff(alertsExpectedToFire, fired); diff != "" {
		t.Errorf("alerts whose expression returned data (-want +got):\n%s", diff)
	}
	checkNodeGraph(t, outcomes)
	checkRuleHealth(ctx, t, srv)
}

type edge struct{ Source, Target, Color string }

// checkNodeGraph checks that the flow map's queries return one edge with
// id, source and target per edge of the synthetic graph, coloured by
// verdict, and one node with id and title per workload.
func checkNodeGraph(t *testing.T, outcomes []promtest.Outcome) {
	t.Helper()
	colors := map[metrics.EdgeVerdict]string{metrics.EdgeAllowed: "#73BF69", metrics.EdgeReported: "#FF9830", metrics.EdgeDenied: "#F2495C"}
	var wantEdges []edge
	wantNodes := map[string]bool{}
	for _, e := range metricstest.Edges {
		wantEdges = append(wantEdges, edge{e.Src, e.Dst, colors[e.Verdict]})
		wantNodes[e.Src], wantNodes[e.Dst] = true, true
	}
	var gotEdges []edge
	gotNodes := map[string]bool{}
	seen := 0
	for _, o := range outcomes {
		if o.PanelType != "nodeGraph" {
			continue
		}
		seen++
		for _, s := range o.Result.Samples {
			switch o.RefID {
			case "edges":
				if want := s.Labels["source"] + "->" + s.Labels["target"]; s.Labels["id"] != want {
					t.Errorf("edge id %q, want %q", s.Labels["id"], want)
				}
				gotEdges = append(gotEdges, edge{s.Labels["source"], s.Labels["target"], s.Labels["color"]})
			case "nodes":
				if s.Labels["title"] != s.Labels["id"] || s.Labels["subtitle"] == "" {
					t.Errorf("node %v: want title = id and a subtitle (its group)", s.Labels)
				}
				gotNodes[s.Labels["id"]] = true
			default:
				t.Errorf("node graph target %q: want edges or nodes", o.RefID)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("found %d node graph queries, want 2 (edges, nodes)", seen)
	}
	less := func(a, b edge) int { return strings.Compare(a.Source+" "+a.Target, b.Source+" "+b.Target) }
	slices.SortFunc(wantEdges, less)
	slices.SortFunc(gotEdges, less)
	if diff := cmp.Diff(wantEdges, gotEdges); diff != "" {
		t.Errorf("node graph edges (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantNodes, gotNodes); diff != "" {
		t.Errorf("node graph nodes (-want +got):\n%s", diff)
	}
}

// checkRuleHealth waits until Prometheus has evaluated every loaded rule
// and checks that none failed and that exactly the expected alerts are
// active.
func checkRuleHealth(ctx context.Context, t *testing.T, srv *promtest.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rules, err := srv.RuleHealth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pending := false
		var active []string
		for _, r := range rules {
			switch r.Health {
			case "ok":
			case "unknown":
				pending = true
			default:
				t.Errorf("rule %s: health %s: %s", r.Name, r.Health, r.LastError)
			}
			if r.Firing {
				active = append(active, r.Name)
			}
		}
		if len(rules) == 0 {
			t.Fatal("Prometheus loaded no rule")
		}
		if !pending {
			if diff := cmp.Diff(alertsExpectedToFire, active); diff != "" {
				t.Errorf("active alerts (-want +got):\n%s", diff)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules not all evaluated after 10 s: %+v", rules)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
