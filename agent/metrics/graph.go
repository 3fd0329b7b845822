package metrics

import (
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Edge is one connection of the communication graph, as counted by
// bulkhead_connections_total. Its fields are label values of bounded sets:
// workload and group names, never IP addresses, and the server's port,
// never the client's ephemeral one.
type Edge struct {
	// Src is the source workload's name; SrcGroup its policy group ("" when
	// it is in none).
	Src, SrcGroup string
	// Dst is the destination workload's name, "world" for an unknown
	// external peer, or the name of the FQDN or CIDR group that matched it;
	// DstGroup is its policy group ("" when none).
	Dst, DstGroup string
	// DstPort is the destination (server) port; 0 for ICMP.
	DstPort uint16
	// Proto is the IP protocol number: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6…
	Proto uint8
	// App is the application protocol's name as l7.App.String gives it
	// ("http", "redis"…; "unknown" or "" before or without identification).
	App string
	// Verdict is the connection's outcome.
	Verdict EdgeVerdict
}

// The label values that stand for a missing or folded name.
const (
	// LabelOther replaces the fields of a connection folded past the series
	// cap.
	LabelOther = "other"
	// LabelWorld names an external peer no group or DNS answer names.
	LabelWorld = "world"
	// LabelUnknown replaces an empty workload name.
	LabelUnknown = "unknown"
	// LabelNone is the group of a workload in no policy group.
	LabelNone = "none"
)

// edgeKey is an Edge with its names normalised: the key of one series.
type edgeKey struct {
	src, srcGroup, dst, dstGroup string
	port                         uint16
	proto                        protoClass
	app                          string
	verdict                      EdgeVerdict
	folded                       bool
}

func (e Edge) key() edgeKey {
	return edgeKey{
		src:      workloadLabel(e.Src),
		srcGroup: groupLabel(e.SrcGroup),
		dst:      workloadLabel(e.Dst),
		dstGroup: groupLabel(e.DstGroup),
		port:     e.DstPort,
		proto:    classifyProto(e.Proto),
		app:      appLabel(e.App),
		verdict:  min(e.Verdict, numEdgeVerdicts),
	}
}

func (k edgeKey) labels() []string {
	port := portLabel(k.port)
	app := k.app
	if k.folded {
		port, app = LabelOther, LabelOther
	}
	return []string{k.src, k.srcGroup, k.dst, k.dstGroup, port, protoNames[k.proto], app, k.verdict.String()}
}

// foldEdge keeps only the protocol and the verdict of a connection, so that
// folded connections still tell allowed from denied traffic.
func foldEdge(k edgeKey) edgeKey {
	return edgeKey{src: LabelOther, srcGroup: LabelOther, dst: LabelOther, dstGroup: LabelOther, proto: k.proto, verdict: k.verdict, folded: true}
}

// workloadLabel returns name, or "unknown" for an empty name and "world"
// for an IP address literal: an address must never become a label value.
// It does not allocate.
func workloadLabel(name string) string {
	if name == "" {
		return LabelUnknown
	}
	if looksLikeAddr(name) {
		if _, err := netip.ParseAddr(name); err == nil {
			return LabelWorld
		}
	}
	return name
}

// looksLikeAddr is a cheap filter before netip.ParseAddr: IPv4 literals
// start with a digit, IPv6 literals contain a colon.
func looksLikeAddr(s string) bool {
	return (s[0] >= '0' && s[0] <= '9') || strings.IndexByte(s, ':') >= 0
}

func appLabel(name string) string {
	if name == "" {
		return LabelUnknown
	}
	return name
}

func groupLabel(name string) string {
	if name == "" {
		return LabelNone
	}
	return name
}

// graphMetrics counts connections under a cap on distinct series.
type graphMetrics struct {
	vec    *prometheus.CounterVec
	folded prometheus.Counter
	set    *seriesSet[edgeKey]
	limit  int

	series, seriesLimit *prometheus.Desc
}

func newGraphMetrics(limit int) *graphMetrics {
	g := &graphMetrics{
		vec:         counterVec(nameConnections),
		folded:      counter(nameGraphFolded),
		limit:       limit,
		series:      desc(nameGraphSeries),
		seriesLimit: desc(nameGraphSeriesLimit),
	}
	g.set = newSeriesSet(g.vec, edgeKey.labels, foldEdge, limit, g.folded)
	return g
}

func (g *graphMetrics) Describe(ch chan<- *prometheus.Desc) {
	g.vec.Describe(ch)
	g.folded.Describe(ch)
	ch <- g.series
	ch <- g.seriesLimit
}

func (g *graphMetrics) Collect(ch chan<- prometheus.Metric) {
	g.vec.Collect(ch)
	g.folded.Collect(ch)
	ch <- prometheus.MustNewConstMetric(g.series, prometheus.GaugeValue, float64(g.set.count()))
	ch <- prometheus.MustNewConstMetric(g.seriesLimit, prometheus.GaugeValue, float64(g.limit))
}
