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

// syntheticMetrics returns a registry fed by the synthetic workload, one
// round every 100 ms until the test ends.
func syntheticMetrics(t *testing.T) *metrics.Metrics {
	t.Helper()
	m, _, _, err := metricstest.New(metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
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
	})
	return m
}

// driveWorkload serves the synthetic workload's metrics on a loopback port
// until the test ends, and returns its host:port.
func driveWorkload(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(syntheticMetrics(t).Handler())
	t.Cleanup(srv.Close)
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
	for _, p := range promtest.Problems(outcomes, alertsExpectedToFire) {
		t.Error(p)
	}
	checkNodeGraph(t, outcomes)
	problems, err := srv.CheckRules(ctx, alertsExpectedToFire, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// checkNodeGraph checks that the flow map's queries return one edge per
// edge of the synthetic graph, coloured by verdict, and one node per
// workload.
func checkNodeGraph(t *testing.T, outcomes []promtest.Outcome) {
	t.Helper()
	colors := map[metrics.EdgeVerdict]string{metrics.EdgeAllowed: "#73BF69", metrics.EdgeReported: "#FF9830", metrics.EdgeDenied: "#F2495C"}
	var want promtest.FlowMap
	nodes := map[string]bool{}
	for _, e := range metricstest.Edges {
		want.Edges = append(want.Edges, promtest.FlowEdge{ID: e.Src + "->" + e.Dst, Source: e.Src, Target: e.Dst, Color: colors[e.Verdict]})
		nodes[e.Src], nodes[e.Dst] = true, true
	}
	slices.SortFunc(want.Edges, func(a, b promtest.FlowEdge) int { return strings.Compare(a.ID, b.ID) })
	got, problems := promtest.FlowMapOf(outcomes)
	for _, p := range problems {
		t.Error(p)
	}
	gotNodes := map[string]bool{}
	for _, n := range got.Nodes {
		gotNodes[n.ID] = true
	}
	if diff := cmp.Diff(want.Edges, got.Edges); diff != "" {
		t.Errorf("node graph edges (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(nodes, gotNodes); diff != "" {
		t.Errorf("node graph nodes (-want +got):\n%s", diff)
	}
}
