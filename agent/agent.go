package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/config"
	"bulkhead.dev/bulkhead/agent/decide"
	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/agent/modes"
	"bulkhead.dev/bulkhead/agent/state"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/policy/learn"
	"bulkhead.dev/bulkhead/policy/promote"
)

// Options configure an Agent. Config is required; the rest may be zero.
type Options struct {
	Config  config.Config
	Version string
	// Revision is the source revision for build info.
	Revision string
	Logger   *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Stdout receives events when events.stdout is on (default os.Stdout).
	Stdout io.Writer

	// Policy loads policies; nil uses the policy package (PolicyEngine).
	Policy PolicyLoader
	// NewDataplane builds the packet path around the agent's Decider; nil
	// builds the real one (iptables rules and NFQUEUE readers in the
	// agent's network namespace). Tests pass fakes.
	NewDataplane func(dataplane.Config) (Dataplane, error)
	// Containers finds the containers; nil watches the agent's network
	// namespace (netns.Watcher).
	Containers ContainerSource
	// HostAddrs returns the node's own addresses (named "host"); nil reads
	// the interfaces of the agent's network namespace.
	HostAddrs func() ([]netip.Addr, error)
}

// Agent is a running Bulkhead agent.
type Agent struct {
	opts    Options
	cfg     config.Config
	log     *slog.Logger
	now     func() time.Time
	loader  PolicyLoader
	started time.Time

	modes    *modes.Table
	decider  *decide.Decider
	graph    *learn.Graph
	promoter *promote.Promoter
	fqdn     *identity.FQDNMap
	resolver *identity.Resolver
	static   *identity.Static
	flows    *flowtable.Table
	events   *events.Emitter
	store    *state.Store
	metrics  *metrics.Metrics
	api      *api.Server
	metricsL net.Listener
	metricsS *http.Server

	polMu sync.Mutex
	pol   policyState

	planMu   sync.Mutex   // one plan change at a time
	basePlan *policy.Plan // the policy in force, modes as compiled

	pathState
	dpUp atomic.Bool // the dataplane is started

	reloadMu  sync.Mutex   // one reload at a time
	polDigest policyDigest // the policy path when last loaded (reloadMu)

	lifeMu  sync.Mutex
	running bool
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// New builds the agent's components from the configuration: it opens the
// state directory, the event outputs and the identity file. Nothing runs
// until Start.
func New(opts Options) (*Agent, error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Policy == nil {
		opts.Policy = PolicyEngine{}
	}
	a := &Agent{opts: opts, cfg: cfg, log: opts.Logger, now: opts.Now, loader: opts.Policy, stop: make(chan struct{})}
	var err error
	a.store, err = state.Open(cfg.StateDir, state.Options{Interval: cfg.State.Interval, Now: a.now, Logger: a.log})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.modes = modes.New(cfg.DefaultMode, a.now)
	if err := a.store.Register(state.Item{
		Name: "modes", Save: a.modes.MarshalJSON, Load: a.modes.UnmarshalJSON, Generation: a.modes.Generation,
	}); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}

	a.metrics, err = metrics.New(metrics.Options{Version: opts.Version, Revision: opts.Revision, MaxGraphSeries: cfg.Metrics.GraphSeries, Logger: a.log, Now: a.now})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}

	if err := a.buildIdentity(); err != nil {
		return nil, err
	}

	a.flows, err = flowtable.New(flowtable.Config{
		MaxFlows: cfg.Limits.Flows,
		Idle: flowtable.IdleTimeouts{
			TCPOpening: cfg.Limits.Idle.TCPOpening, TCPEstablished: cfg.Limits.Idle.TCPEstablished,
			TCPClosing: cfg.Limits.Idle.TCPClosing, UDP: cfg.Limits.Idle.UDP, ICMP: cfg.Limits.Idle.ICMP, Other: cfg.Limits.Idle.Other,
		},
		Now:     a.now,
		Logger:  a.log,
		OnEvict: a.onEvict,
	})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.metrics.SetFlowTableSource(flowSource{a.flows})

	if err := a.buildEvents(); err != nil {
		return nil, err
	}
	if err := a.buildDecider(); err != nil {
		a.events.Close()
		return nil, err
	}
	if err := a.buildPacketPath(); err != nil {
		a.events.Close()
		return nil, err
	}
	return a, nil
}

