package metrics_test

import (
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"bulkhead.dev/bulkhead/agent/metrics"
)

// BenchmarkHotPath measures each per-packet, per-flow and per-request call
// on one goroutine: ns/op and allocs/op (run with -benchmem).
func BenchmarkHotPath(b *testing.B) {
	m, err := metrics.New(metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	calls := hotCalls(m)
	names := make([]string, 0, len(calls))
	for name := range calls {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		call := calls[name]
		call()
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				call()
			}
		})
	}
}

// BenchmarkVerdictParallel measures verdicts from one reader goroutine per
// queue, each with its own recorder (the intended use), against all
// goroutines sharing one recorder.
func BenchmarkVerdictParallel(b *testing.B) {
	b.Run("recorder-per-queue", func(b *testing.B) {
		m, err := metrics.New(metrics.Options{})
		if err != nil {
			b.Fatal(err)
		}
		var next atomic.Uint32
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			rec := m.Queue(uint16(next.Add(1)))
			for pb.Next() {
				rec.Packets(1)
				rec.Verdict(metrics.VerdictAccept, 3*time.Microsecond)
			}
		})
	})
	b.Run("shared-recorder", func(b *testing.B) {
		m, err := metrics.New(metrics.Options{})
		if err != nil {
			b.Fatal(err)
		}
		rec := m.Queue(0)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				rec.Packets(1)
				rec.Verdict(metrics.VerdictAccept, 3*time.Microsecond)
			}
		})
	})
}

// BenchmarkConnectionParallel measures the graph counter from several
// goroutines on a realistic number of known series.
func BenchmarkConnectionParallel(b *testing.B) {
	m, err := metrics.New(metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	edges := make([]metrics.Edge, 256)
	for i := range edges {
		edges[i] = metrics.Edge{Src: "client", Dst: "server", DstPort: uint16(8000 + i), Proto: 6, App: "http"}
		m.Connection(edges[i])
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Connection(edges[i%len(edges)])
			i++
		}
	})
}

// BenchmarkScrape measures one Gather of a registry with the synthetic
// workload's series plus 1,000 connection series.
func BenchmarkScrape(b *testing.B) {
	m, err := metrics.New(metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for q := range uint16(8) {
		m.Queue(q).Verdict(metrics.VerdictAccept, time.Microsecond)
	}
	for i := range 1000 {
		m.Connection(metrics.Edge{Src: "client", Dst: "server", DstPort: uint16(i), Proto: 6, App: "http"})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Registry().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPeer measures client_golang used directly, the way a metrics
// layer without pre-resolved children would: the baseline the hot path is
// compared with in BENCHMARKS.md (make bench-metrics).
func BenchmarkPeer(b *testing.B) {
	b.Run("CounterInc", func(b *testing.B) {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c_total", Help: "h"})
		b.ReportAllocs()
		for b.Loop() {
			c.Inc()
		}
	})
	b.Run("HistogramObserve", func(b *testing.B) {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h_seconds", Help: "h", Buckets: metrics.LatencyBuckets()})
		b.ReportAllocs()
		for b.Loop() {
			h.Observe((7 * time.Microsecond).Seconds())
		}
	})
	b.Run("CounterVecWithLabelValues", func(b *testing.B) {
		vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "h"},
			[]string{"src", "src_group", "dst", "dst_group", "dport", "proto", "app", "verdict"})
		port := 8080
		b.ReportAllocs()
		for b.Loop() {
			vec.WithLabelValues("frontend", "web", "api", "backend", strconv.Itoa(port), "tcp", "http", "allowed").Inc()
		}
	})
}
