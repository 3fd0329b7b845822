// Package testenv builds container nodes from Linux network namespaces, for
// Bulkhead's integration tests, benchmarks and demo.
//
// A Node has one "node" namespace that stands in for the container host (the
// daemon runs there), N "container" namespaces joined to it through veth
// pairs, and optional "external" hosts reached through the node (egress).
// Two topologies mirror what real CNIs do:
//
//   - Bridged (Docker bridge, kubenet): host-side veths named vethXXXXXXX are
//     ports of a Linux bridge that holds the gateway address 198.18.0.1/24;
//     br_netfilter is on, so iptables sees bridged traffic and the physdev
//     match works.
//   - Routed (Calico): host-side veths named caliXXXXXXXXXXX have no address;
//     the node has a /32 (and /128) route to each container through its veth
//     and answers ARP with proxy ARP; containers use 169.254.1.1 (and
//     fe80::1) as their gateway.
//
// Addresses: containers get 198.18.0.10, .11, … (IPv4) and 2001:2:0:1::a,
// ::b, … (IPv6: the same host number, in hex). External host i (from 1) sits on its own link
// 198.19.i.0/24 (2001:2:0:100+i::/64) at .2 with the node at .1; extra
// addresses of an external host (ExternalSpec.Addrs) are routed to it. The
// node's default route points at the first external host, so unknown
// destinations are "the internet". The node owns 198.18.255.1 on its loopback,
// its address in the routed topology.
//
// Names are unique per test: namespaces are called bh<pid>x<seq>-<role> and
// are removed by Close, which New registers with t.Cleanup, so they go even
// when a test fails or panics. Namespaces left by a test process that was
// killed are swept by the next New. Nodes built for people (the CLI, the
// demo) use Config.Name and are called bh-<name>-<role>.
//
// Code runs inside a namespace with Host.Do; sockets created there stay in
// that namespace, so Host.Listen, Host.Dial and Host.HTTPClient give
// ordinary net.Conn and http.Client values that work from any goroutine.
// Host.Command and Host.Start run programs inside the namespace; Host.Capture
// records a pcap with tcpdump. ServeHTTP, ServeTCPEcho, ServeUDPEcho and
// ServeDNS run real Go servers (the DNS server uses miekg/dns).
//
// Root-only tests call RequireRoot first.
package testenv
