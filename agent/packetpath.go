package agent

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"sync"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/config"
	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/netns"
)

// Dataplane is the packet path as the agent drives it: iptables rules on
// the container veths and the NFQUEUE readers that ask the Decider.
// *dataplane.Dataplane implements it.
type Dataplane interface {
	Start(ctx context.Context) error
	Close() error
	Attach(ctx context.Context, v dataplane.Veth) error
	Detach(ctx context.Context, name string) error
	Veths() []dataplane.Veth
	Mechanism() dataplane.Mechanism
	Stats() (dataplane.Stats, error)
}

// ContainerSource finds the containers attached to this node and reports
// them appearing and going. *netns.Watcher implements it.
type ContainerSource interface {
	Start(ctx context.Context) error
	Events() <-chan netns.Event
	Containers() []netns.Container
	Close() error
}

// queueLen is the kernel queue length the agent configures (and reports as
// the queues' capacity).
const queueLen = 4096

// newDataplane builds the real dataplane.
func newDataplane(cfg dataplane.Config) (Dataplane, error) { return dataplane.New(cfg) }

// newContainerSource builds the real container discovery.
func newContainerSource(o Options) (ContainerSource, error) {
	return netns.NewWatcher(netns.Config{Logger: o.Logger})
}

// marksOf spreads the decided values over the configured mask: 1, 2, 3 and
// 4 times its lowest bit (0x00f00000 gives the values of
// docs/architecture.md).
func marksOf(mask config.Hex) dataplane.Marks {
	m := uint32(mask)
	low := uint32(1) << bits.TrailingZeros32(m)
	return dataplane.Marks{Mask: m, Allow: low, Deny: 2 * low, Inspect: 3 * low, InspectAll: 4 * low}
}

// buildPacketPath creates the dataplane around the Decider and the
// container discovery (neither runs until startPacketPath).
func (a *Agent) buildPacketPath() error {
	cfg := a.cfg
	factory := a.opts.NewDataplane
	if factory == nil {
		factory = newDataplane
	}
	dp, err := factory(dataplane.Config{
		Decider: a.decider, Queues: cfg.Queues, QueueBase: uint16(cfg.QueueFirst),
		FailClosed: cfg.FailMode == config.FailClosed, Marks: marksOf(cfg.MarkMask),
		QueueLen: queueLen, Logger: a.log, Clock: a.now,
	})
	if err != nil {
		return fmt.Errorf("agent: dataplane: %w", err)
	}
	a.dp = dp
	a.containers = a.opts.Containers
	if a.containers == nil {
		if a.containers, err = newContainerSource(a.opts); err != nil {
			return fmt.Errorf("agent: container discovery: %w", err)
		}
	}
	return nil
}

// startPacketPath finds the containers, attaches them and starts the
// dataplane: the first rule set (which replaces whatever a crashed run
// left) covers every container found, and the policy is already in force.
func (a *Agent) startPacketPath(ctx context.Context) error {
	a.refreshHostAddrs()
	if err := a.containers.Start(ctx); err != nil {
		return fmt.Errorf("agent: container discovery: %w", err)
	}
	for _, c := range a.containers.Containers() {
		a.containerUp(ctx, c)
	}
	if err := a.dp.Start(ctx); err != nil {
		return errors.Join(fmt.Errorf("agent: dataplane: %w", err), a.containers.Close())
	}
	a.dpUp.Store(true)
	a.metrics.SetQueueStatsSource(queueStats{a})
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.pathCancel = cancel
	a.pathWG.Go(func() { a.followContainers(pctx) })
	return nil
}

// stopPacketPath removes every rule (the dataplane's Close) and stops the
// container discovery. Safe to call twice.
func (a *Agent) stopPacketPath() error {
	var errs []error
	a.stopPathOnce.Do(func() {
		if a.pathCancel != nil {
			a.pathCancel()
		}
		a.pathWG.Wait()
		a.dpUp.Store(false)
		errs = append(errs, a.dp.Close(), a.containers.Close())
	})
	return errors.Join(errs...)
}

// followContainers applies container events until ctx is done.
func (a *Agent) followContainers(ctx context.Context) {
	events := a.containers.Events()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			a.refreshHostAddrs()
			switch ev.Type {
			case netns.Added, netns.Updated:
				a.containerUp(ctx, ev.Container)
			case netns.Removed:
				a.containerDown(ctx, ev.Container)
			}
		}
	}
}

// containerUp names a container and attaches its veth (in that order, so
// that its first packets are named).
func (a *Agent) containerUp(ctx context.Context, c netns.Container) {
	a.ContainerAdded(identityContainer(c))
	if err := a.dp.Attach(ctx, dataplane.VethOf(c)); err != nil {
		a.log.Warn("agent: cannot attach container", "veth", c.HostIf, "netns", c.NetNS, "err", err)
	}
}

