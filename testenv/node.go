package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
)

// Topology is how containers join the node.
type Topology string

const (
	// Bridged puts host-side veths on a Linux bridge (Docker, kubenet).
	Bridged Topology = "bridged"
	// Routed gives each host-side veth a /32 route and proxy ARP (Calico).
	Routed Topology = "routed"
)

// ParseTopology accepts "bridged" or "routed".
func ParseTopology(s string) (Topology, error) {
	switch Topology(s) {
	case Bridged, Routed:
		return Topology(s), nil
	}
	return "", fmt.Errorf("testenv: unknown topology %q (want bridged or routed)", s)
}

// Config describes a node to build.
type Config struct {
	// Name, when set, names a node built for people: its namespaces are
	// bh-<Name>-<role> and it is not swept as stale. Tests leave it empty
	// and get unique names.
	Name string
	// Topology defaults to Bridged.
	Topology Topology
	// Containers are the container names, in address order.
	Containers []string
	// Externals are hosts reached through the node.
	Externals []ExternalSpec
}

// ExternalSpec describes an external host.
type ExternalSpec struct {
	Name string
	// Addrs are extra addresses the host answers on (e.g. several
	// "internet" servers); the node routes them to it.
	Addrs []netip.Addr
}

// Fixed addresses of the test bed. See the package documentation.
var (
	BridgeIP4     = netip.MustParseAddr("198.18.0.1")
	BridgeIP6     = netip.MustParseAddr("2001:2:0:1::1")
	NodeIP4       = netip.MustParseAddr("198.18.255.1")
	RoutedGW4     = netip.MustParseAddr("169.254.1.1")
	RoutedGW6     = netip.MustParseAddr("fe80::1")
	ContainerNet4 = netip.MustParsePrefix("198.18.0.0/24")
	ContainerNet6 = netip.MustParsePrefix("2001:2:0:1::/64")
)

const (
	// BridgeName is the node bridge in the bridged topology.
	BridgeName    = "br-bulkhead"
	firstHostNum  = 10
	maxContainers = 200
)

// Node is a container host built from network namespaces.
type Node struct {
	// Node is the node namespace, where the daemon runs.
	Node *Host
	// Topology is how containers are attached.
	Topology Topology

	prefix string

	mu         sync.Mutex
	containers map[string]*Container
	externals  []*External
	nextNum    int
	closed     bool
}

// Container is a container namespace attached to the node by a veth pair.
type Container struct {
	*Host
	// HostIf is the name of the veth's end in the node namespace.
	HostIf string
	// IP4 and IP6 are the container's addresses on its eth0.
	IP4, IP6 netip.Addr
	// MAC is the container eth0's hardware address.
	MAC net.HardwareAddr
}

// External is a host outside the node, reached by routing through it.
type External struct {
	*Host
	// NodeIf is the link's name in the node namespace.
	NodeIf string
	// IP4 and IP6 are the host's addresses on its link; Addrs are its extra
	// addresses.
	IP4, IP6 netip.Addr
	Addrs    []netip.Addr
}

// New builds a node for a test and removes it when the test ends, even if
// it fails or panics. It fails the test if the node cannot be built.
func New(t testing.TB, cfg Config) *Node {
	t.Helper()
	RequireRoot(t)
	n, err := Build(cfg)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("testenv: close: %v", err)
		}
	})
	return n
}

// Build builds a node. The caller must Close it.
func Build(cfg Config) (n *Node, err error) {
	topo := cfg.Topology
	if topo == "" {
		topo = Bridged
	}
	if _, err := ParseTopology(string(topo)); err != nil {
		return nil, err
	}
	var prefix string
	if cfg.Name != "" {
		if err := checkName("node", cfg.Name); err != nil {
			return nil, err
		}
		prefix = namedPrefix(cfg.Name)
	} else {
		sweepStale()
		prefix = testPrefix()
	}
	seen := map[string]bool{"node": true}
	for _, c := range cfg.Containers {
		if err := checkName("container", c); err != nil {
			return nil, err
		}
		if seen[c] {
			return nil, fmt.Errorf("testenv: duplicate host name %q", c)
		}
		seen[c] = true
	}
	for _, e := range cfg.Externals {
		if err := checkName("external host", e.Name); err != nil {
			return nil, err
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("testenv: duplicate host name %q", e.Name)
		}
		seen[e.Name] = true
	}

	node, err := newHost("node", prefix+"-node")
	if err != nil {
		return nil, err
	}
	n = &Node{Node: node, Topology: topo, prefix: prefix, containers: map[string]*Container{}, nextNum: firstHostNum}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Close())
			n = nil
		}
	}()
	if err := n.setupNode(); err != nil {
		return n, err
	}
	for i, e := range cfg.Externals {
		if err := n.addExternal(i+1, e); err != nil {
			return n, err
		}
	}
	for _, c := range cfg.Containers {
		if _, err := n.AddContainer(c); err != nil {
			return n, err
		}
	}
	return n, nil
}

