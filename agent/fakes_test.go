package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"bulkhead.dev/bulkhead/agent/config"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/netns"
	"bulkhead.dev/bulkhead/policy"
)

// fakeDataplane records what the agent asks of the packet path and keeps
// the Decider it was built around, so that tests can feed it packets. Its
// String prints the attached veths like a rule listing.
type fakeDataplane struct {
	mu      sync.Mutex
	cfg     dataplane.Config
	veths   map[string]dataplane.Veth
	started bool
	closed  bool
	log     []string
	// atStart is the policy the Decider had in force when Start was
	// called (planText), "" before: what the first packet would meet.
	atStart string
}

func newFakeDataplane() *fakeDataplane { return &fakeDataplane{veths: map[string]dataplane.Veth{}} }

func (f *fakeDataplane) factory(cfg dataplane.Config) (Dataplane, error) {
	f.cfg = cfg
	return f, nil
}

func (f *fakeDataplane) Start(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("fake dataplane: start after close")
	}
	f.started = true
	f.log = append(f.log, "start "+f.vethsLocked())
	if d, ok := f.cfg.Decider.(interface{ Plan() *policy.Plan }); ok {
		f.atStart = planText(d.Plan())
	}
	return nil
}

// planText describes a plan: its rules and the mode of each group, e.g.
// "rules [a-to-b] modes [a=learn b=protect] default protect".
func planText(p *policy.Plan) string {
	var rules, groups []string
	for _, r := range p.Policy().Rules {
		rules = append(rules, r.Name)
	}
	for _, g := range p.Modes() {
		groups = append(groups, g.Group+"="+g.Mode.String())
	}
	return fmt.Sprintf("rules %v modes %v default %s", rules, groups, p.DefaultMode())
}

func (f *fakeDataplane) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		f.log = append(f.log, "close: every rule removed")
	}
	return nil
}

func (f *fakeDataplane) Attach(_ context.Context, v dataplane.Veth) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("fake dataplane: closed")
	}
	f.veths[v.Name] = v
	f.log = append(f.log, fmt.Sprintf("attach %s %v", v.Name, v.Addrs))
	return nil
}

func (f *fakeDataplane) Detach(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.veths, name)
	f.log = append(f.log, "detach "+name)
	return nil
}

func (f *fakeDataplane) Veths() []dataplane.Veth {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]dataplane.Veth, 0, len(f.veths))
	for _, v := range f.veths {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b dataplane.Veth) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (f *fakeDataplane) vethsLocked() string {
	names := make([]string, 0, len(f.veths))
	for n := range f.veths {
		names = append(names, n)
	}
	slices.Sort(names)
	return "[" + strings.Join(names, " ") + "]"
}

func (f *fakeDataplane) Mechanism() dataplane.Mechanism { return dataplane.MechanismRepeat }

func (f *fakeDataplane) Stats() (dataplane.Stats, error) {
	return dataplane.Stats{FailOpen: !f.cfg.FailClosed, Mechanism: dataplane.MechanismRepeat,
		Queues: []dataplane.QueueStats{{Queue: f.cfg.QueueBase, KernelBound: true, Packets: 3}}}, nil
}

func (f *fakeDataplane) events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// fakeContainers is a container source fed by the test.
type fakeContainers struct {
	mu      sync.Mutex
	initial []netns.Container
	ch      chan netns.Event
	closed  bool
}

func newFakeContainers(initial ...netns.Container) *fakeContainers {
	return &fakeContainers{initial: initial, ch: make(chan netns.Event, 16)}
}

func (f *fakeContainers) Start(context.Context) error { return nil }

func (f *fakeContainers) Events() <-chan netns.Event { return f.ch }

func (f *fakeContainers) Containers() []netns.Container { return slices.Clone(f.initial) }

func (f *fakeContainers) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.ch)
	}
	return nil
}

// container describes a test container.
func container(veth, ns string, addrs ...string) netns.Container {
	c := netns.Container{HostIf: veth, NetNS: ns, Bridge: "br0"}
	for _, a := range addrs {
		ad := netip.MustParseAddr(a)
		c.Addrs = append(c.Addrs, netip.PrefixFrom(ad, ad.BitLen()))
	}
	return c
}

// fakeOptions are agent options around fakes.
func fakeOptions(cfg config.Config, loader PolicyLoader, dp *fakeDataplane, cs *fakeContainers) Options {
	return Options{
		Config: cfg, Version: "test", Policy: loader, Stdout: io.Discard,
		NewDataplane: dp.factory, Containers: cs,
		HostAddrs: func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("198.18.0.1")}, nil },
	}
}