// buildDecider creates the decision path: the learned graph (persisted),
// auto-promotion, the L7 engine and the Decider.
func (a *Agent) buildDecider() error {
	cfg := a.cfg
	a.graph = learn.New(a.now, learn.Limits{})
	a.promoter = promote.New(a.now)
	evidence := 0
	if cfg.Events.Evidence.Enabled {
		evidence = cfg.Events.Evidence.Packets
	}
	var err error
	a.decider, err = decide.New(decide.Config{
		Flows: a.flows, Resolver: a.resolver, Events: a.events, Metrics: a.metrics,
		Engine: l7.NewEngine(l7.Config{MaxBuffer: int(cfg.Limits.Reassembly)}),
		Graph:  a.graph, Promoter: a.promoter,
		Wait: decide.Wait{Packets: cfg.Limits.L7Wait.Packets, Bytes: int(cfg.Limits.L7Wait.Bytes),
			Time: cfg.Limits.L7Wait.Time, Deny: cfg.Limits.L7Wait.Verdict == config.VerdictDeny},
		EvidencePackets: evidence, MaxInspections: cfg.Limits.Inspections, Responses: cfg.Inspect.Responses,
		LearnOnce:  !cfg.Learn.EveryRequest,
		QueueFirst: uint16(cfg.QueueFirst), Queues: cfg.Queues, Now: a.now, Logger: a.log,
	})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if err := a.store.Register(a.graphItem()); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}

// buildIdentity loads the identity sources.
func (a *Agent) buildIdentity() error {
	sources, peers, err := a.identitySources()
	if err != nil {
		return err
	}
	a.fqdn = identity.NewFQDNMap(a.cfg.DNS.TTLFloor, a.cfg.DNS.MaxEntries, a.now)
	a.resolver = identity.NewResolver(sources, peers, a.fqdn)
	return nil
}

// identitySources reads the identity file (if any) and returns the sources
// in order: the file, then the namespace names.
func (a *Agent) identitySources() ([]identity.Source, []identity.PeerSource, error) {
	var sources []identity.Source
	var peers []identity.PeerSource
	if f := a.cfg.Identity.File; f != "" {
		st, err := identity.LoadStatic(f)
		if err != nil {
			return nil, nil, fmt.Errorf("agent: %w", err)
		}
		a.static = st
		sources = append(sources, st)
		peers = append(peers, st)
	}
	if ns := a.cfg.Identity.NetNS; ns.Enabled {
		sources = append(sources, &identity.NetNSNames{StripPrefixes: ns.StripPrefixes, StripSuffixes: ns.StripSuffixes, Ignore: ns.Ignore})
	}
	return sources, peers, nil
}

// buildEvents opens the event outputs and evidence directory.
func (a *Agent) buildEvents() error {
	ec := a.cfg.Events
	var outputs, keep []io.Writer
	if ec.Stdout {
		outputs = append(outputs, a.opts.Stdout)
		keep = append(keep, a.opts.Stdout)
	}
	if p := a.cfg.EventsFile(); p != "" {
		rf, err := events.OpenRotating(p, int64(ec.MaxSize), ec.Keep)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		outputs = append(outputs, rf)
	}
	var ev *events.Evidence
	if ec.Evidence.Enabled {
		var err error
		ev, err = events.OpenEvidence(events.EvidenceConfig{
			Dir: a.cfg.EvidenceDir(), MaxFiles: ec.Evidence.MaxFiles,
			MaxFileSize: int64(ec.Evidence.MaxFileSize), Packets: ec.Evidence.Packets,
		})
		if err != nil {
			for _, o := range outputs {
				if c, ok := o.(io.Closer); ok && o != a.opts.Stdout {
					c.Close()
				}
			}
			return fmt.Errorf("agent: %w", err)
		}
	}
	recent := ec.Recent
	if recent == 0 {
		recent = -1 // none kept (the emitter's 0 means its default)
	}
	a.events = events.NewEmitter(events.Config{
		Node: a.cfg.Node, Queue: ec.Queue, Recent: recent, Subscriber: ec.Subscriber,
		Outputs: outputs, KeepOpen: keep, Evidence: ev, Now: a.now, Logger: a.log,
	})
	return nil
}

