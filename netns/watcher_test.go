package netns

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/testenv"
	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// within is how fast the watcher must report a container appearing,
// disappearing or changing its addresses.
const within = time.Second

// testLogger sends the watcher's logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// startWatcher starts a watcher on n's node namespace. Resync is an hour,
// so what the tests see comes from notifications and settle polling, not
// from the safety net. adjust may change the test knobs before Start.
func startWatcher(t *testing.T, n *testenv.Node, adjust func(*Watcher)) *Watcher {
	t.Helper()
	w, err := NewWatcher(Config{NetNS: n.Node.NSPath(), Resync: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(w)
	}
	t.Cleanup(func() { w.Close() })
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}

// containerNames is the set of host interfaces that are containers of n,
// plus extra ones.
func containerNames(n *testenv.Node, extra ...string) map[string]bool {
	m := map[string]bool{}
	for _, c := range n.Containers() {
		m[c.HostIf] = true
	}
	for _, e := range extra {
		m[e] = true
	}
	return m
}

// expectInitial checks that the first events are Added for every
// container of n, in HostIf order, with their full state.
func expectInitial(t *testing.T, w *Watcher, n *testenv.Node) {
	t.Helper()
	want := wantAll(t, n)
	var got, wantS []string
	for _, c := range want {
		wantS = append(wantS, Event{Type: Added, Container: c}.String())
		select {
		case ev := <-w.Events():
			got = append(got, ev.String())
		case <-time.After(within):
			t.Fatalf("initial events: got %d of %d within %v: %v", len(got), len(want), within, got)
		}
	}
	if d := cmp.Diff(wantS, got); d != "" {
		t.Errorf("initial events (-want +got):\n%s", d)
	}
	if d := diffContainers(w.Containers(), want); d != "" {
		t.Errorf("Containers after start (-want +got):\n%s", d)
	}
}

// TestWatcher: existing containers are Added first; a container added while
// the watcher runs is Added with its addresses within 1 s and Removed within
// 1 s of its removal; the bridge, the external link and lo never appear;
// Start and Close are safe twice; no goroutine outlives Close.
func TestWatcher(t *testing.T) {
	topologies(t, func(t *testing.T, topo testenv.Topology) {
		n := newTestNode(t, topo)
		ignore := goleak.IgnoreCurrent()
		w := startWatcher(t, n, nil)
		if err := w.Start(context.Background()); err != nil {
			t.Errorf("second Start: %v", err)
		}
		expectInitial(t, w, n)

		c, err := n.AddContainer("c")
		if err != nil {
			t.Fatal(err)
		}
		valid := containerNames(n)
		wc := wantContainer(t, n, c)
		seen := waitState(t, w, c.HostIf, &wc, within, valid)
		for _, ev := range seen {
			if ev.Container.HostIf == c.HostIf {
				if ev.Type != Added {
					t.Errorf("first event for the new container is %v, want added", ev)
				}
				break
			}
		}
		if d := diffContainers(w.Containers(), wantAll(t, n)); d != "" {
			t.Errorf("Containers after add (-want +got):\n%s", d)
		}

		if err := n.RemoveContainer("c"); err != nil {
			t.Fatal(err)
		}
		seen = waitState(t, w, c.HostIf, nil, within, valid)
		if last := seen[len(seen)-1]; last.Container.String() != wc.String() {
			t.Errorf("Removed carries %v, want the last known state %v", last.Container, wc)
		}
		if d := diffContainers(w.Containers(), wantAll(t, n)); d != "" {
			t.Errorf("Containers after remove (-want +got):\n%s", d)
		}

		for i := range 2 {
			if err := w.Close(); err != nil {
				t.Errorf("Close #%d: %v", i+1, err)
			}
		}
		if err := w.Start(context.Background()); err == nil {
			t.Error("Start after Close succeeded")
		}
		select {
		case ev, ok := <-w.Events():
			if ok {
				t.Errorf("event after Close: %v", ev)
			}
		case <-time.After(within):
			t.Error("Events not closed by Close")
		}
		goleak.VerifyNone(t, ignore)
	})
}

// TestWatcherAddressNotifications: with settle polling off, an address
// added to or removed from a running container's interface is reported
// within 1 s: the notifications of the peer namespaces are heard.
func TestWatcherAddressNotifications(t *testing.T) {
	n := newTestNode(t, testenv.Bridged)
	w := startWatcher(t, n, func(w *Watcher) { w.settleFor = 0 })
	expectInitial(t, w, n)
	a := n.Container("a")
	valid := containerNames(n)
	extra := netip.MustParsePrefix("198.18.0.99/24")
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: extra.Addr().AsSlice(), Mask: net.CIDRMask(24, 32)}}
	eth0, err := a.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}

	if err := a.Netlink().AddrAdd(eth0, addr); err != nil {
		t.Fatal(err)
	}
	want := wantContainer(t, n, a)
	want.Addrs = []netip.Prefix{want.Addrs[0], extra, want.Addrs[1]}
	seen := waitState(t, w, a.HostIf, &want, within, valid)
	if ev := seen[len(seen)-1]; ev.Type != Updated {
		t.Errorf("address change reported as %v, want updated", ev)
	}

	if err := a.Netlink().AddrDel(eth0, addr); err != nil {
		t.Fatal(err)
	}
	want = wantContainer(t, n, a)
	waitState(t, w, a.HostIf, &want, within, valid)
}

