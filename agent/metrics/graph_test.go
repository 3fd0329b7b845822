package metrics_test

import (
	"sync"
	"testing"

	"bulkhead.dev/bulkhead/agent/metrics"
)

func edgeLabels(src, srcGroup, dst, dstGroup, port, proto, app, verdict string) map[string]string {
	return map[string]string{
		"src": src, "src_group": srcGroup, "dst": dst, "dst_group": dstGroup,
		"dport": port, "proto": proto, "app": app, "verdict": verdict,
	}
}

func TestConnectionLabels(t *testing.T) {
	tests := []struct {
		name string
		edge metrics.Edge
		want map[string]string
	}{
		{
			name: "workloads",
			edge: metrics.Edge{Src: "frontend", SrcGroup: "web", Dst: "api", DstGroup: "backend", DstPort: 8080, Proto: 6, App: "http", Verdict: metrics.EdgeAllowed},
			want: edgeLabels("frontend", "web", "api", "backend", "8080", "tcp", "http", "allowed"),
		},
		{
			name: "empty names",
			edge: metrics.Edge{DstPort: 53, Proto: 17, Verdict: metrics.EdgeReported},
			want: edgeLabels("unknown", "none", "unknown", "none", "53", "udp", "unknown", "reported"),
		},
		{
			name: "IPv4 literal is world",
			edge: metrics.Edge{Src: "api", Dst: "198.18.0.7", DstPort: 443, Proto: 6, App: "tls", Verdict: metrics.EdgeDenied},
			want: edgeLabels("api", "none", "world", "none", "443", "tcp", "tls", "denied"),
		},
		{
			name: "IPv6 literal is world",
			edge: metrics.Edge{Src: "2001:2::5", Dst: "db", Proto: 58, Verdict: metrics.EdgeAllowed},
			want: edgeLabels("world", "none", "db", "none", "0", "icmpv6", "unknown", "allowed"),
		},
		{
			name: "names that start with a digit stay",
			edge: metrics.Edge{Src: "1password-sync", Dst: "3scale.example.com", DstPort: 80, Proto: 6, App: "http", Verdict: metrics.EdgeAllowed},
			want: edgeLabels("1password-sync", "none", "3scale.example.com", "none", "80", "tcp", "http", "allowed"),
		},
		{
			name: "unknown verdict and protocol",
			edge: metrics.Edge{Src: "a", Dst: "b", DstPort: 1, Proto: 47, Verdict: metrics.EdgeVerdict(9)},
			want: edgeLabels("a", "none", "b", "none", "1", "other", "unknown", "unknown"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics(t, metrics.Options{})
			m.Connection(tt.edge)
			m.Connection(tt.edge)
			if got := counterValue(t, m.Registry(), "bulkhead_connections_total", tt.want); got != 2 {
				t.Errorf("count = %v, want 2", got)
			}
		})
	}
}

// TestConnectionCap checks the folding rule documented in docs/metrics.md:
// past MaxGraphSeries distinct series, a new combination counts under the
// series whose names, groups, port and app are "other", protocol and
// verdict kept; known series keep counting.
func TestConnectionCap(t *testing.T) {
	m := newMetrics(t, metrics.Options{MaxGraphSeries: 2})
	a := metrics.Edge{Src: "a", Dst: "b", DstPort: 80, Proto: 6, App: "http", Verdict: metrics.EdgeAllowed}
	b := metrics.Edge{Src: "a", Dst: "c", DstPort: 80, Proto: 6, App: "http", Verdict: metrics.EdgeAllowed}
	c := metrics.Edge{Src: "a", Dst: "d", DstPort: 80, Proto: 6, App: "http", Verdict: metrics.EdgeAllowed}
	d := metrics.Edge{Src: "x", Dst: "y", DstPort: 53, Proto: 17, App: "dns", Verdict: metrics.EdgeDenied}
	e := metrics.Edge{Src: "x", Dst: "z", DstPort: 22, Proto: 6, App: "ssh", Verdict: metrics.EdgeAllowed}
	for _, edge := range []metrics.Edge{a, b, c, d, e, a, c} {
		m.Connection(edge)
	}
	reg := m.Registry()
	for _, tt := range []struct {
		labels map[string]string
		want   float64
	}{
		{edgeLabels("a", "none", "b", "none", "80", "tcp", "http", "allowed"), 2},
		{edgeLabels("a", "none", "c", "none", "80", "tcp", "http", "allowed"), 1},
		{edgeLabels("other", "other", "other", "other", "other", "tcp", "other", "allowed"), 3}, // c twice, e
		{edgeLabels("other", "other", "other", "other", "other", "udp", "other", "denied"), 1},  // d
	} {
		if got := counterValue(t, reg, "bulkhead_connections_total", tt.labels); got != tt.want {
			t.Errorf("%v = %v, want %v", tt.labels, got, tt.want)
		}
	}
	if got := seriesCount(t, reg, "bulkhead_connections_total"); got != 4 {
		t.Errorf("%d series, want 4", got)
	}
	if got := counterValue(t, reg, "bulkhead_graph_folded_total", nil); got != 4 {
		t.Errorf("folded = %v, want 4", got)
	}
	if got := counterValue(t, reg, "bulkhead_graph_series", nil); got != 2 {
		t.Errorf("series gauge = %v, want 2", got)
	}
	if got := counterValue(t, reg, "bulkhead_graph_series_limit", nil); got != 2 {
		t.Errorf("series limit gauge = %v, want 2", got)
	}
}

