// Package metricstest drives an agent's metrics with a synthetic,
// deterministic workload and provides fake statistics sources, for tests
// that need populated metrics without a running dataplane: golden
// expositions, promlint, and the real-Prometheus harness (deploy/promtest).
package metricstest

import (
	"sync"
	"time"

	"bulkhead.dev/bulkhead/agent/metrics"
)

// Edges is the communication graph of the synthetic workload: a frontend,
// an api, a database, DNS, an allowed external name and a compromised
// container, in the groups their names suggest.
var Edges = []metrics.Edge{
	{Src: "frontend", SrcGroup: "web", Dst: "api", DstGroup: "backend", DstPort: 8080, Proto: 6, App: "http", Verdict: metrics.EdgeAllowed},
	{Src: "api", SrcGroup: "backend", Dst: "db", DstGroup: "data", DstPort: 6379, Proto: 6, App: "redis", Verdict: metrics.EdgeAllowed},
	{Src: "api", SrcGroup: "backend", Dst: "dns", DstGroup: "infra", DstPort: 53, Proto: 17, App: "dns", Verdict: metrics.EdgeAllowed},
	{Src: "api", SrcGroup: "backend", Dst: "payments.example.com", DstGroup: "payments-provider", DstPort: 443, Proto: 6, App: "tls", Verdict: metrics.EdgeAllowed},
	{Src: "frontend", SrcGroup: "web", Dst: "db", DstGroup: "data", DstPort: 6379, Proto: 6, App: "redis", Verdict: metrics.EdgeDenied},
	{Src: "intruder", SrcGroup: "sandbox", Dst: "world", DstGroup: "world", DstPort: 4444, Proto: 6, App: "unknown", Verdict: metrics.EdgeReported},
}

// Groups are the policy groups of the workload and their modes.
var Groups = map[string]string{
	"web":     metrics.ModeProtect,
	"backend": metrics.ModeMonitor,
	"data":    metrics.ModeProtect,
	"infra":   metrics.ModeLearn,
	"sandbox": metrics.ModeMonitor,
}

// Queues is the number of NFQUEUE queues the workload uses (0 and 1).
const Queues = 2

// Drive feeds m one round of synthetic traffic: packets and verdicts on
// every queue, flows, one connection per edge of Edges, HTTP requests, DNS
// queries, the violations of the denied and reported edges, and a learned
// edge. The same calls give the same counts: the first round also loads
// the policy. Rounds can be driven while Prometheus scrapes, so that
// rate() has increases to see.
func Drive(m *metrics.Metrics, round int) {
	if round == 0 {
		m.PolicyLoaded(12, Groups)
		m.SetLearnedEdges(len(Edges))
	}
	for q := range uint16(Queues) {
		rec := m.Queue(q)
		rec.Packets(10)
		for i := range 10 {
			v := metrics.VerdictAccept
			switch i {
			case 0:
				v = metrics.VerdictAllowConn
			case 1:
				v = metrics.VerdictDenyConn
			case 2:
				v = metrics.VerdictInspectConn
			case 3:
				v = metrics.VerdictDrop
			}
			rec.Verdict(v, time.Duration(2+i*15)*time.Microsecond)
		}
		rec.FastPathed(true)
		rec.FastPathed(false)
	}
	for _, e := range Edges {
		m.FlowCreated(e.Proto)
		m.Connection(e)
		if e.Verdict != metrics.EdgeAllowed {
			m.Violation(e.SrcGroup, Groups[e.SrcGroup], metrics.ReasonNoRule)
		}
	}
	m.Violation("backend", metrics.ModeMonitor, metrics.ReasonL7)
	m.FlowEvicted(metrics.EvictIdle)
	m.FlowEvicted(metrics.EvictClosed)
	m.HTTPRequest("GET", 200)
	m.HTTPRequest("GET", 200)
	m.HTTPRequest("POST", 201)
	m.HTTPRequest("GET", 404)
	m.HTTPRequest("DELETE", 0)
	m.DNSQuery(0)
	m.DNSQuery(0)
	m.DNSQuery(3)
	m.EdgeLearned()
}

// QueueSource is a fake metrics.QueueStatsSource returning what was last
// set, or the error set.
type QueueSource struct {
	mu    sync.Mutex
	stats []metrics.QueueStats
	err   error
}

// Set replaces the statistics (and clears the error).
func (s *QueueSource) Set(stats ...metrics.QueueStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats, s.err = stats, nil
}

// Fail makes QueueStats return err.
func (s *QueueSource) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// QueueStats implements metrics.QueueStatsSource.
func (s *QueueSource) QueueStats() ([]metrics.QueueStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return append([]metrics.QueueStats(nil), s.stats...), nil
}

// HealthyQueues are the statistics of the workload's queues when all is
// well: both bound, fail-open, nothing dropped.
func HealthyQueues() []metrics.QueueStats {
	out := make([]metrics.QueueStats, Queues)
	for i := range out {
		out[i] = metrics.QueueStats{Queue: uint16(i), Bound: true, FailOpen: true, Waiting: uint64(i), Capacity: 4096}
	}
	return out
}

// FlowTable is a fake metrics.FlowTableSource.
type FlowTable struct {
	mu    sync.Mutex
	stats metrics.FlowTableStats
}

// Set replaces the table's size.
func (f *FlowTable) Set(st metrics.FlowTableStats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats = st
}

// FlowTableStats implements metrics.FlowTableSource.
func (f *FlowTable) FlowTableStats() metrics.FlowTableStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// New returns metrics populated by one round of Drive with healthy queue
// statistics and a flow table of 42 flows out of 262,144, with fixed build
// labels and clock so that the exposition is deterministic (Go and process
// collectors aside).
func New(opts metrics.Options) (*metrics.Metrics, *QueueSource, *FlowTable, error) {
	if opts.Version == "" {
		opts.Version = "test"
	}
	if opts.Revision == "" {
		opts.Revision = "0000000"
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Unix(1700000000, 0) }
	}
	m, err := metrics.New(opts)
	if err != nil {
		return nil, nil, nil, err
	}
	qs := &QueueSource{}
	qs.Set(HealthyQueues()...)
	ft := &FlowTable{}
	ft.Set(metrics.FlowTableStats{Active: 42, Limit: 262144})
	m.SetQueueStatsSource(qs)
	m.SetFlowTableSource(ft)
	Drive(m, 0)
	return m, qs, ft, nil
}
