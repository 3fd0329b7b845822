package decide

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/policy/learn"
	"bulkhead.dev/bulkhead/policy/promote"
)

// Emitter receives events; *events.Emitter implements it. Both methods
// must not block.
type Emitter interface {
	Emit(events.Event) bool
	// Reserve reports whether an event would be queued now (counting a
	// drop when not), so that the packet path skips building it.
	Reserve() bool
}

// Wait bounds how long a connection stays undecided while a rule (or
// learning) waits for its L7 attributes. The first bound reached ends the
// wait. Counting starts at the flow's first payload packet.
type Wait struct {
	Packets int           // payload packets (default 8)
	Bytes   int           // payload bytes (default 16 KiB)
	Time    time.Duration // default 2 s
	// Deny is what protect mode does when the wait ends without the
	// attributes: true denies the connection, false allows it. Always
	// reported; learn mode allows, monitor mode reports.
	Deny bool
}

// Config configures a Decider. Flows, Resolver, Events and Metrics are
// required.
type Config struct {
	Flows    *flowtable.Table
	Resolver *identity.Resolver
	Events   Emitter
	Metrics  *metrics.Metrics
	// Engine is the L7 engine; default one with l7.Config{} defaults.
	Engine *l7.Engine
	// Graph records learned edges; nil records none.
	Graph *learn.Graph
	// Promoter, when set, hears about new edges and violations of the
	// groups of local endpoints (auto-promotion's quiet periods).
	Promoter *promote.Promoter
	// Wait bounds the wait for L7 attributes.
	Wait Wait
	// EvidencePackets is how many first packets of a connection are kept
	// for drop and violation events (0: none).
	EvidencePackets int
	// MaxInspections bounds the flows inspected at once (default 16384).
	MaxInspections int
	// LearnOnce fast-paths a connection in learn mode once its first
	// request is recorded (config learn.everyRequest: false). By default
	// (false) connections of an application with L7 attributes stay
	// inspected in learn mode so that every distinct request of a
	// keep-alive connection is learned: requests made later on it would
	// otherwise be missing from the learned graph, and from a policy
	// generated from it, and be dropped in protect mode.
	LearnOnce bool
	// Responses queues HTTP, HTTP/2 and gRPC connections inspected request
	// by request whole (InspectAll) in monitor and protect mode too, so that
	// their responses are seen and their requests counted by status class.
	// Learn mode always does. It costs queueing every response segment and
	// ACK of those connections (about four times the packets of Inspect on
	// request/response traffic).
	Responses bool
	// QueueFirst and Queues name the NFQUEUE queues whose metrics recorders
	// the Decider feeds (verdict latency, fast-pathed connections).
	QueueFirst uint16
	Queues     int
	// MaxVerdictEdges bounds the per-edge verdict counts kept for the graph
	// API (default 16,384).
	MaxVerdictEdges int
	// Now is the clock (default time.Now); Logger gets debug lines behind a
	// level check and the rare warnings (default: discard).
	Now    func() time.Time
	Logger *slog.Logger
}

// Decider decides queued packets. Create it with New; it is safe for
// concurrent use by every queue reader.
type Decider struct {
	cfg      Config
	log      *slog.Logger
	debug    bool
	flows    *flowtable.Table
	resolver *identity.Resolver
	fqdn     *identity.FQDNMap
	events   Emitter
	metrics  *metrics.Metrics
	engine   *l7.Engine
	graph    *learn.Graph
	promoter *promote.Promoter
	now      func() time.Time
	recs     []*metrics.QueueRecorder

	state    atomic.Pointer[planState]
	gen      atomic.Uint64
	pool     sync.Pool // *inspection
	active   atomic.Int64
	verdicts *verdictCounts
	graphGen atomic.Uint64

	stats counters
}

// counters are the Decider's own statistics (Stats).
type counters struct {
	inspectLimit, waitExceeded, lost, dnsDropped atomic.Uint64
}

// Stats are the Decider's counters.
type Stats struct {
	// Inspecting is the number of flows holding inspection state now.
	Inspecting int64
	// InspectionLimit counts flows decided without inspection because
	// MaxInspections flows were inspected already.
	InspectionLimit uint64
	// WaitExceeded counts flows whose L7 wait ended without the attributes.
	WaitExceeded uint64
	// InspectionLost counts inspected connections whose requests could no
	// longer be parsed (bytes that break the protocol, reassembly limits).
	InspectionLost uint64
	// DNSDropped counts DNS queries dropped for their name.
	DNSDropped uint64
}