func TestSweepGraph(t *testing.T) {
	m := newMetrics(t, metrics.Options{MaxGraphSeries: 2})
	old := metrics.Edge{Src: "old", Dst: "b", DstPort: 80, Proto: 6, App: "http"}
	live := metrics.Edge{Src: "live", Dst: "b", DstPort: 80, Proto: 6, App: "http"}
	late := metrics.Edge{Src: "late", Dst: "b", DstPort: 80, Proto: 6, App: "http"}
	m.Connection(old)
	m.Connection(live)
	m.Connection(late) // folded: cap reached
	if n := m.SweepGraph(); n != 0 {
		t.Errorf("first sweep removed %d series; everything was just seen", n)
	}
	m.Connection(live)
	if n := m.SweepGraph(); n != 2 { // old, and the folded series
		t.Errorf("second sweep removed %d series, want 2", n)
	}
	reg := m.Registry()
	if _, ok := sample(t, reg, "bulkhead_connections_total", edgeLabels("old", "none", "b", "none", "80", "tcp", "http", "allowed")); ok {
		t.Error("swept series still exported")
	}
	// The sweep freed room under the cap: late gets its own series now.
	m.Connection(late)
	if got := counterValue(t, reg, "bulkhead_connections_total", edgeLabels("late", "none", "b", "none", "80", "tcp", "http", "allowed")); got != 1 {
		t.Errorf("late = %v, want 1", got)
	}
	if got := counterValue(t, reg, "bulkhead_connections_total", edgeLabels("live", "none", "b", "none", "80", "tcp", "http", "allowed")); got != 2 {
		t.Errorf("live = %v, want 2", got)
	}
	if got := counterValue(t, reg, "bulkhead_graph_series", nil); got != 2 {
		t.Errorf("series gauge = %v, want 2", got)
	}
}

// TestConnectionKnownSeriesNeverFold fills the cap, then counts every known
// series again (some not yet published to the lock-free read map): none may
// be folded.
func TestConnectionKnownSeriesNeverFold(t *testing.T) {
	const limit = 50
	m := newMetrics(t, metrics.Options{MaxGraphSeries: limit})
	edge := func(i int) metrics.Edge {
		return metrics.Edge{Src: "a", Dst: "b", DstPort: uint16(i + 1), Proto: 6, App: "http"}
	}
	for round := range 3 {
		for i := range limit {
			m.Connection(edge(i))
		}
		if got := counterValue(t, m.Registry(), "bulkhead_graph_folded_total", nil); got != 0 {
			t.Fatalf("round %d: %v connections folded, want 0", round, got)
		}
	}
	m.Connection(edge(limit)) // one past the cap
	if got := counterValue(t, m.Registry(), "bulkhead_graph_folded_total", nil); got != 1 {
		t.Errorf("folded = %v after one new edge past the cap, want 1", got)
	}
}

// TestConnectionConcurrent counts from many goroutines over more keys than
// the cap: no observation is lost, and the cap holds.
func TestConnectionConcurrent(t *testing.T) {
	const (
		limit      = 64
		goroutines = 8
		perG       = 5000
	)
	m := newMetrics(t, metrics.Options{MaxGraphSeries: limit})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				m.Connection(metrics.Edge{Src: "s", Dst: "d", DstPort: uint16((i*7 + g) % 200), Proto: 6, App: "http"})
			}
		})
	}
	wg.Wait()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	own := 0
	for _, mf := range mfs {
		if mf.GetName() != "bulkhead_connections_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			total += s.GetCounter().GetValue()
			if s.GetLabel()[1].GetValue() != "other" { // dport
				own++
			}
		}
	}
	if total != goroutines*perG {
		t.Errorf("counted %v connections, want %d", total, goroutines*perG)
	}
	if own != limit {
		t.Errorf("%d series of their own, want exactly the cap %d", own, limit)
	}
}
