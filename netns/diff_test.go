package netns

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiff(t *testing.T) {
	a := Container{HostIf: "veth-a", HostIndex: 3, Bridge: "br0", NetNSID: 0, NetNS: "a", NetNSPath: "/run/netns/a", PeerIf: "eth0", PeerIndex: 2,
		Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.10/24")}}
	b := Container{HostIf: "veth-b", HostIndex: 4, NetNSID: 1, PeerIf: "eth0", PeerIndex: 2}
	withAddr := a
	withAddr.Addrs = append(withAddr.Addrs[:1:1], netip.MustParsePrefix("2001:2:0:1::a/64"))
	renamed := a
	renamed.HostIf = "veth-z"
	unbridged := a
	unbridged.Bridge = ""
	moved := b
	moved.NetNSID, moved.PeerIndex = 7, 9

	set := func(cs ...Container) map[int]Container {
		m := map[int]Container{}
		for _, c := range cs {
			m[c.HostIndex] = c
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		old, new map[int]Container
		want     []string
	}{
		{"nothing", nil, nil, nil},
		{"same", set(a, b), set(a, b), nil},
		{"appear, sorted by name", nil, set(b, a), []string{"added " + a.String(), "added " + b.String()}},
		{"disappear", set(a, b), set(b), []string{"removed " + a.String()}},
		{"addresses change", set(a), set(withAddr), []string{"updated " + withAddr.String()}},
		{"bridge changes", set(a), set(unbridged), []string{"updated " + unbridged.String()}},
		{"peer moves to another namespace", set(b), set(moved), []string{"updated " + moved.String()}},
		{"rename is remove then add", set(a), set(renamed), []string{"removed " + a.String(), "added " + renamed.String()}},
		{"removals before additions before updates", set(a, b), set(withAddr, Container{HostIf: "veth-0", HostIndex: 9, NetNSID: 3}),
			[]string{"removed " + b.String(), "added veth-0(9) nsid=3 peer=?(0)", "updated " + withAddr.String()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, ev := range diff(tc.old, tc.new) {
				got = append(got, ev.String())
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("diff (-want +got):\n%s", d)
			}
		})
	}
}

// TestDiffCopiesAddresses: an event must not share its address slice with
// the watcher's state, which the consumer could otherwise corrupt.
func TestDiffCopiesAddresses(t *testing.T) {
	c := Container{HostIf: "veth-a", HostIndex: 3, Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.10/24")}}
	events := diff(nil, map[int]Container{3: c})
	events[0].Container.Addrs[0] = netip.Prefix{}
	if c.Addrs[0] != netip.MustParsePrefix("198.18.0.10/24") {
		t.Errorf("event shares its addresses with the state")
	}
}

func TestEventTypeString(t *testing.T) {
	for typ, want := range map[EventType]string{Added: "added", Updated: "updated", Removed: "removed", 0: "EventType(0)"} {
		if got := typ.String(); got != want {
			t.Errorf("EventType(%d).String() = %q, want %q", int(typ), got, want)
		}
	}
}
