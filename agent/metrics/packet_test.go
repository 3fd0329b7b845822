package metrics_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/metrics"
)

func newMetrics(t *testing.T, opts metrics.Options) *metrics.Metrics {
	t.Helper()
	m, err := metrics.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLatencyHistogramBuckets(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	rec := m.Queue(3)
	// One observation on each bound (le is inclusive), one just above the
	// last bound, and a negative duration that counts as zero.
	var sum time.Duration
	for _, b := range metrics.LatencyBuckets() {
		d := time.Duration(b * 1e9)
		rec.Verdict(metrics.VerdictAccept, d)
		sum += d
	}
	rec.Verdict(metrics.VerdictDrop, 10*time.Millisecond+1)
	sum += 10*time.Millisecond + 1
	rec.ObserveLatency(-time.Second)

	s, ok := sample(t, m.Registry(), "bulkhead_verdict_latency_seconds", map[string]string{})
	if !ok {
		t.Fatal("no latency histogram")
	}
	h := s.GetHistogram()
	type bucket struct {
		Le    float64
		Count uint64
	}
	var got, want []bucket
	for _, b := range h.GetBucket() {
		got = append(got, bucket{b.GetUpperBound(), b.GetCumulativeCount()})
	}
	for i, b := range metrics.LatencyBuckets() {
		want = append(want, bucket{b, uint64(i + 2)}) // the zero one, then one per bound
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
	if got, want := h.GetSampleCount(), uint64(len(metrics.LatencyBuckets())+2); got != want {
		t.Errorf("count = %d, want %d", got, want)
	}
	if got, want := h.GetSampleSum(), sum.Seconds(); got < want*0.999999 || got > want*1.000001 {
		t.Errorf("sum = %v, want %v", got, want)
	}
}

func TestQueueRecordersAggregate(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	var wg sync.WaitGroup
	const perQueue = 1000
	for q := range uint16(4) {
		rec := m.Queue(q)
		for range 2 { // two goroutines per recorder: safe, if slower
			wg.Go(func() {
				for i := range perQueue {
					rec.Packets(1)
					rec.Verdict(metrics.Verdict(i%5), time.Microsecond)
					if i%10 == 0 {
						rec.FastPathed(i%20 == 0)
					}
				}
			})
		}
	}
	wg.Wait()
	if first, again := m.Queue(2), m.Queue(2); first != again {
		t.Error("Queue returns a new recorder for a known queue")
	}
	reg := m.Registry()
	for q := range 4 {
		if got := counterValue(t, reg, "bulkhead_queue_packets_total", map[string]string{"queue": string(rune('0' + q))}); got != 2*perQueue {
			t.Errorf("queue %d packets = %v, want %d", q, got, 2*perQueue)
		}
	}
	for _, v := range []string{"accept", "drop", "allow_conn", "deny_conn", "inspect_conn"} {
		if got := counterValue(t, reg, "bulkhead_verdicts_total", map[string]string{"verdict": v}); got != 4*2*perQueue/5 {
			t.Errorf("verdict %s = %v, want %d", v, got, 4*2*perQueue/5)
		}
	}
	for _, v := range []string{"allow", "deny"} {
		if got := counterValue(t, reg, "bulkhead_connections_fastpathed_total", map[string]string{"verdict": v}); got != 4*2*perQueue/20 {
			t.Errorf("fast-pathed %s = %v, want %d", v, got, 4*2*perQueue/20)
		}
	}
}

func TestVerdictString(t *testing.T) {
	tests := []struct {
		v    metrics.Verdict
		want string
	}{
		{metrics.VerdictAccept, "accept"},
		{metrics.VerdictDrop, "drop"},
		{metrics.VerdictAllowConn, "allow_conn"},
		{metrics.VerdictDenyConn, "deny_conn"},
		{metrics.VerdictInspectConn, "inspect_conn"},
		{metrics.Verdict(200), "unknown"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("Verdict(%d) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestFlows(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	for _, p := range []uint8{6, 6, 17, 1, 58, 132, 47} {
		m.FlowCreated(p)
	}
	m.FlowEvicted(metrics.EvictCapacity)
	m.FlowEvicted(metrics.EvictCapacity)
	m.FlowEvicted(metrics.EvictReason(99)) // ignored
	reg := m.Registry()
	for proto, want := range map[string]float64{"tcp": 2, "udp": 1, "icmp": 1, "icmpv6": 1, "sctp": 1, "other": 1} {
		if got := counterValue(t, reg, "bulkhead_flows_created_total", map[string]string{"proto": proto}); got != want {
			t.Errorf("created %s = %v, want %v", proto, got, want)
		}
	}
	for reason, want := range map[string]float64{"idle": 0, "capacity": 2, "closed": 0, "endpoint_gone": 0} {
		if got := counterValue(t, reg, "bulkhead_flows_evicted_total", map[string]string{"reason": reason}); got != want {
			t.Errorf("evicted %s = %v, want %v", reason, got, want)
		}
	}
	if _, ok := sample(t, reg, "bulkhead_flows_active", map[string]string{}); ok {
		t.Error("bulkhead_flows_active exported without a source")
	}
}
