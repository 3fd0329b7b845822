package metrics_test

import (
	"testing"
	"time"

	"bulkhead.dev/bulkhead/agent/metrics"
)

// hotCalls are the calls the agent makes per packet, per flow or per
// request, each after a warm-up call with the same labels.
func hotCalls(m *metrics.Metrics) map[string]func() {
	rec := m.Queue(0)
	edge := metrics.Edge{Src: "frontend", SrcGroup: "web", Dst: "api", DstGroup: "backend", DstPort: 8080, Proto: 6, App: "http", Verdict: metrics.EdgeAllowed}
	ipEdge := metrics.Edge{Src: "api", Dst: "198.18.0.9", DstPort: 443, Proto: 6, App: "tls", Verdict: metrics.EdgeDenied}
	return map[string]func(){
		"Packets":       func() { rec.Packets(1) },
		"Verdict":       func() { rec.Verdict(metrics.VerdictAllowConn, 7*time.Microsecond) },
		"FastPathed":    func() { rec.FastPathed(true) },
		"Latency":       func() { rec.ObserveLatency(3 * time.Microsecond) },
		"FlowCreated":   func() { m.FlowCreated(17) },
		"FlowEvicted":   func() { m.FlowEvicted(metrics.EvictIdle) },
		"Connection":    func() { m.Connection(edge) },
		"ConnectionIP":  func() { m.Connection(ipEdge) },
		"HTTPRequest":   func() { m.HTTPRequest("GET", 200) },
		"HTTPRequestOf": func() { m.HTTPRequestOf(metrics.ParseHTTPMethod("POST"), 404) },
		"DNSQuery":      func() { m.DNSQuery(3) },
		"Violation":     func() { m.Violation("web", metrics.ModeProtect, metrics.ReasonL7) },
		"EdgeLearned":   func() { m.EdgeLearned() },
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	for name, call := range hotCalls(m) {
		call() // first use of the labels creates the series
		if n := testing.AllocsPerRun(1000, call); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

// TestFoldedPathDoesNotAllocate checks that an observation past the cap
// does not allocate either (a flood of new connections must not).
func TestFoldedPathDoesNotAllocate(t *testing.T) {
	m := newMetrics(t, metrics.Options{MaxGraphSeries: 1})
	m.Connection(metrics.Edge{Src: "a", Dst: "b"})
	flood := metrics.Edge{Src: "c", Dst: "d", Proto: 6}
	m.Connection(flood)
	if n := testing.AllocsPerRun(1000, func() { m.Connection(flood) }); n != 0 {
		t.Errorf("folded Connection: %v allocations per call, want 0", n)
	}
}
