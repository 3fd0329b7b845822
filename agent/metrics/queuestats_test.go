package metrics_test

import (
	"testing"
	"time"

	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/agent/metrics/metricstest"
)

func TestFailOpenGauge(t *testing.T) {
	healthy := metrics.QueueStats{Queue: 0, Bound: true, FailOpen: true, Waiting: 3, Capacity: 1024}
	tests := []struct {
		name  string
		stats []metrics.QueueStats
		want  float64
	}{
		{"all bound", []metrics.QueueStats{healthy, {Queue: 1, Bound: true, FailOpen: true}}, 0},
		{"fail-open queue without reader", []metrics.QueueStats{healthy, {Queue: 1, FailOpen: true}}, 1},
		{"fail-open queue full", []metrics.QueueStats{{Queue: 0, Bound: true, FailOpen: true, Waiting: 1024, Capacity: 1024}}, 1},
		{"fail-open queue, capacity unknown", []metrics.QueueStats{{Queue: 0, Bound: true, FailOpen: true, Waiting: 1 << 20}}, 0},
		{"fail-closed queue without reader drops, does not bypass", []metrics.QueueStats{{Queue: 0}}, 0},
		{"fail-closed queue full drops, does not bypass", []metrics.QueueStats{{Queue: 0, Bound: true, Waiting: 8, Capacity: 8, KernelDropped: 5}}, 0},
		{"no queues", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics(t, metrics.Options{})
			src := &metricstest.QueueSource{}
			src.Set(tt.stats...)
			m.SetQueueStatsSource(src)
			if got := counterValue(t, m.Registry(), "bulkhead_dataplane_fail_open", nil); got != tt.want {
				t.Errorf("fail_open = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQueueStatsExported(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	reg := m.Registry()
	if _, ok := sample(t, reg, "bulkhead_dataplane_fail_open", nil); ok {
		t.Error("fail_open exported before a source was set")
	}
	src := &metricstest.QueueSource{}
	src.Set(
		metrics.QueueStats{Queue: 7, Bound: true, Waiting: 12, Capacity: 2048, KernelDropped: 3, UserDropped: 9, Overruns: 2},
		metrics.QueueStats{Queue: 8, Waiting: 1},
		metrics.QueueStats{Queue: 7, Bound: false}, // duplicate: ignored and counted
	)
	m.SetQueueStatsSource(src)
	for _, tt := range []struct {
		name  string
		queue string
		want  float64
	}{
		{"bulkhead_queue_kernel_drops_total", "7", 3},
		{"bulkhead_queue_user_drops_total", "7", 9},
		{"bulkhead_queue_overruns_total", "7", 2},
		{"bulkhead_queue_waiting_packets", "7", 12},
		{"bulkhead_queue_capacity_packets", "7", 2048},
		{"bulkhead_queue_reader_bound", "7", 1},
		{"bulkhead_queue_reader_bound", "8", 0},
		{"bulkhead_queue_waiting_packets", "8", 1},
	} {
		if got := counterValue(t, reg, tt.name, map[string]string{"queue": tt.queue}); got != tt.want {
			t.Errorf("%s{queue=%s} = %v, want %v", tt.name, tt.queue, got, tt.want)
		}
	}
	if _, ok := sample(t, reg, "bulkhead_queue_capacity_packets", map[string]string{"queue": "8"}); ok {
		t.Error("capacity exported for a queue whose capacity is unknown")
	}
	if got := counterValue(t, reg, "bulkhead_queue_stats_errors_total", nil); got == 0 {
		t.Error("duplicate queue entry not counted as an error")
	}
	m.SetQueueStatsSource(nil)
	if _, ok := sample(t, reg, "bulkhead_queue_waiting_packets", map[string]string{"queue": "7"}); ok {
		t.Error("queue metrics exported after the source was removed")
	}
}

func TestFlowTableSource(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	ft := &metricstest.FlowTable{}
	ft.Set(metrics.FlowTableStats{Active: 10})
	m.SetFlowTableSource(ft)
	reg := m.Registry()
	if got := counterValue(t, reg, "bulkhead_flows_active", nil); got != 10 {
		t.Errorf("active = %v, want 10", got)
	}
	if _, ok := sample(t, reg, "bulkhead_flows_limit", nil); ok {
		t.Error("limit exported for an unbounded table")
	}
	ft.Set(metrics.FlowTableStats{Active: 11, Limit: 100})
	if got := counterValue(t, reg, "bulkhead_flows_limit", nil); got != 100 {
		t.Errorf("limit = %v, want 100", got)
	}
}

// TestSourceAndRecorderCountsAdd checks that packet-path counters the
// dataplane keeps itself (QueueStats.Packets, Verdicts) and those counted
// through a QueueRecorder add up, per queue and per verdict.
func TestSourceAndRecorderCountsAdd(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	src := &metricstest.QueueSource{}
	var v [metrics.NumVerdicts]uint64
	v[metrics.VerdictAccept], v[metrics.VerdictDenyConn] = 100, 7
	src.Set(metrics.QueueStats{Queue: 0, Bound: true, Packets: 107, Verdicts: v}, metrics.QueueStats{Queue: 1, Bound: true})
	m.SetQueueStatsSource(src)
	m.Queue(1).Packets(5)
	m.Queue(1).Verdict(metrics.VerdictDenyConn, time.Microsecond)
	m.Queue(2).Packets(1) // a recorder for a queue the source does not list
	reg := m.Registry()
	for queue, want := range map[string]float64{"0": 107, "1": 5, "2": 1} {
		if got := counterValue(t, reg, "bulkhead_queue_packets_total", map[string]string{"queue": queue}); got != want {
			t.Errorf("queue %s packets = %v, want %v", queue, got, want)
		}
	}
	for verdict, want := range map[string]float64{"accept": 100, "deny_conn": 8, "drop": 0} {
		if got := counterValue(t, reg, "bulkhead_verdicts_total", map[string]string{"verdict": verdict}); got != want {
			t.Errorf("verdict %s = %v, want %v", verdict, got, want)
		}
	}
}