// setupNode configures forwarding, br_netfilter, the node's address and,
// when bridged, the bridge.
func (n *Node) setupNode() error {
	h := n.Node
	for _, kv := range [][2]string{
		{"net.ipv4.ip_forward", "1"},
		{"net.ipv6.conf.all.forwarding", "1"},
		{"net.ipv6.conf.default.accept_dad", "0"},
	} {
		if err := h.Sysctl(kv[0], kv[1]); err != nil {
			return err
		}
	}
	// The node's own address lives on lo (this kernel may lack dummy links).
	if err := addrAdd(h.nl, "lo", netip.PrefixFrom(NodeIP4, 32)); err != nil {
		return err
	}
	if n.Topology == Routed {
		// Proxy ARP answers for an address the node has a unicast route to
		// through another interface (on a real host: its default route).
		// This route makes the node answer ARP for the containers' gateway
		// 169.254.1.1 whether or not external hosts exist.
		if err := routeAdd(h.nl, "lo", netip.PrefixFrom(RoutedGW4, 32), netip.Addr{}, false); err != nil {
			return err
		}
	}
	if n.Topology != Bridged {
		return nil
	}
	// br_netfilter makes bridged IPv4/IPv6 traffic traverse iptables, so
	// rules can match it with physdev. The sysctls are per namespace. Stock
	// distribution kernels build it as a module that nothing loads until a
	// bridge needs it: load it, as Docker does.
	if err := loadBrNetfilter(); err != nil {
		return err
	}
	for _, k := range []string{"net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"} {
		if err := h.Sysctl(k, "1"); err != nil {
			return fmt.Errorf("%w (is br_netfilter available? try: modprobe br_netfilter)", err)
		}
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: BridgeName}}
	if err := h.nl.LinkAdd(br); err != nil {
		return fmt.Errorf("testenv: add bridge %s in %s: %w", BridgeName, h.NS, err)
	}
	if err := addrAdd(h.nl, BridgeName, netip.PrefixFrom(BridgeIP4, 24)); err != nil {
		return err
	}
	if err := addrAdd(h.nl, BridgeName, netip.PrefixFrom(BridgeIP6, 64)); err != nil {
		return err
	}
	return linkUp(h.nl, BridgeName)
}

// AddContainer creates a container namespace and attaches it to the node.
// It can be called while traffic runs.
func (n *Node) AddContainer(name string) (*Container, error) {
	if err := checkName("container", name); err != nil {
		return nil, err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, errors.New("testenv: node is closed")
	}
	if _, dup := n.containers[name]; dup || name == "node" {
		n.mu.Unlock()
		return nil, fmt.Errorf("testenv: container %q already exists", name)
	}
	for _, e := range n.externals {
		if e.Name == name {
			n.mu.Unlock()
			return nil, fmt.Errorf("testenv: %q is already an external host", name)
		}
	}
	num := n.nextNum
	if num >= firstHostNum+maxContainers {
		n.mu.Unlock()
		return nil, fmt.Errorf("testenv: at most %d containers per node", maxContainers)
	}
	n.nextNum++
	// Reserve the name so a concurrent AddContainer cannot take it.
	n.containers[name] = nil
	n.mu.Unlock()

	c, err := n.attachContainer(name, num)
	n.mu.Lock()
	if err != nil {
		delete(n.containers, name)
	} else {
		n.containers[name] = c
	}
	n.mu.Unlock()
	return c, err
}

