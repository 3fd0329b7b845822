package netns

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// testLinks is a node with lo, a bridge, two bridged container veths, a
// routed one, an uplink veth to an external host, a veth with both ends on
// the node, a physical NIC and a veth on a non-bridge master.
var testLinks = linkTable{
	1:  {Index: 1, Name: "lo", Kind: "device", NetNSID: -1},
	2:  {Index: 2, Name: "br0", Kind: "bridge", NetNSID: -1},
	3:  {Index: 3, Name: "veth1", Kind: "veth", MasterIndex: 2, PeerIndex: 2, NetNSID: 0},
	4:  {Index: 4, Name: "veth2", Kind: "veth", MasterIndex: 2, PeerIndex: 2, NetNSID: 1},
	5:  {Index: 5, Name: "cali1", Kind: "veth", PeerIndex: 2, NetNSID: 2},
	6:  {Index: 6, Name: "ext1", Kind: "veth", PeerIndex: 2, NetNSID: 3},
	7:  {Index: 7, Name: "pair-a", Kind: "veth", PeerIndex: 8, NetNSID: -1},
	8:  {Index: 8, Name: "pair-b", Kind: "veth", PeerIndex: 7, NetNSID: -1},
	9:  {Index: 9, Name: "eth0", Kind: "device", NetNSID: -1},
	10: {Index: 10, Name: "vrf0", Kind: "vrf", NetNSID: -1},
	11: {Index: 11, Name: "vethv", Kind: "veth", MasterIndex: 10, PeerIndex: 2, NetNSID: 4},
}

var testNodeAddrs = []nodeAddr{
	{LinkIndex: 1, Prefix: netip.MustParsePrefix("127.0.0.1/8"), Scope: unix.RT_SCOPE_HOST},
	{LinkIndex: 2, Prefix: netip.MustParsePrefix("198.18.0.1/24"), Scope: unix.RT_SCOPE_UNIVERSE},
	{LinkIndex: 5, Prefix: netip.MustParsePrefix("fe80::1/64"), Scope: unix.RT_SCOPE_LINK},
	{LinkIndex: 6, Prefix: netip.MustParsePrefix("198.19.1.1/24"), Scope: unix.RT_SCOPE_UNIVERSE},
	{LinkIndex: 11, Prefix: netip.MustParsePrefix("198.18.9.1/32"), Scope: unix.RT_SCOPE_UNIVERSE},
	{LinkIndex: 9, Prefix: netip.MustParsePrefix("2001:2:0:200::5/64"), Scope: unix.RT_SCOPE_UNIVERSE},
}

func TestUplinks(t *testing.T) {
	got := uplinks(testNodeAddrs)
	want := map[int]bool{2: true, 6: true, 9: true}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("uplinks (-want +got):\n%s", d)
	}
}

func TestContainerLinks(t *testing.T) {
	up := uplinks(testNodeAddrs)
	for _, tc := range []struct {
		name   string
		filter func(string) bool
		want   []string
	}{
		{"default: veths with a peer elsewhere, not uplinks", nil, []string{
			"cali1(5) nsid=2 peer=?(2)",
			"veth1(3) bridge=br0 nsid=0 peer=?(2)",
			"veth2(4) bridge=br0 nsid=1 peer=?(2)",
			"vethv(11) nsid=4 peer=?(2)",
		}},
		{"filter replaces the uplink rule", func(name string) bool { return !strings.HasPrefix(name, "veth") }, []string{
			"cali1(5) nsid=2 peer=?(2)",
			"ext1(6) nsid=3 peer=?(2)",
		}},
		{"filter cannot make a non-container count", func(string) bool { return true }, []string{
			"cali1(5) nsid=2 peer=?(2)",
			"ext1(6) nsid=3 peer=?(2)",
			"veth1(3) bridge=br0 nsid=0 peer=?(2)",
			"veth2(4) bridge=br0 nsid=1 peer=?(2)",
			"vethv(11) nsid=4 peer=?(2)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []Container
			for idx, c := range containerLinks(testLinks, up, tc.filter) {
				if idx != c.HostIndex {
					t.Errorf("%s keyed by %d", c, idx)
				}
				got = append(got, c)
			}
			sortContainers(got)
			if d := cmp.Diff(tc.want, render(got)); d != "" {
				t.Errorf("containerLinks (-want +got):\n%s", d)
			}
		})
	}
}

func TestOrphansOf(t *testing.T) {
	for _, tc := range []struct {
		idx  int
		want []int
	}{
		{8, []int{7}}, // pair-b leaves: pair-a must be read again
		{7, []int{8}},
		{2, nil}, // the bridge: veths whose peer is elsewhere are not orphans
		{99, nil},
	} {
		got := testLinks.orphansOf(tc.idx)
		slices.Sort(got)
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("orphansOf(%d) (-want +got):\n%s", tc.idx, d)
		}
	}
}
