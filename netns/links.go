package netns

import (
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// hostLink is what the classification needs to know about one link of the
// node namespace.
type hostLink struct {
	Index       int
	Name        string
	Kind        string // rtnetlink kind: "veth", "bridge", "device", ...
	MasterIndex int    // IFLA_MASTER, 0 if none
	PeerIndex   int    // IFLA_LINK: for a veth, the peer's ifindex in its namespace
	NetNSID     int    // IFLA_LINK_NETNSID: the peer's namespace, -1 if it is this one
}

// hostLinkOf converts a link decoded by vishvananda/netlink.
func hostLinkOf(l netlink.Link) hostLink {
	a := l.Attrs()
	return hostLink{
		Index:       a.Index,
		Name:        a.Name,
		Kind:        l.Type(),
		MasterIndex: a.MasterIndex,
		PeerIndex:   a.ParentIndex,
		NetNSID:     a.NetNsID,
	}
}

// linkTable holds the node namespace's links by ifindex.
type linkTable map[int]hostLink

// orphansOf returns the veths whose peer had ifindex idx in this namespace.
// When a veth's peer moves to another namespace the kernel announces the
// peer leaving but not the change of the remaining end, so these must be
// fetched again to learn their new IFLA_LINK_NETNSID.
func (t linkTable) orphansOf(idx int) []int {
	var out []int
	for _, l := range t {
		if l.Kind == "veth" && l.NetNSID < 0 && l.PeerIndex == idx && l.Index != idx {
			out = append(out, l.Index)
		}
	}
	return out
}

// nodeAddr is one address of the node namespace.
type nodeAddr struct {
	LinkIndex int
	Prefix    netip.Prefix
	Scope     int
}

// uplinks returns the ifindexes of the node links that hold a global
// address with a subnet prefix (shorter than /32 or /128): the node is a
// member of a network on that link, as a router is on its ports. Container
// veths are unnumbered on the node side (Docker, Calico, Cilium) or carry
// a host-prefix gateway address (the CNI ptp plugin), so a veth that is an
// uplink is not a container.
func uplinks(addrs []nodeAddr) map[int]bool {
	out := map[int]bool{}
	for _, a := range addrs {
		if a.Scope == unix.RT_SCOPE_UNIVERSE && a.Prefix.IsValid() && a.Prefix.Bits() < a.Prefix.Addr().BitLen() {
			out[a.LinkIndex] = true
		}
	}
	return out
}

// containerLinks selects the links of t that are containers and returns
// their node-side view (no peer namespace name, peer name or addresses
// yet), keyed by ifindex. A container link is a veth whose peer is in
// another namespace and that filter accepts; without a filter, a veth that
// is an uplink (see uplinks) is not a container.
func containerLinks(t linkTable, up map[int]bool, filter func(string) bool) map[int]Container {
	out := map[int]Container{}
	for idx, l := range t {
		if l.Kind != "veth" || l.NetNSID < 0 {
			continue
		}
		if filter != nil {
			if !filter(l.Name) {
				continue
			}
		} else if up[idx] {
			continue
		}
		c := Container{HostIf: l.Name, HostIndex: idx, NetNSID: l.NetNSID, PeerIndex: l.PeerIndex}
		if m, ok := t[l.MasterIndex]; ok && l.MasterIndex != 0 && m.Kind == "bridge" {
			c.Bridge = m.Name
		}
		out[idx] = c
	}
	return out
}
