package metrics

import "github.com/prometheus/client_golang/prometheus"

// Type is the Prometheus type of a metric family.
type Type string

// The metric types Bulkhead exports.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// Family describes one metric family of the agent: its name, type, help text
// and label names. The catalog is the single source of truth: every metric
// is built from its entry, docs/metrics.md documents exactly these families
// (a test compares them), and the dashboard and alert tests in deploy/ check
// every metric and label name they use against it.
type Family struct {
	Name   string
	Type   Type
	Help   string
	Labels []string
}

// Series returns the names of the time series a family exposes: the family
// name itself, or for a histogram its _bucket, _sum and _count series.
func (f Family) Series() []string {
	if f.Type == Histogram {
		return []string{f.Name + "_bucket", f.Name + "_sum", f.Name + "_count"}
	}
	return []string{f.Name}
}

// Metric family names, in catalog order.
const (
	nameBuildInfo            = "bulkhead_build_info"
	nameQueuePackets         = "bulkhead_queue_packets_total"
	nameVerdicts             = "bulkhead_verdicts_total"
	nameFastPathed           = "bulkhead_connections_fastpathed_total"
	nameVerdictLatency       = "bulkhead_verdict_latency_seconds"
	nameQueueKernelDrops     = "bulkhead_queue_kernel_drops_total"
	nameQueueUserDrops       = "bulkhead_queue_user_drops_total"
	nameQueueOverruns        = "bulkhead_queue_overruns_total"
	nameQueueWaiting         = "bulkhead_queue_waiting_packets"
	nameQueueCapacity        = "bulkhead_queue_capacity_packets"
	nameQueueReaderBound     = "bulkhead_queue_reader_bound"
	nameQueueStatsErrors     = "bulkhead_queue_stats_errors_total"
	nameFailOpen             = "bulkhead_dataplane_fail_open"
	nameFlowsActive          = "bulkhead_flows_active"
	nameFlowsLimit           = "bulkhead_flows_limit"
	nameFlowsCreated         = "bulkhead_flows_created_total"
	nameFlowsEvicted         = "bulkhead_flows_evicted_total"
	nameConnections          = "bulkhead_connections_total"
	nameGraphFolded          = "bulkhead_graph_folded_total"
	nameGraphSeries          = "bulkhead_graph_series"
	nameGraphSeriesLimit     = "bulkhead_graph_series_limit"
	nameHTTPRequests         = "bulkhead_http_requests_total"
	nameDNSQueries           = "bulkhead_dns_queries_total"
	nameViolations           = "bulkhead_policy_violations_total"
	namePolicyRules          = "bulkhead_policy_rules"
	namePolicyGroupMode      = "bulkhead_policy_group_mode"
	namePolicyReloads        = "bulkhead_policy_reloads_total"
	namePolicyReloadOK       = "bulkhead_policy_last_reload_successful"
	namePolicyReloadOKTime   = "bulkhead_policy_last_reload_success_timestamp_seconds"
	nameLearningEdgesAdded   = "bulkhead_learning_edges_added_total"
	nameLearningGraphEdgeCnt = "bulkhead_learning_graph_edges"
)

