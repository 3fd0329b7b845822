package netns

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"bulkhead.dev/bulkhead/internal/golden"
)

// peerKey names a peer interface: the nsid of its namespace and its ifindex
// there.
type peerKey struct{ nsid, index int }

// fakeOS is a node and its peer namespaces as plain data. It implements
// nodeSystem, peerSystem and namer, and prints its state as text.
type fakeOS struct {
	links map[int]hostLink
	addrs []nodeAddr
	peers map[peerKey]peerInfo
	names map[int]nsName // what the named directories and /proc say
	calls []string       // every inspection and resolution, in order
}

func newFakeOS() *fakeOS {
	return &fakeOS{
		links: map[int]hostLink{
			1: {Index: 1, Name: "lo", Kind: "device", NetNSID: -1},
			2: {Index: 2, Name: "br0", Kind: "bridge", NetNSID: -1},
		},
		addrs: []nodeAddr{{LinkIndex: 2, Prefix: netip.MustParsePrefix("198.18.0.1/24")}},
		peers: map[peerKey]peerInfo{},
		names: map[int]nsName{},
	}
}

func (f *fakeOS) listLinks() ([]hostLink, error) {
	return slices.Collect(maps.Values(f.links)), nil
}

func (f *fakeOS) getLink(index int) (hostLink, bool, error) {
	l, ok := f.links[index]
	return l, ok, nil
}

func (f *fakeOS) listAddrs() ([]nodeAddr, error) { return slices.Clone(f.addrs), nil }

func (f *fakeOS) inspect(c Container) (peerInfo, error) {
	f.calls = append(f.calls, fmt.Sprintf("inspect %s", c.HostIf))
	if f.names[c.NetNSID].Path != c.NetNSPath {
		return peerInfo{}, fmt.Errorf("fake: %s: %w", c.NetNSPath, errStaleNamespace)
	}
	p, ok := f.peers[peerKey{c.NetNSID, c.PeerIndex}]
	if !ok {
		return peerInfo{}, errors.New("fake: no such peer link")
	}
	return p, nil
}

func (f *fakeOS) resolve(want map[int]bool) map[int]nsName {
	ids := slices.Sorted(maps.Keys(want))
	f.calls = append(f.calls, fmt.Sprintf("resolve %v", ids))
	out := map[int]nsName{}
	for _, id := range ids {
		if nm, ok := f.names[id]; ok {
			out[id] = nm
		}
	}
	return out
}

// addContainer attaches a container: a veth at host ifindex idx (on br0
// when bridged) whose peer eth0 (ifindex 2) is in namespace nsid, named
// name under /run/netns.
func (f *fakeOS) addContainer(idx int, hostIf string, bridged bool, nsid int, name string, addrs ...string) {
	l := hostLink{Index: idx, Name: hostIf, Kind: "veth", PeerIndex: 2, NetNSID: nsid}
	if bridged {
		l.MasterIndex = 2
	}
	f.links[idx] = l
	if name != "" {
		f.names[nsid] = nsName{Name: name, Path: "/run/netns/" + name}
	}
	f.setPeer(nsid, 2, "eth0", addrs...)
}

func (f *fakeOS) setPeer(nsid, index int, name string, addrs ...string) {
	p := peerInfo{Name: name}
	for _, a := range addrs {
		p.Addrs = append(p.Addrs, netip.MustParsePrefix(a))
	}
	f.peers[peerKey{nsid, index}] = p
}

// step is one thing that happens to the node, and how the engine hears of it.
type step struct {
	what string
	os   func(f *fakeOS)
	// act drives the engine: a full re-list, notices then a flush, or a
	// settle tick.
	full    bool
	notices []notice
	settle  bool
	// after moves the clock forward before acting.
	after time.Duration
}