// onEvict counts evictions and lets the Decider release what it attached
// to the flow (Flow.Slot). It runs with the flow locked. Flows exist only
// once the Decider does: it creates them.
func (a *Agent) onEvict(f *flowtable.Flow, r flowtable.Reason) {
	a.metrics.FlowEvicted(metrics.EvictReason(r))
	a.decider.OnEvict(f, r)
}

// Start loads the state and the policy, then starts every component and the
// listeners. On error, what was started is stopped again.
func (a *Agent) Start(ctx context.Context) error {
	a.lifeMu.Lock()
	defer a.lifeMu.Unlock()
	if a.closed {
		return errors.New("agent: start after close")
	}
	if a.running {
		return nil
	}
	a.started = a.now()
	a.events.Start()
	a.emit(events.Event{Type: events.AgentStart, Message: "bulkhead " + a.opts.Version})

	for _, r := range a.store.Load() {
		switch r.Status {
		case state.Loaded:
			a.log.Info("agent: state restored", "item", r.Item, "saved", r.Saved)
		case state.Corrupt:
			a.log.Error("agent: state file unusable, moved aside; starting this item empty", "item", r.Item, "path", r.Path, "moved_to", r.MovedTo, "err", r.Err)
		}
	}
	a.metrics.SetLearnedEdges(a.graph.Stats().Edges)
	if err := a.loadInitialPolicy(); err != nil {
		a.events.Close()
		return err
	}
	// The policy is in force: now the dataplane may queue packets.
	a.flows.Start()
	if err := a.startPacketPath(ctx); err != nil {
		a.flows.Close()
		a.events.Close()
		return err
	}
	a.store.Start()
	if err := a.listen(); err != nil {
		a.stopPacketPath()
		a.flows.Close()
		a.store.Close()
		a.api.Close()
		a.events.Close()
		return err
	}
	a.wg.Go(a.housekeeping)
	if iv := a.cfg.PolicyWatchInterval; iv > 0 && a.loader != nil {
		a.wg.Go(func() { a.watchPolicy(iv) })
	}
	a.running = true
	a.log.Info("agent: started", "node", a.cfg.Node, "api", a.cfg.API.Socket, "metrics", a.cfg.Metrics.Listen,
		"default_mode", a.cfg.DefaultMode, "fail_mode", a.cfg.FailMode)
	return nil
}

// listen starts the API and the metrics listener.
func (a *Agent) listen() error {
	a.api = api.NewServer(backend{a}, a.events, api.Options{Logger: a.log})
	if err := a.api.ListenAndServeUnix(a.cfg.API.Socket); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if a.cfg.API.TCP != "" {
		if err := a.api.ListenAndServeTCP(a.cfg.API.TCP); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		a.log.Warn("agent: the API is also served on TCP without authentication", "addr", a.cfg.API.TCP)
	}
	if a.cfg.Metrics.Listen != "" {
		l, err := net.Listen("tcp", a.cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("agent: metrics: listen on %s: %w", a.cfg.Metrics.Listen, err)
		}
		a.metricsL = l
		a.metricsS = &http.Server{
			Handler:           api.MetricsHandler(a.metrics.Handler(), backend{a}.Ready),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		}
		a.wg.Go(func() {
			if err := a.metricsS.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("agent: metrics listener", "err", err)
			}
		})
	}
	return nil
}