// New returns a Decider with the empty policy in learn mode; SetPlan puts
// the real one in force.
func New(cfg Config) (*Decider, error) {
	if cfg.Flows == nil || cfg.Resolver == nil || cfg.Events == nil || cfg.Metrics == nil {
		return nil, errors.New("decide: new: Flows, Resolver, Events and Metrics are required")
	}
	if cfg.Engine == nil {
		cfg.Engine = l7.NewEngine(l7.Config{})
	}
	if cfg.Wait.Packets <= 0 {
		cfg.Wait.Packets = 8
	}
	if cfg.Wait.Bytes <= 0 {
		cfg.Wait.Bytes = 16 << 10
	}
	if cfg.Wait.Time <= 0 {
		cfg.Wait.Time = 2 * time.Second
	}
	cfg.EvidencePackets = min(max(cfg.EvidencePackets, 0), maxKept)
	if cfg.MaxInspections <= 0 {
		cfg.MaxInspections = 16384
	}
	if cfg.MaxVerdictEdges <= 0 {
		cfg.MaxVerdictEdges = 16384
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Decider{
		cfg: cfg, log: cfg.Logger, debug: cfg.Logger.Enabled(context.Background(), slog.LevelDebug),
		flows: cfg.Flows, resolver: cfg.Resolver, fqdn: cfg.Resolver.FQDN(), events: cfg.Events,
		metrics: cfg.Metrics, engine: cfg.Engine, graph: cfg.Graph, promoter: cfg.Promoter, now: cfg.Now,
		verdicts: newVerdictCounts(cfg.MaxVerdictEdges),
	}
	d.pool.New = func() any { return new(inspection) }
	for i := range max(cfg.Queues, 0) {
		d.recs = append(d.recs, cfg.Metrics.Queue(cfg.QueueFirst+uint16(i)))
	}
	empty, err := policy.Compile(&policy.Policy{DefaultMode: policy.ModeLearn})
	if err != nil {
		return nil, err
	}
	d.SetPlan(empty)
	return d, nil
}

// planState is the plan in force and the endpoint classifications made
// under its compiled policy.
type planState struct {
	plan  *policy.Plan
	gen   uint64 // changes when the compiled policy changes
	cache *endpointCache
}

// SetPlan puts a plan in force for the next packet. A plan that shares its
// compiled policy with the one in force (policy.Plan.WithMode) keeps the
// endpoint classifications; a new policy starts them afresh.
func (d *Decider) SetPlan(p *policy.Plan) {
	if old := d.state.Load(); old != nil && old.plan.Policy() == p.Policy() {
		d.state.Store(&planState{plan: p, gen: old.gen, cache: old.cache})
		return
	}
	d.state.Store(&planState{plan: p, gen: d.gen.Add(1), cache: newEndpointCache(p)})
}

// Plan returns the plan in force.
func (d *Decider) Plan() *policy.Plan { return d.state.Load().plan }

// IdentitiesChanged forgets the classifications of workloads: call it when
// a container appears, goes, or is renamed (identity file reload).
func (d *Decider) IdentitiesChanged() { d.state.Load().cache.resetWorkloads() }

// Classify returns the policy endpoint of an identity seen at addr (for the
// API: a workload's groups), through the same cache as the packet path.
func (d *Decider) Classify(id identity.Identity, addr netip.Addr) policy.Endpoint {
	return d.classify(d.state.Load(), id, addr).ep
}

// Stats returns the Decider's counters.
func (d *Decider) Stats() Stats {
	return Stats{
		Inspecting:      d.active.Load(),
		InspectionLimit: d.stats.inspectLimit.Load(),
		WaitExceeded:    d.stats.waitExceeded.Load(),
		InspectionLost:  d.stats.lost.Load(),
		DNSDropped:      d.stats.dnsDropped.Load(),
	}
}

// OnEvict releases what the Decider attached to a flow leaving the flow
// table; the agent calls it from the table's eviction hook (the flow is
// locked).
func (d *Decider) OnEvict(f *flowtable.Flow, _ flowtable.Reason) { d.release(f) }

// recorder returns the metrics recorder of queue q, or nil.
func (d *Decider) recorder(q uint16) *metrics.QueueRecorder {
	i := int(q) - int(d.cfg.QueueFirst)
	if i < 0 || i >= len(d.recs) {
		return nil
	}
	return d.recs[i]
}

var _ dataplane.Decider = (*Decider)(nil)
