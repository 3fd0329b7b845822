package netns

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/testenv"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// testBridge is the bridge testenv puts host-side veths on (bridged).
const testBridge = testenv.BridgeName

// wantContainer is what the package must report for testenv container c,
// read independently from the test bed (testenv's handles and its
// addressing plan).
func wantContainer(t *testing.T, n *testenv.Node, c *testenv.Container) Container {
	t.Helper()
	host, err := n.Node.Netlink().LinkByName(c.HostIf)
	if err != nil {
		t.Fatalf("find %s: %v", c.HostIf, err)
	}
	eth0, err := c.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatalf("find eth0 in %s: %v", c.NS, err)
	}
	fd, err := unix.Open(c.NSPath(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", c.NSPath(), err)
	}
	defer unix.Close(fd)
	nsid, err := n.Node.Netlink().GetNetNsIdByFd(fd)
	if err != nil {
		t.Fatalf("nsid of %s: %v", c.NSPath(), err)
	}
	w := Container{
		HostIf: c.HostIf, HostIndex: host.Attrs().Index,
		NetNSID: nsid, NetNS: c.NS, NetNSPath: c.NSPath(),
		PeerIf: "eth0", PeerIndex: eth0.Attrs().Index,
	}
	switch n.Topology {
	case testenv.Bridged:
		w.Bridge = testBridge
		w.Addrs = []netip.Prefix{netip.PrefixFrom(c.IP4, 24), netip.PrefixFrom(c.IP6, 64)}
	case testenv.Routed:
		w.Addrs = []netip.Prefix{netip.PrefixFrom(c.IP4, 32), netip.PrefixFrom(c.IP6, 128)}
	}
	return w
}

// wantAll is wantContainer for every container of n, sorted by HostIf.
func wantAll(t *testing.T, n *testenv.Node) []Container {
	t.Helper()
	var out []Container
	for _, c := range n.Containers() {
		out = append(out, wantContainer(t, n, c))
	}
	sortContainers(out)
	return out
}

// render prints containers one per line, for cmp.Diff.
func render(cs []Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}

func diffContainers(got, want []Container) string {
	return cmp.Diff(render(want), render(got))
}

// newNode builds a test bed; testenv.New skips when not root.
func newNode(t *testing.T, cfg testenv.Config) *testenv.Node {
	t.Helper()
	return testenv.New(t, cfg)
}

// newTestNode builds a node with two containers and one external host.
func newTestNode(t *testing.T, topo testenv.Topology) *testenv.Node {
	t.Helper()
	return newNode(t, testenv.Config{
		Topology:   topo,
		Containers: []string{"a", "b"},
		Externals:  []testenv.ExternalSpec{{Name: "inet"}},
	})
}

// topologies runs fn as a subtest for each topology.
func topologies(t *testing.T, fn func(t *testing.T, topo testenv.Topology)) {
	for _, topo := range []testenv.Topology{testenv.Bridged, testenv.Routed} {
		t.Run(string(topo), func(t *testing.T) { fn(t, topo) })
	}
}

// waitState receives events from w until its view of the container named
// hostIf equals want (or, if want is nil, until it is removed), for at most
// limit. It fails the test if an event names a link that is not a
// container of n, or if limit passes.
func waitState(t *testing.T, w *Watcher, hostIf string, want *Container, limit time.Duration, valid map[string]bool) []Event {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	var seen []Event
	var last *Container
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %s; saw %v", hostIf, seen)
			}
			seen = append(seen, ev)
			if !valid[ev.Container.HostIf] {
				t.Errorf("event for a link that is not a container: %v", ev)
			}
			if ev.Container.HostIf != hostIf {
				continue
			}
			c := ev.Container
			if ev.Type == Removed {
				last = nil
				if want == nil {
					return seen
				}
				continue
			}
			last = &c
			if want != nil && c.String() == want.String() {
				return seen
			}
		case <-deadline.C:
			lastS := "absent"
			if last != nil {
				lastS = last.String()
			}
			wantS := "removed"
			if want != nil {
				wantS = want.String()
			}
			t.Fatalf("%s: not reached within %v\n want %s\n last %s\n events %v", hostIf, limit, wantS, lastS, fmt.Sprint(seen))
		}
	}
}
