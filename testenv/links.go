package testenv

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// addrAdd adds p to the link named ifname. IPv6 addresses skip duplicate
// address detection so they are usable at once.
func addrAdd(nl *netlink.Handle, ifname string, p netip.Prefix) error {
	link, err := nl.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("testenv: find link %s: %w", ifname, err)
	}
	a := &netlink.Addr{IPNet: prefixToIPNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := nl.AddrAdd(link, a); err != nil {
		return fmt.Errorf("testenv: add address %s to %s: %w", p, ifname, err)
	}
	return nil
}

func linkUp(nl *netlink.Handle, ifname string) error {
	link, err := nl.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("testenv: find link %s: %w", ifname, err)
	}
	if err := nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("testenv: bring up %s: %w", ifname, err)
	}
	return nil
}

// routeAdd adds a route through ifname. An invalid dst means the default
// route of gw's family (v6 selects the IPv6 default when gw is invalid); an
// invalid gw means a directly connected route.
func routeAdd(nl *netlink.Handle, ifname string, dst netip.Prefix, gw netip.Addr, v6 bool) error {
	link, err := nl.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("testenv: find link %s: %w", ifname, err)
	}
	r := &netlink.Route{LinkIndex: link.Attrs().Index}
	switch {
	case dst.IsValid():
		r.Dst = prefixToIPNet(dst)
	case gw.IsValid() && gw.Is6(), v6:
		r.Dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
	default:
		r.Dst = &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	}
	if gw.IsValid() {
		r.Gw = net.IP(gw.AsSlice())
		if gw.Is4() && gw.IsLinkLocalUnicast() {
			r.Flags = int(netlink.FLAG_ONLINK)
		}
	} else {
		r.Scope = netlink.SCOPE_LINK
	}
	if err := nl.RouteAdd(r); err != nil {
		what := "default"
		if dst.IsValid() {
			what = dst.String()
		}
		return fmt.Errorf("testenv: add route %s via %v dev %s: %w", what, gw, ifname, err)
	}
	return nil
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
