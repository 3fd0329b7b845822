package metrics_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"

	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/agent/metrics/metricstest"
	"bulkhead.dev/bulkhead/internal/golden"
)

// exposition renders the bulkhead_ families of m as Prometheus text, with
// the Go version replaced so that the golden file does not depend on the
// toolchain.
func exposition(t *testing.T, m *metrics.Metrics) []byte {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "bulkhead_") {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatal(err)
		}
	}
	return bytes.ReplaceAll(buf.Bytes(), []byte(runtime.Version()), []byte("GOVERSION"))
}

func TestExpositionGolden(t *testing.T) {
	m, _, _, err := metricstest.New(metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/workload.prom", exposition(t, m))
}

func TestHandlerServesRegistry(t *testing.T) {
	var logs bytes.Buffer
	m, qs, _, err := metricstest.New(metrics.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	get := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics: status %d: %s", resp.StatusCode, body)
		}
		return string(body)
	}
	body := get()
	for _, want := range []string{
		`bulkhead_build_info{goversion="` + runtime.Version() + `",revision="0000000",version="test"} 1`,
		`bulkhead_dataplane_fail_open 0`,
		`go_goroutines `,
		`process_start_time_seconds `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}

	// A source that fails: its counters keep their last good values (a
	// fall to zero would read as a counter reset), its gauges are left out,
	// the error is counted and logged, and the rest is still served.
	qs.Fail(errors.New("open /proc/net/netfilter/nfnetlink_queue: permission denied"))
	body = get()
	for _, gone := range []string{"bulkhead_queue_waiting_packets{", "bulkhead_queue_reader_bound{", "bulkhead_dataplane_fail_open "} {
		if strings.Contains(body, gone) {
			t.Errorf("%s exported although the source failed", gone)
		}
	}
	for _, want := range []string{
		"bulkhead_queue_stats_errors_total 1",
		`bulkhead_queue_kernel_drops_total{queue="0"} 0`,
		`bulkhead_queue_packets_total{queue="0"} 10`,
		"bulkhead_connections_total{",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition after a source failure lacks %q", want)
		}
	}
	if !strings.Contains(logs.String(), "permission denied") {
		t.Errorf("source failure not logged; log: %s", logs.String())
	}
}

func TestNewRejectsNegativeCaps(t *testing.T) {
	for _, opts := range []metrics.Options{{MaxGraphSeries: -1}, {MaxGroups: -5}} {
		if _, err := metrics.New(opts); err == nil {
			t.Errorf("New(%+v) succeeded", opts)
		}
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, err := metrics.New(metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := metrics.New(metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.EdgeLearned()
	if got := counterValue(t, b.Registry(), "bulkhead_learning_edges_added_total", nil); got != 0 {
		t.Errorf("second registry sees the first one's count: %v", got)
	}
}
