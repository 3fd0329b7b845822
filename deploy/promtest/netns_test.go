package promtest_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"os/exec"
	"sync"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/deploy/promtest"
	"bulkhead.dev/bulkhead/testenv"
)

// TestHarnessInNodeNamespace runs the harness the way the agent's
// end-to-end test (agent/e2e) does: the metrics are served inside a testenv
// node's network namespace (where the agent runs) on the node's address,
// and Prometheus runs in that namespace too (Config.Launch, ListenAddress,
// Client).
func TestHarnessInNodeNamespace(t *testing.T) {
	requirePrometheus(t)
	node := testenv.New(t, testenv.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	m := syntheticMetrics(t)
	target := netip.AddrPortFrom(testenv.NodeIP4, 9447).String()
	l, err := node.Node.Listen("tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve metrics: %v", err)
		}
	})
	defer func() {
		hs.Close()
		wg.Wait()
	}()

	srv, err := promtest.Start(ctx, promtest.Config{
		Targets:       []string{target},
		RuleFiles:     []string{"../prometheus/bulkhead-alerts.yaml"},
		Logger:        slog.New(slog.NewTextHandler(t.Output(), nil)),
		ListenAddress: netip.AddrPortFrom(testenv.NodeIP4, 9090).String(),
		Launch: func(c *exec.Cmd) (func() error, error) {
			p, err := node.Node.Start(c)
			if err != nil {
				return nil, err
			}
			return p.Wait, nil
		},
		Client: node.Node.HTTPClient(),
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
