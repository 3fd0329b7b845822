package metrics

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults of the cardinality caps.
const (
	// DefaultMaxGraphSeries is the default cap on the distinct series of
	// bulkhead_connections_total.
	DefaultMaxGraphSeries = 5000
	// DefaultMaxGroups is the default cap on distinct policy groups in the
	// policy metrics.
	DefaultMaxGroups = 1000
)

// Options configure New. The zero value is valid.
type Options struct {
	// Version and Revision label bulkhead_build_info ("unknown" when empty).
	Version, Revision string
	// MaxGraphSeries caps the distinct series of bulkhead_connections_total
	// (0: DefaultMaxGraphSeries). Past the cap, new label combinations are
	// folded (see docs/metrics.md).
	MaxGraphSeries int
	// MaxGroups caps the distinct groups of the policy metrics (0:
	// DefaultMaxGroups). Past the cap, new groups count as group "other".
	MaxGroups int
	// Logger receives scrape-time errors (nil: discarded). The packet path
	// never logs.
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Metrics holds every metric of one agent on the agent's own registry
// (never the global one). Create it with New. All methods are safe for
// concurrent use; the methods called per packet or per flow never allocate
// once a label combination has been seen, and never block on I/O.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger
	now func() time.Time

	queues     queueRecorders
	packetPath *packetCollector
	flows      *flowMetrics
	graph      *graphMetrics
	http       *counterTable
	dns        *counterTable
	policy     *policyMetrics
	learning   *learningMetrics
}

// New builds the metrics of one agent and registers them, with the Go and
// process collectors and bulkhead_build_info, on a new registry.
func New(opts Options) (*Metrics, error) {
	if opts.MaxGraphSeries < 0 {
		return nil, fmt.Errorf("metrics: max graph series %d: must not be negative", opts.MaxGraphSeries)
	}
	if opts.MaxGroups < 0 {
		return nil, fmt.Errorf("metrics: max groups %d: must not be negative", opts.MaxGroups)
	}
	if opts.MaxGraphSeries == 0 {
		opts.MaxGraphSeries = DefaultMaxGraphSeries
	}
	if opts.MaxGroups == 0 {
		opts.MaxGroups = DefaultMaxGroups
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Metrics{
		reg:      prometheus.NewRegistry(),
		log:      opts.Logger,
		now:      opts.Now,
		flows:    newFlowMetrics(),
		graph:    newGraphMetrics(opts.MaxGraphSeries),
		policy:   newPolicyMetrics(opts.MaxGroups),
		learning: newLearningMetrics(),
	}
	m.packetPath = newPacketCollector(&m.queues, opts.Logger)
	m.http = newHTTPTable()
	m.dns = newDNSTable()
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(opts.Version, opts.Revision),
		m.packetPath,
		m.flows,
		m.graph,
		m.http.vec,
		m.dns.vec,
		m.policy,
		m.learning,
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register collector: %w", err)
		}
	}
	return m, nil
}

func buildInfo(version, revision string) prometheus.Collector {
	if version == "" {
		version = LabelUnknown
	}
	if revision == "" {
		revision = LabelUnknown
	}
	f := family(nameBuildInfo)
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        f.Name,
		Help:        f.Help,
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// Registry returns the agent's registry, e.g. to register more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format, for
// /metrics on the metrics address. A collector that fails is logged and
// left out; the other metrics are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            printlnLogger{m.log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             30 * time.Second,
	})
}

// printlnLogger adapts slog to promhttp.Logger.
type printlnLogger struct{ log *slog.Logger }

func (l printlnLogger) Println(v ...any) {
	l.log.Error("metrics: serve /metrics", "err", errors.New(fmt.Sprint(v...)))
}

// Queue returns the recorder of NFQUEUE queue number q, creating it on the
// first call. Call it once per queue reader at start and keep the result.
func (m *Metrics) Queue(q uint16) *QueueRecorder { return m.queues.get(q) }

// SetQueueStatsSource sets where the kernel queue statistics come from;
// until it is called (or after it is called with nil) they are not
// exported.
func (m *Metrics) SetQueueStatsSource(s QueueStatsSource) {
	if s == nil {
		m.packetPath.source.Store(nil)
		return
	}
	m.packetPath.source.Store(&queueSourceBox{s})
}

// SetFlowTableSource sets where the flow table's size comes from; until it
// is called (or after it is called with nil) bulkhead_flows_active and
// bulkhead_flows_limit are not exported.
func (m *Metrics) SetFlowTableSource(s FlowTableSource) {
	if s == nil {
		m.flows.source.Store(nil)
		return
	}
	m.flows.source.Store(&flowSourceBox{s})
}

// FlowCreated counts one flow added to the flow table; ipProto is the IP
// protocol number (6 TCP, 17 UDP…).
func (m *Metrics) FlowCreated(ipProto uint8) { m.flows.created[classifyProto(ipProto)].Inc() }

// FlowEvicted counts one flow removed from the flow table.
func (m *Metrics) FlowEvicted(r EvictReason) {
	if r < numEvictReasons {
		m.flows.evicted[r].Inc()
	}
}

// Connection counts one connection of the communication graph, once its
// verdict is known (once per connection, not per packet).
func (m *Metrics) Connection(e Edge) { m.graph.set.get(e.key()).Inc() }

// SweepGraph stops exporting the connection series that were not counted
// since the previous sweep, and returns how many it removed. The agent
// calls it on a ticker (e.g. hourly) so that series of workloads that went
// away free room under the cap.
func (m *Metrics) SweepGraph() int { return m.graph.set.sweep() }
