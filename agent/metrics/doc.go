// Package metrics holds the Prometheus metrics of the Bulkhead agent, on the
// agent's own registry (never the global one), served at /metrics on the
// metrics address (default :9447).
//
// Every family is listed in the catalog (Families), which docs/metrics.md
// documents and the dashboard and alert tests in deploy/ check against.
//
// # What the agent calls, and when
//
// At start:
//
//	m, err := metrics.New(metrics.Options{Version: v, Revision: r, MaxGraphSeries: cfg.MaxGraphSeries, Logger: log})
//	mux.Handle("/metrics", m.Handler())
//	m.SetQueueStatsSource(src) // dataplane's /proc/net/netfilter/nfnetlink_queue reader, adapted
//	m.SetFlowTableSource(table)
//	rec := m.Queue(n)          // once per queue reader; keep rec
//
// Per packet, on the queue reader's goroutine (no allocation, no lock):
//
//	rec.Packets(1)                              // read from the queue (or n for a batch)
//	rec.Verdict(metrics.VerdictAllowConn, d)    // verdict sent; d = time since the read
//
// (When the dataplane's own counters fill QueueStats.Packets and Verdicts,
// call only rec.ObserveLatency(d) per verdict instead.)
//
// Per connection:
//
//	m.FlowCreated(ipProto)            // added to the flow table
//	rec.FastPathed(allowed)           // connmark set to allowed/denied: the kernel carries the rest
//	m.Connection(metrics.Edge{...})   // once its verdict is known: the communication graph
//	m.Violation(group, mode, reason)  // no rule allows it (also per request under L7 rules)
//	m.FlowEvicted(reason)             // removed from the flow table
//
// Per request or answer seen by the L7 engine:
//
//	m.HTTPRequest(method, status)     // when its response is seen; status 0 when none will be
//	m.HTTPRequestOf(metrics.ParseHTTPMethod(method), status) // the same, method kept as a byte
//	m.DNSQuery(rcode)
//
// Per policy load, mode change and learned edge:
//
//	m.PolicyLoaded(rules, modes) / m.PolicyLoadFailed()
//	m.SetGroupMode(group, mode)
//	m.EdgeLearned(); m.SetLearnedEdges(n)
//
// Periodically (e.g. hourly): m.SweepGraph() drops connection series not
// seen since the previous sweep.
//
// # Cardinality
//
// Label values come from bounded sets: typed enums (verdicts, reasons,
// protocols), fixed lists (HTTP methods, status classes, DNS rcodes), and
// workload and group names under caps. bulkhead_connections_total holds at
// most Options.MaxGraphSeries series; past the cap a new combination is
// counted under a series whose workload, group, port and app labels are
// "other" (protocol and verdict kept) and in bulkhead_graph_folded_total.
// Workload names that are IP literals are exported as "world".
package metrics