// runSteps plays steps against a fresh engine and returns a transcript:
// each step, the calls it made and the events it returned.
func runSteps(t *testing.T, filter func(string) bool, steps []step) string {
	t.Helper()
	f := newFakeOS()
	e := newEngine(f, f, f, filter, time.Second, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&b, "== %s\n", s.what)
		if s.os != nil {
			s.os(f)
		}
		now = now.Add(s.after)
		f.calls = nil
		var events []Event
		switch {
		case s.full:
			var err error
			if events, err = e.full(now); err != nil {
				t.Fatal(err)
			}
		case s.settle:
			events = e.settleTick(now)
		default:
			pending := false
			for _, n := range s.notices {
				pending = e.note(n) || pending
			}
			if !pending {
				fmt.Fprintf(&b, "(no work)\n")
			}
			events = e.flush(now)
		}
		for _, c := range f.calls {
			fmt.Fprintf(&b, "   %s\n", c)
		}
		for _, ev := range events {
			fmt.Fprintf(&b, "%s\n", ev)
		}
		if e.pending() {
			t.Errorf("%s: work left after acting", s.what)
		}
	}
	return b.String()
}

func heard(kind noticeKind, nsid, index int) notice {
	return notice{Kind: kind, NSID: nsid, Index: index}
}

// TestEngineLifecycle plays containers appearing, being configured late,
// renamed, re-attached, moving namespaces and disappearing, with
// notifications as the kernel sends them.
func TestEngineLifecycle(t *testing.T) {
	steps := []step{
		{what: "start: one bridged container, an uplink veth, a veth pair on the node", full: true, os: func(f *fakeOS) {
			f.addContainer(3, "veth1", true, 0, "ctr1", "198.18.0.10/24", "2001:2:0:1::a/64")
			f.links[4] = hostLink{Index: 4, Name: "ext1", Kind: "veth", PeerIndex: 2, NetNSID: 1}
			f.addrs = append(f.addrs, nodeAddr{LinkIndex: 4, Prefix: netip.MustParsePrefix("198.19.1.1/24")})
			f.links[5] = hostLink{Index: 5, Name: "pair-a", Kind: "veth", PeerIndex: 6, NetNSID: -1}
			f.links[6] = hostLink{Index: 6, Name: "pair-b", Kind: "veth", PeerIndex: 5, NetNSID: -1}
		}},
		{what: "a routed container appears before its runtime configures it", notices: []notice{heard(linkChanged, -1, 7)}, os: func(f *fakeOS) {
			f.addContainer(7, "cali2", false, 2, "ctr2")
		}},
		{what: "its address arrives (peer notification)", notices: []notice{heard(addrChanged, 2, 2)}, os: func(f *fakeOS) {
			f.setPeer(2, 2, "eth0", "198.18.0.11/32")
		}},
		{what: "an address notification from an unknown namespace does nothing", notices: []notice{heard(addrChanged, 9, 2)}},
		{what: "a second address, seen by the settle poll only", settle: true, after: 200 * time.Millisecond, os: func(f *fakeOS) {
			f.setPeer(2, 2, "eth0", "198.18.0.11/32", "2001:2:0:1::b/128")
		}},
		{what: "the settle window ends: nothing is polled", settle: true, after: 2 * time.Second},
		{what: "the CNI's peer leaves the node: the end that stays is read again", notices: []notice{heard(linkDeleted, -1, 6), heard(linkChanged, 3, 8)}, os: func(f *fakeOS) {
			delete(f.links, 6)
			f.links[5] = hostLink{Index: 5, Name: "pair-a", Kind: "veth", PeerIndex: 8, NetNSID: 3}
			f.names[3] = nsName{Name: "", Path: "/proc/4242/ns/net"}
			f.setPeer(3, 8, "tmp8")
		}},
		{what: "the CNI renames the peer and configures it", notices: []notice{heard(linkChanged, 3, 8), heard(addrChanged, 3, 8)}, os: func(f *fakeOS) {
			f.setPeer(3, 8, "eth0", "198.18.0.12/24")
		}},
		{what: "the bridged container leaves its bridge", notices: []notice{heard(linkChanged, -1, 3)}, os: func(f *fakeOS) {
			l := f.links[3]
			l.MasterIndex = 0
			f.links[3] = l
		}},
		{what: "a host veth is renamed", notices: []notice{heard(linkChanged, -1, 7)}, os: func(f *fakeOS) {
			l := f.links[7]
			l.Name = "cali2b"
			f.links[7] = l
		}},
		{what: "an uplink loses its address and becomes a container", notices: []notice{heard(addrChanged, -1, 4)}, os: func(f *fakeOS) {
			f.addrs = f.addrs[:1]
			f.names[1] = nsName{Name: "inet", Path: "/run/netns/inet"}
			f.setPeer(1, 2, "eth0", "198.19.1.2/24")
		}},
		{what: "a container's veth gets a subnet address and becomes an uplink", notices: []notice{heard(addrChanged, -1, 4)}, os: func(f *fakeOS) {
			f.addrs = append(f.addrs, nodeAddr{LinkIndex: 4, Prefix: netip.MustParsePrefix("198.19.1.1/24")})
		}},
		{what: "a veth is deleted", notices: []notice{heard(linkDeleted, -1, 3)}, os: func(f *fakeOS) {
			delete(f.links, 3)
		}},
		{what: "a peer is deleted with its namespace: the peer and host notices both arrive", notices: []notice{heard(linkDeleted, 2, 2), heard(linkDeleted, -1, 7)}, os: func(f *fakeOS) {
			delete(f.links, 7)
			delete(f.peers, peerKey{2, 2})
		}},
		{what: "resync with nothing changed: every container re-inspected, no events", full: true, after: time.Second},
	}
	golden.Check(t, "testdata/engine-lifecycle.golden", []byte(runSteps(t, nil, steps)))
}

