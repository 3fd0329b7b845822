package netns

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Container is a container attached to the node by a veth pair, as seen from
// the node's network namespace.
type Container struct {
	HostIf    string         `json:"host_if"`              // node-side veth name, e.g. "veth1a2b3c4" or "cali0123456789a"
	HostIndex int            `json:"host_index"`           // node-side ifindex
	Bridge    string         `json:"bridge,omitempty"`     // master bridge of the node-side veth ("" when routed)
	NetNSID   int            `json:"netns_id"`             // nsid of the peer namespace as seen from the node namespace (-1 if unknown)
	NetNS     string         `json:"netns,omitempty"`      // name of the peer namespace under a named-netns directory (e.g. /run/netns/NAME), "" if unnamed
	NetNSPath string         `json:"netns_path,omitempty"` // a path that opens the peer namespace (/run/netns/NAME or /proc/PID/ns/net), "" if not found
	PeerIf    string         `json:"peer_if,omitempty"`    // container-side interface name, e.g. "eth0"
	PeerIndex int            `json:"peer_index"`           // container-side ifindex
	Addrs     []netip.Prefix `json:"addrs"`                // container-side addresses (IPv4 and IPv6, global scope), sorted
}

// String renders c on one line, for logs and the CLI.
func (c Container) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s(%d)", c.HostIf, c.HostIndex)
	if c.Bridge != "" {
		fmt.Fprintf(&b, " bridge=%s", c.Bridge)
	}
	fmt.Fprintf(&b, " nsid=%d", c.NetNSID)
	if c.NetNS != "" {
		fmt.Fprintf(&b, " netns=%s", c.NetNS)
	}
	if c.NetNSPath != "" {
		fmt.Fprintf(&b, " path=%s", c.NetNSPath)
	}
	peer := c.PeerIf
	if peer == "" {
		peer = "?"
	}
	fmt.Fprintf(&b, " peer=%s(%d)", peer, c.PeerIndex)
	for _, a := range c.Addrs {
		fmt.Fprintf(&b, " %s", a)
	}
	return b.String()
}

// Equal reports whether a and b describe the same state.
func (c Container) Equal(o Container) bool {
	return c.HostIf == o.HostIf && c.HostIndex == o.HostIndex && c.Bridge == o.Bridge &&
		c.NetNSID == o.NetNSID && c.NetNS == o.NetNS && c.NetNSPath == o.NetNSPath &&
		c.PeerIf == o.PeerIf && c.PeerIndex == o.PeerIndex && slices.Equal(c.Addrs, o.Addrs)
}

// clone returns a copy of c that shares no memory with it.
func (c Container) clone() Container {
	c.Addrs = slices.Clone(c.Addrs)
	return c
}

// EventType says what happened to a container.
type EventType int

const (
	Added   EventType = iota + 1 // a container appeared
	Updated                      // its addresses (or namespace mapping) changed
	Removed                      // its veth disappeared
)

// String returns "added", "updated" or "removed".
func (t EventType) String() string {
	switch t {
	case Added:
		return "added"
	case Updated:
		return "updated"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is a change of the container set.
type Event struct {
	Type      EventType
	Container Container // for Removed: the last known state
}

// String renders e on one line.
func (e Event) String() string { return e.Type.String() + " " + e.Container.String() }

// sortContainers sorts cs by HostIf (then HostIndex, for stability).
func sortContainers(cs []Container) {
	slices.SortFunc(cs, func(a, b Container) int {
		if c := strings.Compare(a.HostIf, b.HostIf); c != 0 {
			return c
		}
		return a.HostIndex - b.HostIndex
	})
}
