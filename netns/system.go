package netns

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netlinkTimeout bounds every netlink request, so a wedged kernel reply
// cannot hang the watcher.
const netlinkTimeout = 5 * time.Second

// dumpRetries is how often a dump interrupted by concurrent changes is
// retried before its (possibly inconsistent) result is used anyway.
const dumpRetries = 3

// errStaleNamespace says a path no longer opens the namespace it was
// resolved for (the namespace died and its nsid was given to another).
var errStaleNamespace = errors.New("path opens another namespace")

// nodeNet is the OS side of the node namespace: links, addresses, nsids,
// and inspection of peer namespaces. It implements nodeSystem,
// nsidQuerier and peerSystem.
type nodeNet struct {
	path string         // what was opened, for errors
	ns   netns.NsHandle // the node namespace, held open
	h    *netlink.Handle
	self fileID
}

// openNode opens the node namespace at path and a netlink handle inside
// it, without moving any thread of the caller. "" means the caller's
// namespace: the calling thread's, which is the process's unless the caller
// runs on a locked thread it moved to another namespace (then that one).
func openNode(path string) (*nodeNet, error) {
	var (
		ns  netns.NsHandle
		err error
	)
	if path == "" {
		path = "the caller's namespace"
		ns, err = netns.Get()
	} else {
		ns, err = netns.GetFromPath(path)
	}
	if err != nil {
		return nil, fmt.Errorf("netns: open node namespace %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(ns), &st); err != nil {
		ns.Close()
		return nil, fmt.Errorf("netns: stat node namespace %s: %w", path, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netns: netlink handle in node namespace %s: %w", path, err)
	}
	if err := h.SetSocketTimeout(netlinkTimeout); err != nil {
		h.Close()
		ns.Close()
		return nil, fmt.Errorf("netns: netlink timeout in node namespace %s: %w", path, err)
	}
	return &nodeNet{path: path, ns: ns, h: h, self: fileID{dev: uint64(st.Dev), ino: st.Ino}}, nil
}

func (n *nodeNet) close() {
	n.h.Close()
	n.ns.Close()
}

// retryDump runs dump again while the kernel says the dump was
// interrupted by a concurrent change, up to dumpRetries times.
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var (
		out []T
		err error
	)
	for range dumpRetries {
		out, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, nil
}

func (n *nodeNet) listLinks() ([]hostLink, error) {
	links, err := retryDump(n.h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("netns: list links in %s: %w", n.path, err)
	}
	out := make([]hostLink, len(links))
	for i, l := range links {
		out[i] = hostLinkOf(l)
	}
	return out, nil
}

func (n *nodeNet) getLink(index int) (hostLink, bool, error) {
	l, err := n.h.LinkByIndex(index)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return hostLink{}, false, nil
		}
		return hostLink{}, false, fmt.Errorf("netns: get link %d in %s: %w", index, n.path, err)
	}
	return hostLinkOf(l), true, nil
}

func (n *nodeNet) listAddrs() ([]nodeAddr, error) {
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return n.h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("netns: list addresses in %s: %w", n.path, err)
	}
	return nodeAddrsOf(addrs), nil
}

// nsidOf opens path and asks the node namespace for that namespace's nsid.
func (n *nodeNet) nsidOf(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fd)
	id, err := n.h.GetNetNsIdByFd(fd)
	if err != nil {
		return -1, fmt.Errorf("RTM_GETNSID %s: %w", path, err)
	}
	return id, nil
}

// peerInfo is what an inspection of a peer namespace finds.
type peerInfo struct {
	Name  string
	Addrs []netip.Prefix
}

// inspect opens c's peer namespace, checks it is still the one with c's
// nsid, and reads the peer interface's name and addresses through a
// netlink handle inside it. The namespace and the handle are closed before
// it returns: holding them would keep a deleted container's namespace (and
// so its veth) alive.
func (n *nodeNet) inspect(c Container) (peerInfo, error) {
	ns, err := netns.GetFromPath(c.NetNSPath)
	if err != nil {
		return peerInfo{}, fmt.Errorf("netns: open peer namespace %s of %s: %w", c.NetNSPath, c.HostIf, err)
	}
	defer ns.Close()
	id, err := n.h.GetNetNsIdByFd(int(ns))
	if err != nil {
		return peerInfo{}, fmt.Errorf("netns: nsid of %s for %s: %w", c.NetNSPath, c.HostIf, err)
	}
	if id != c.NetNSID {
		return peerInfo{}, fmt.Errorf("netns: peer namespace of %s: %s has nsid %d, want %d: %w", c.HostIf, c.NetNSPath, id, c.NetNSID, errStaleNamespace)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return peerInfo{}, fmt.Errorf("netns: netlink handle in %s for %s: %w", c.NetNSPath, c.HostIf, err)
	}
	defer h.Close()
	if err := h.SetSocketTimeout(netlinkTimeout); err != nil {
		return peerInfo{}, fmt.Errorf("netns: netlink timeout in %s for %s: %w", c.NetNSPath, c.HostIf, err)
	}
	l, err := h.LinkByIndex(c.PeerIndex)
	if err != nil {
		return peerInfo{}, fmt.Errorf("netns: peer link %d of %s in %s: %w", c.PeerIndex, c.HostIf, c.NetNSPath, err)
	}
	if back := l.Attrs().ParentIndex; back != 0 && back != c.HostIndex {
		return peerInfo{}, fmt.Errorf("netns: peer link %d in %s points at ifindex %d, not at %s (%d): %w", c.PeerIndex, c.NetNSPath, back, c.HostIf, c.HostIndex, errStaleNamespace)
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_ALL) })
	if err != nil {
		return peerInfo{}, fmt.Errorf("netns: addresses of %s in %s for %s: %w", l.Attrs().Name, c.NetNSPath, c.HostIf, err)
	}
	return peerInfo{Name: l.Attrs().Name, Addrs: peerAddrs(addrs)}, nil
}