// inspectionIdle is how long a flow may hold inspection state without a
// queued packet (see decide.Decider.SweepInspections).
const inspectionIdle = 10 * time.Second

// housekeeping runs periodic chores: idle inspection state, expired DNS
// names, auto-promotion, the learned-graph gauge, and stale graph series.
func (a *Agent) housekeeping() {
	sweep := time.NewTicker(inspectionIdle / 2)
	defer sweep.Stop()
	tick := time.NewTicker(10 * time.Second)
	graph := time.NewTicker(time.Hour)
	defer tick.Stop()
	defer graph.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-sweep.C:
			a.decider.SweepInspections(a.now(), inspectionIdle)
		case <-tick.C:
			a.fqdn.Sweep()
			a.promote()
			a.metrics.SetLearnedEdges(a.graph.Stats().Edges)
		case <-graph.C:
			a.metrics.SweepGraph()
		}
	}
}

// Reload re-reads the identity file and the policy (SIGHUP). An invalid
// policy or identity file is refused; what was in force stays.
func (a *Agent) Reload(ctx context.Context) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	var errs []error
	if sources, peers, err := a.identitySources(); err != nil {
		errs = append(errs, err)
		a.log.Error("agent: identity file refused; the old identities stay", "err", err)
	} else {
		for _, c := range a.resolver.SetSources(sources, peers) {
			a.log.Info("agent: workload renamed", "interface", c.HostIf, "from", c.From.Name, "to", c.To.Name)
		}
		a.decider.IdentitiesChanged()
	}
	if _, err := a.reloadPolicy(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close stops everything in reverse order: listeners, chores, the flow
// table's sweeper, a last save of the state, then the events (written out).
// Safe to call twice.
func (a *Agent) Close() error {
	a.lifeMu.Lock()
	defer a.lifeMu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	var errs []error
	if a.running {
		// The dataplane goes first, removing every rule.
		errs = append(errs, a.stopPacketPath())
		if a.metricsS != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			errs = append(errs, a.metricsS.Shutdown(ctx))
			cancel()
		}
		errs = append(errs, a.api.Close())
		close(a.stop)
		a.wg.Wait()
		a.flows.Close()
		if err := a.store.Close(); err != nil {
			errs = append(errs, err)
		}
		a.emit(events.Event{Type: events.AgentStop})
	}
	errs = append(errs, a.events.Close())
	a.running = false
	for i, e := range errs {
		if errors.Is(e, http.ErrServerClosed) {
			errs[i] = nil
		}
	}
	return errors.Join(errs...)
}

// emit sends an agent event (never blocks).
func (a *Agent) emit(e events.Event) { a.events.Emit(e) }

// Accessors for the decision path.

// Flows returns the flow table.
func (a *Agent) Flows() *flowtable.Table { return a.flows }

// Resolver returns the workload identity resolver.
func (a *Agent) Resolver() *identity.Resolver { return a.resolver }

// Events returns the event emitter.
func (a *Agent) Events() *events.Emitter { return a.events }

// Modes returns the mode table.
func (a *Agent) Modes() *modes.Table { return a.modes }

// Metrics returns the agent's metrics.
func (a *Agent) Metrics() *metrics.Metrics { return a.metrics }

// State returns the state store; register items (the learned graph) before
// Start.
func (a *Agent) State() *state.Store { return a.store }

// Config returns the agent's configuration.
func (a *Agent) Config() config.Config { return a.cfg }

// flowSource adapts the flow table to the metrics.
type flowSource struct{ t *flowtable.Table }

func (f flowSource) FlowTableStats() metrics.FlowTableStats {
	st := f.t.Stats()
	return metrics.FlowTableStats{Active: st.Active, Limit: st.Limit}
}
