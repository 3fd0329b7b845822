package netns

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func addr(s string, scope, flags int) netlink.Addr {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return netlink.Addr{IPNet: n, Scope: scope, Flags: flags}
}

func TestPeerAddrs(t *testing.T) {
	v4in16 := addr("198.18.0.12/24", unix.RT_SCOPE_UNIVERSE, 0)
	v4in16.IP = v4in16.IP.To16()
	v4in16.Mask = net.CIDRMask(120, 128)
	noMask := addr("198.18.0.13/24", unix.RT_SCOPE_UNIVERSE, 0)
	noMask.Mask = nil
	got := peerAddrs([]netlink.Addr{
		addr("2001:2:0:1::a/64", unix.RT_SCOPE_UNIVERSE, 0),
		addr("fe80::1c2d:3eff:fe4f:5a6b/64", unix.RT_SCOPE_LINK, unix.IFA_F_PERMANENT),
		addr("198.18.0.10/24", unix.RT_SCOPE_UNIVERSE, unix.IFA_F_PERMANENT),
		addr("127.0.0.1/8", unix.RT_SCOPE_HOST, 0),
		addr("2001:2:0:1::dead/64", unix.RT_SCOPE_UNIVERSE, unix.IFA_F_DADFAILED|unix.IFA_F_TENTATIVE),
		addr("2001:2:0:1::b/64", unix.RT_SCOPE_UNIVERSE, unix.IFA_F_TENTATIVE),
		addr("198.18.0.10/24", unix.RT_SCOPE_UNIVERSE, 0), // duplicate
		addr("198.18.0.11/32", unix.RT_SCOPE_UNIVERSE, 0),
		v4in16,
		noMask,
		{},
	})
	want := []netip.Prefix{
		netip.MustParsePrefix("198.18.0.10/24"),
		netip.MustParsePrefix("198.18.0.11/32"),
		netip.MustParsePrefix("198.18.0.12/24"),
		netip.MustParsePrefix("198.18.0.13/32"),
		netip.MustParsePrefix("2001:2:0:1::a/64"),
		netip.MustParsePrefix("2001:2:0:1::b/64"),
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("peerAddrs (-want +got):\n%s", d)
	}
}

func TestNodeAddrsOf(t *testing.T) {
	a := addr("198.19.1.1/24", unix.RT_SCOPE_UNIVERSE, 0)
	a.LinkIndex = 6
	got := nodeAddrsOf([]netlink.Addr{a, {}})
	want := []nodeAddr{{LinkIndex: 6, Prefix: netip.MustParsePrefix("198.19.1.1/24"), Scope: unix.RT_SCOPE_UNIVERSE}}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("nodeAddrsOf (-want +got):\n%s", d)
	}
}