// containerDown detaches a container's veth and forgets it and its flows.
func (a *Agent) containerDown(ctx context.Context, c netns.Container) {
	if err := a.dp.Detach(ctx, c.HostIf); err != nil {
		a.log.Warn("agent: cannot detach container", "veth", c.HostIf, "err", err)
	}
	a.ContainerRemoved(c.HostIf)
}

func identityContainer(c netns.Container) identity.Container {
	ic := identity.Container{HostIf: c.HostIf, HostIndex: c.HostIndex, NetNS: c.NetNS}
	for _, p := range c.Addrs {
		ic.Addrs = append(ic.Addrs, p.Addr())
	}
	return ic
}

// refreshHostAddrs tells the resolver the node's own addresses (named
// "host").
func (a *Agent) refreshHostAddrs() {
	get := a.opts.HostAddrs
	if get == nil {
		get = interfaceAddrs
	}
	addrs, err := get()
	if err != nil {
		a.log.Warn("agent: cannot read the node's addresses", "err", err)
		return
	}
	a.resolver.SetHostAddrs(addrs)
}

// interfaceAddrs returns the addresses of this network namespace's
// interfaces.
func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list interface addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out, nil
}

// dataplaneStatus reports the packet path for the API.
func (a *Agent) dataplaneStatus() api.Dataplane {
	if !a.dpUp.Load() {
		return api.Dataplane{Detail: "not attached (the agent is starting or stopping)"}
	}
	d := api.Dataplane{Attached: true, Interfaces: len(a.dp.Veths())}
	st, err := a.dp.Stats()
	d.Detail = fmt.Sprintf("connmark by %s, fail-%s", a.dp.Mechanism(), a.cfg.FailMode)
	if err != nil {
		d.Detail += "; kernel queue counters unavailable: " + err.Error()
	}
	ds := a.decider.Stats()
	c := &api.PacketCounters{
		Queued: st.Queued, Accepted: st.Accepted, Dropped: st.Dropped, Verdicts: map[string]uint64{},
		DecodeErrors: st.DecodeErrors, DeciderPanics: st.DeciderPanics, VerdictErrors: st.VerdictErrors,
		Overruns: st.Overruns, KernelDropped: st.KernelDropped, KernelUserDropped: st.KernelUserDropped,
		Inspecting: ds.Inspecting, InspectionLimit: ds.InspectionLimit, WaitExceeded: ds.WaitExceeded,
		InspectionLost: ds.InspectionLost, DNSDropped: ds.DNSDropped,
	}
	for v := dataplane.Accept; v <= dataplane.InspectAll; v++ {
		c.Verdicts[v.String()] = st.Verdict(v)
	}
	d.Counters = c
	return d
}

// queueStats adapts the dataplane's counters to the metrics.
type queueStats struct{ a *Agent }

// dpVerdictKind maps dataplane verdicts to the metrics' kinds.
var dpVerdictKind = map[dataplane.Verdict]metrics.Verdict{
	dataplane.Accept: metrics.VerdictAccept, dataplane.Drop: metrics.VerdictDrop,
	dataplane.Allow: metrics.VerdictAllowConn, dataplane.Deny: metrics.VerdictDenyConn,
	dataplane.Inspect: metrics.VerdictInspectConn, dataplane.InspectAll: metrics.VerdictInspectConn,
}

func (q queueStats) QueueStats() ([]metrics.QueueStats, error) {
	st, err := q.a.dp.Stats()
	if err != nil {
		return nil, err
	}
	out := make([]metrics.QueueStats, len(st.Queues))
	for i, qs := range st.Queues {
		out[i] = metrics.QueueStats{
			Queue: qs.Queue, Bound: qs.KernelBound, FailOpen: st.FailOpen,
			Waiting: uint64(qs.KernelWaiting), Capacity: queueLen,
			KernelDropped: uint64(qs.KernelDropped), UserDropped: uint64(qs.KernelUserDropped),
			Overruns: qs.Overruns, Packets: qs.Packets,
		}
	}
	if len(out) > 0 {
		// The dataplane counts verdicts for all queues together.
		for v, k := range dpVerdictKind {
			out[0].Verdicts[k] += st.Verdict(v)
		}
	}
	return out, nil
}

// pathState is the packet path's part of the Agent.
type pathState struct {
	dp           Dataplane
	containers   ContainerSource
	pathCancel   context.CancelFunc
	pathWG       sync.WaitGroup
	stopPathOnce sync.Once
}