// TestEngineNaming plays namespaces that cannot be named at first, paths
// that go stale, and the filter.
func TestEngineNaming(t *testing.T) {
	steps := []step{
		{what: "start: a container whose namespace nobody has named yet", full: true, os: func(f *fakeOS) {
			f.addContainer(3, "veth1", true, 0, "", "198.18.0.10/24")
		}},
		{what: "the runtime bind-mounts it: the settle poll names and inspects it", settle: true, after: 200 * time.Millisecond, os: func(f *fakeOS) {
			f.names[0] = nsName{Name: "ctr1", Path: "/run/netns/ctr1"}
		}},
		{what: "the path now opens another namespace: named again at once", notices: []notice{heard(addrChanged, 0, 2)}, os: func(f *fakeOS) {
			f.names[0] = nsName{Name: "ctr1b", Path: "/run/netns/ctr1b"}
		}},
		{what: "the namespace can no longer be found: name and path cleared, peer state kept", notices: []notice{heard(addrChanged, 0, 2)}, os: func(f *fakeOS) {
			delete(f.names, 0)
		}},
		{what: "the settle poll names it again", settle: true, after: 200 * time.Millisecond, os: func(f *fakeOS) {
			f.names[0] = nsName{Name: "ctr1", Path: "/run/netns/ctr1"}
		}},
		{what: "the container's nsid is reused by a new namespace: a new peer", notices: []notice{heard(linkChanged, -1, 3)}, os: func(f *fakeOS) {
			l := f.links[3]
			l.NetNSID, l.PeerIndex = 5, 4
			f.links[3] = l
			f.names[5] = nsName{Name: "ctr9", Path: "/run/netns/ctr9"}
			f.setPeer(5, 4, "eth1", "198.18.0.90/24")
		}},
	}
	golden.Check(t, "testdata/engine-naming.golden", []byte(runSteps(t, nil, steps)))
}

func TestEngineFilter(t *testing.T) {
	steps := []step{
		{what: "start: only cali* counts, uplink rule replaced", full: true, os: func(f *fakeOS) {
			f.addContainer(3, "veth1", true, 0, "ctr1", "198.18.0.10/24")
			f.addContainer(4, "cali1", false, 1, "ctr2", "198.18.0.11/32")
			f.addrs = append(f.addrs, nodeAddr{LinkIndex: 4, Prefix: netip.MustParsePrefix("198.19.1.1/24"), Scope: unix.RT_SCOPE_UNIVERSE})
		}},
	}
	golden.Check(t, "testdata/engine-filter.golden", []byte(runSteps(t, func(name string) bool { return strings.HasPrefix(name, "cali") }, steps)))
}