// catalog lists every metric family of the agent (Go and process collector
// families excluded: they are client_golang's).
var catalog = []Family{
	{nameBuildInfo, Gauge, "Always 1; the labels name the running build.", []string{"version", "revision", "goversion"}},

	// Packet path.
	{nameQueuePackets, Counter, "Packets read from an NFQUEUE queue by the agent.", []string{"queue"}},
	{nameVerdicts, Counter, "Verdicts the agent gave queued packets, by kind.", []string{"verdict"}},
	{nameFastPathed, Counter, "Connections handed to the kernel fast path by connmark, by decision.", []string{"verdict"}},
	{nameVerdictLatency, Histogram, "Time from reading a queued packet to the agent's decision on it (the verdict is then sent with the rest of its read burst).", nil},
	{nameQueueKernelDrops, Counter, "Packets the kernel dropped because the queue was full (queue_dropped in /proc/net/netfilter/nfnetlink_queue).", []string{"queue"}},
	{nameQueueUserDrops, Counter, "Packets the kernel failed to deliver to the agent's netlink socket (user_dropped in /proc/net/netfilter/nfnetlink_queue).", []string{"queue"}},
	{nameQueueOverruns, Counter, "Receive buffer overflows (ENOBUFS) of a queue reader's socket: packets were lost, or let through uninspected when fail-open.", []string{"queue"}},
	{nameQueueWaiting, Gauge, "Packets waiting in the kernel queue for a verdict.", []string{"queue"}},
	{nameQueueCapacity, Gauge, "Maximum number of packets the kernel queue holds.", []string{"queue"}},
	{nameQueueReaderBound, Gauge, "1 when an agent reader is bound to the queue, 0 when none is.", []string{"queue"}},
	{nameQueueStatsErrors, Counter, "Failures to read the kernel queue statistics at scrape time.", nil},
	{nameFailOpen, Gauge, "1 when queued traffic currently bypasses inspection (fail-open queue without a reader, or full); 0 otherwise.", nil},

	// Flows.
	{nameFlowsActive, Gauge, "Flows in the flow table.", nil},
	{nameFlowsLimit, Gauge, "Maximum number of flows the flow table holds.", nil},
	{nameFlowsCreated, Counter, "Flows added to the flow table, by transport protocol.", []string{"proto"}},
	{nameFlowsEvicted, Counter, "Flows removed from the flow table, by reason.", []string{"reason"}},

	// Communication graph.
	{nameConnections, Counter, "Connections by source and destination workload, destination port, protocol, app and verdict.", []string{"src", "src_group", "dst", "dst_group", "dport", "proto", "app", "verdict"}},
	{nameGraphFolded, Counter, "Connections counted under the folded series because the series cap was reached.", nil},
	{nameGraphSeries, Gauge, "Distinct series of bulkhead_connections_total, folded series excluded.", nil},
	{nameGraphSeriesLimit, Gauge, "Cap on the distinct series of bulkhead_connections_total.", nil},

	// L7.
	{nameHTTPRequests, Counter, "HTTP requests seen, by method and response status class.", []string{"method", "status_class"}},
	{nameDNSQueries, Counter, "DNS queries seen, by response code.", []string{"rcode"}},

	// Policy.
	{nameViolations, Counter, "Flows or requests no policy rule allows, by group, effective mode and reason.", []string{"group", "mode", "reason"}},
	{namePolicyRules, Gauge, "Allow rules in the policy in force.", nil},
	{namePolicyGroupMode, Gauge, "1 for the current mode of each policy group.", []string{"group", "mode"}},
	{namePolicyReloads, Counter, "Policy loads and reloads, by result.", []string{"result"}},
	{namePolicyReloadOK, Gauge, "1 when the last policy load succeeded, 0 when it failed.", nil},
	{namePolicyReloadOKTime, Gauge, "Unix time of the last successful policy load.", nil},

	// Learning.
	{nameLearningEdgesAdded, Counter, "New edges added to the learned communication graph.", nil},
	{nameLearningGraphEdgeCnt, Gauge, "Edges in the learned communication graph.", nil},
}

// Families returns the catalog of every metric family the agent exports, in
// a fixed order. The caller may not modify the result.
func Families() []Family { return catalog }

// family returns the catalog entry named name; it panics on an unknown name
// (a programming error caught by every test).
func family(name string) Family {
	for _, f := range catalog {
		if f.Name == name {
			return f
		}
	}
	panic("metrics: no catalog entry " + name)
}

// desc builds the descriptor of a catalog family for collectors that emit
// constant metrics at scrape time.
func desc(name string) *prometheus.Desc {
	f := family(name)
	return prometheus.NewDesc(f.Name, f.Help, f.Labels, nil)
}

func counterVec(name string) *prometheus.CounterVec {
	f := family(name)
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: f.Name, Help: f.Help}, f.Labels)
}

func counter(name string) prometheus.Counter {
	f := family(name)
	return prometheus.NewCounter(prometheus.CounterOpts{Name: f.Name, Help: f.Help})
}

func gaugeVec(name string) *prometheus.GaugeVec {
	f := family(name)
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: f.Name, Help: f.Help}, f.Labels)
}

func gauge(name string) prometheus.Gauge {
	f := family(name)
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: f.Name, Help: f.Help})
}