// TestWatcherSettlePolling: without the peers' notifications, the
// addresses a runtime gives a new container after its veth appeared are
// still found within 1 s, by re-inspecting new containers.
func TestWatcherSettlePolling(t *testing.T) {
	n := newTestNode(t, testenv.Routed)
	w := startWatcher(t, n, func(w *Watcher) { w.listenAllNSID = false })
	expectInitial(t, w, n)
	c, err := n.AddContainer("c")
	if err != nil {
		t.Fatal(err)
	}
	valid := containerNames(n)
	want := wantContainer(t, n, c)
	waitState(t, w, c.HostIf, &want, within, valid)

	extra := netip.MustParsePrefix("198.18.0.98/32")
	eth0, err := c.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: extra.Addr().AsSlice(), Mask: net.CIDRMask(32, 32)}}
	if err := c.Netlink().AddrAdd(eth0, addr); err != nil {
		t.Fatal(err)
	}
	want.Addrs = []netip.Prefix{want.Addrs[0], extra, want.Addrs[1]}
	waitState(t, w, c.HostIf, &want, within, valid)
}

// TestWatcherCNISequence plays what a CNI plugin does: create a veth pair
// with both ends on the node, move one end into the container namespace,
// rename it, give it an address, bring it up. Settle polling is off, so
// each step is seen through notifications: the container is reported
// within 1 s of its peer leaving the node (the kernel announces only the
// peer's departure, not the change of the end that stays), then updated
// within 1 s with its new name and address, and Removed within 1 s of the
// veth's deletion.
func TestWatcherCNISequence(t *testing.T) {
	n := newTestNode(t, testenv.Routed)
	w := startWatcher(t, n, func(w *Watcher) { w.settleFor = 0 })
	expectInitial(t, w, n)
	a := n.Container("a")
	node := n.Node.Netlink()
	const hostIf = "vethcni0"
	valid := containerNames(n, hostIf)

	if err := node.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostIf}, PeerName: "tmpcni0"}); err != nil {
		t.Fatal(err)
	}
	host, err := node.LinkByName(hostIf)
	if err != nil {
		t.Fatal(err)
	}
	// Both ends are in the node namespace: not a container.
	ensureNoEvent(t, w, 200*time.Millisecond)

	peer, err := node.LinkByName("tmpcni0")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(a.NSPath(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = node.LinkSetNsFd(peer, fd)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	cl := a.Netlink()
	moved, err := cl.LinkByName("tmpcni0")
	if err != nil {
		t.Fatal(err)
	}
	want := wantContainer(t, n, a)
	want.HostIf, want.HostIndex = hostIf, host.Attrs().Index
	want.PeerIf, want.PeerIndex, want.Addrs = "tmpcni0", moved.Attrs().Index, nil
	seen := waitState(t, w, hostIf, &want, within, valid)
	if ev := seen[len(seen)-1]; ev.Type != Added {
		t.Errorf("moved peer reported as %v, want added", ev)
	}

	if err := cl.LinkSetName(moved, "net1"); err != nil {
		t.Fatal(err)
	}
	p := netip.MustParsePrefix("198.18.7.10/24")
	if err := cl.AddrAdd(moved, &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	if err := cl.LinkSetUp(moved); err != nil {
		t.Fatal(err)
	}
	want.PeerIf, want.Addrs = "net1", []netip.Prefix{p}
	seen = waitState(t, w, hostIf, &want, within, valid)
	if ev := seen[len(seen)-1]; ev.Type != Updated {
		t.Errorf("configured peer reported as %v, want updated", ev)
	}

	if err := node.LinkDel(host); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, hostIf, nil, within, valid)
}

// ensureNoEvent fails if w reports anything during d.
func ensureNoEvent(t *testing.T, w *Watcher, d time.Duration) {
	t.Helper()
	select {
	case ev := <-w.Events():
		t.Errorf("unexpected event %v", ev)
	case <-time.After(d):
	}
}
