package netns

import (
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// peerAddrs keeps the addresses that identify a container: global scope
// (no link-local, no loopback), not failed duplicate address detection. It
// keeps each address's prefix length as configured, IPv4 in 4-byte form,
// sorted (IPv4 before IPv6) and without duplicates.
func peerAddrs(addrs []netlink.Addr) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range addrs {
		if a.IPNet == nil || a.Scope != unix.RT_SCOPE_UNIVERSE || a.Flags&unix.IFA_F_DADFAILED != 0 {
			continue
		}
		p, ok := prefixOf(a)
		if !ok {
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out)
}

// prefixOf converts an address with its prefix length.
func prefixOf(a netlink.Addr) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	ones, bits := a.Mask.Size()
	if a.Mask == nil || bits == 0 {
		ones = ip.BitLen()
	} else if bits != ip.BitLen() {
		// A 4-byte address with a 16-byte mask (or the reverse): the
		// mask counts from the start of the address it came with.
		ones -= bits - ip.BitLen()
	}
	p := netip.PrefixFrom(ip, ones)
	return p, p.IsValid()
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// nodeAddrsOf converts the node namespace's addresses for uplinks.
func nodeAddrsOf(addrs []netlink.Addr) []nodeAddr {
	out := make([]nodeAddr, 0, len(addrs))
	for _, a := range addrs {
		if a.IPNet == nil {
			continue
		}
		if p, ok := prefixOf(a); ok {
			out = append(out, nodeAddr{LinkIndex: a.LinkIndex, Prefix: p, Scope: a.Scope})
		}
	}
	return out
}