func (n *Node) attachContainer(name string, num int) (c *Container, err error) {
	host, err := newHost(name, n.prefix+"-"+name)
	if err != nil {
		return nil, err
	}
	c = &Container{
		Host:   host,
		HostIf: hostIfName(n.Topology, n.prefix, name),
		IP4:    netip.AddrFrom4([4]byte{198, 18, 0, byte(num)}),
		IP6:    netip.AddrFrom16([16]byte{0x20, 0x01, 0, 2, 0, 0, 0, 1, 14: byte(num >> 8), 15: byte(num)}),
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, host.destroy())
		}
	}()
	if err := host.Sysctl("net.ipv6.conf.all.accept_dad", "0"); err != nil {
		return nil, err
	}
	if err := host.Sysctl("net.ipv6.conf.default.accept_dad", "0"); err != nil {
		return nil, err
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: c.HostIf},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(int(host.handle)),
	}
	if err := n.Node.nl.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("testenv: add veth %s for container %s: %w", c.HostIf, name, err)
	}
	eth0, err := host.nl.LinkByName("eth0")
	if err != nil {
		return nil, fmt.Errorf("testenv: find eth0 in %s: %w", host.NS, err)
	}
	c.MAC = eth0.Attrs().HardwareAddr
	switch n.Topology {
	case Bridged:
		if err := n.attachBridged(c); err != nil {
			return nil, err
		}
	case Routed:
		if err := n.attachRouted(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (n *Node) attachBridged(c *Container) error {
	nl := n.Node.nl
	hostLink, err := nl.LinkByName(c.HostIf)
	if err != nil {
		return fmt.Errorf("testenv: find %s: %w", c.HostIf, err)
	}
	br, err := nl.LinkByName(BridgeName)
	if err != nil {
		return fmt.Errorf("testenv: find %s: %w", BridgeName, err)
	}
	if err := nl.LinkSetMaster(hostLink, br); err != nil {
		return fmt.Errorf("testenv: put %s on %s: %w", c.HostIf, BridgeName, err)
	}
	if err := nl.LinkSetUp(hostLink); err != nil {
		return fmt.Errorf("testenv: bring up %s: %w", c.HostIf, err)
	}
	cl := c.nl
	if err := addrAdd(cl, "eth0", netip.PrefixFrom(c.IP4, 24)); err != nil {
		return err
	}
	if err := addrAdd(cl, "eth0", netip.PrefixFrom(c.IP6, 64)); err != nil {
		return err
	}
	if err := linkUp(cl, "eth0"); err != nil {
		return err
	}
	if err := routeAdd(cl, "eth0", netip.Prefix{}, BridgeIP4, false); err != nil {
		return err
	}
	return routeAdd(cl, "eth0", netip.Prefix{}, BridgeIP6, true)
}

func (n *Node) attachRouted(c *Container) error {
	nl := n.Node.nl
	if err := linkUp(nl, c.HostIf); err != nil {
		return err
	}
	if err := n.Node.Sysctl("net.ipv4.conf."+c.HostIf+".proxy_arp", "1"); err != nil {
		return err
	}
	// The container's IPv6 gateway is fe80::1 on the host side.
	if err := addrAdd(nl, c.HostIf, netip.PrefixFrom(RoutedGW6, 64)); err != nil {
		return err
	}
	if err := routeAdd(nl, c.HostIf, netip.PrefixFrom(c.IP4, 32), netip.Addr{}, false); err != nil {
		return err
	}
	if err := routeAdd(nl, c.HostIf, netip.PrefixFrom(c.IP6, 128), netip.Addr{}, false); err != nil {
		return err
	}
	cl := c.nl
	if err := addrAdd(cl, "eth0", netip.PrefixFrom(c.IP4, 32)); err != nil {
		return err
	}
	if err := addrAdd(cl, "eth0", netip.PrefixFrom(c.IP6, 128)); err != nil {
		return err
	}
	if err := linkUp(cl, "eth0"); err != nil {
		return err
	}
	if err := routeAdd(cl, "eth0", netip.PrefixFrom(RoutedGW4, 32), netip.Addr{}, false); err != nil {
		return err
	}
	if err := routeAdd(cl, "eth0", netip.Prefix{}, RoutedGW4, false); err != nil {
		return err
	}
	return routeAdd(cl, "eth0", netip.Prefix{}, RoutedGW6, true)
}

// addExternal creates external host number num (from 1) on its own link.
func (n *Node) addExternal(num int, spec ExternalSpec) (err error) {
	host, err := newHost(spec.Name, n.prefix+"-"+spec.Name)
	if err != nil {
		return err
	}
	e := &External{
		Host:   host,
		NodeIf: fmt.Sprintf("ext%d", num),
		IP4:    netip.AddrFrom4([4]byte{198, 19, byte(num), 2}),
		IP6:    netip.AddrFrom16([16]byte{0x20, 0x01, 0, 2, 0, 0, 1, byte(num), 15: 2}),
		Addrs:  append([]netip.Addr(nil), spec.Addrs...),
	}
	nodeIP4 := netip.AddrFrom4([4]byte{198, 19, byte(num), 1})
	nodeIP6 := netip.AddrFrom16([16]byte{0x20, 0x01, 0, 2, 0, 0, 1, byte(num), 15: 1})
	defer func() {
		if err != nil {
			err = errors.Join(err, host.destroy())
		}
	}()
	if err := host.Sysctl("net.ipv6.conf.all.accept_dad", "0"); err != nil {
		return err
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: e.NodeIf},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(int(host.handle)),
	}
	nl := n.Node.nl
	if err := nl.LinkAdd(veth); err != nil {
		return fmt.Errorf("testenv: add link %s to external host %s: %w", e.NodeIf, spec.Name, err)
	}
	if err := addrAdd(nl, e.NodeIf, netip.PrefixFrom(nodeIP4, 24)); err != nil {
		return err
	}
	if err := addrAdd(nl, e.NodeIf, netip.PrefixFrom(nodeIP6, 64)); err != nil {
		return err
	}
	if err := linkUp(nl, e.NodeIf); err != nil {
		return err
	}
	for _, a := range e.Addrs {
		if !a.IsValid() {
			return fmt.Errorf("testenv: external host %s: invalid extra address", spec.Name)
		}
		gw := e.IP4
		if a.Is6() {
			gw = e.IP6
		}
		if err := routeAdd(nl, e.NodeIf, netip.PrefixFrom(a, a.BitLen()), gw, false); err != nil {
			return err
		}
		if err := addrAdd(host.nl, "lo", netip.PrefixFrom(a, a.BitLen())); err != nil {
			return err
		}
	}
	if num == 1 {
		// The first external host is the node's default route: "the
		// internet".
		if err := routeAdd(nl, e.NodeIf, netip.Prefix{}, e.IP4, false); err != nil {
			return err
		}
		if err := routeAdd(nl, e.NodeIf, netip.Prefix{}, e.IP6, true); err != nil {
			return err
		}
	}
	hl := host.nl
	if err := addrAdd(hl, "eth0", netip.PrefixFrom(e.IP4, 24)); err != nil {
		return err
	}
	if err := addrAdd(hl, "eth0", netip.PrefixFrom(e.IP6, 64)); err != nil {
		return err
	}
	if err := linkUp(hl, "eth0"); err != nil {
		return err
	}
	if err := routeAdd(hl, "eth0", netip.Prefix{}, nodeIP4, false); err != nil {
		return err
	}
	if err := routeAdd(hl, "eth0", netip.Prefix{}, nodeIP6, true); err != nil {
		return err
	}
	n.mu.Lock()
	n.externals = append(n.externals, e)
	n.mu.Unlock()
	return nil
}

// RemoveContainer stops everything running in a container and removes its
// namespace; its veth disappears with it. It can be called while traffic
// runs.
func (n *Node) RemoveContainer(name string) error {
	n.mu.Lock()
	c, ok := n.containers[name]
	if ok && c != nil {
		delete(n.containers, name)
	}
	n.mu.Unlock()
	if !ok || c == nil {
		return fmt.Errorf("testenv: no container %q", name)
	}
	// Delete the veth now, as a container runtime does; the kernel would
	// otherwise remove it asynchronously after the namespace goes.
	var lerr error
	if link, err := n.Node.nl.LinkByName(c.HostIf); err == nil {
		if err := n.Node.nl.LinkDel(link); err != nil {
			lerr = fmt.Errorf("testenv: delete veth %s: %w", c.HostIf, err)
		}
	}
	return errors.Join(lerr, c.destroy())
}

// Container returns the named container, or nil.
func (n *Node) Container(name string) *Container {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.containers[name]
}

// Containers returns the containers sorted by address.
func (n *Node) Containers() []*Container {
	n.mu.Lock()
	out := make([]*Container, 0, len(n.containers))
	for _, c := range n.containers {
		if c != nil {
			out = append(out, c)
		}
	}
	n.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].IP4.Less(out[j].IP4) })
	return out
}

// External returns the named external host, or nil.
func (n *Node) External(name string) *External {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, e := range n.externals {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// Externals returns the external hosts in creation order.
func (n *Node) Externals() []*External {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*External(nil), n.externals...)
}

// Prefix is the common prefix of the node's namespace names.
func (n *Node) Prefix() string { return n.prefix }

// Close stops every process and server the node started and removes all its
// namespaces. It is safe to call more than once.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	cs := make([]*Container, 0, len(n.containers))
	for _, c := range n.containers {
		if c != nil {
			cs = append(cs, c)
		}
	}
	n.containers = map[string]*Container{}
	es := n.externals
	n.externals = nil
	n.mu.Unlock()

	var errs []error
	// Stop the node's own processes (the daemon) first, so it sees an
	// orderly world while it shuts down.
	if err := n.Node.stop(); err != nil {
		errs = append(errs, err)
	}
	for _, c := range cs {
		if err := c.destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range es {
		if err := e.destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := n.Node.destroy(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
