package identity

import (
	"net/netip"
	"strings"
)

// Kind says what an Identity names.
type Kind uint8

// The kinds of identity.
const (
	// World is an address nothing names.
	World Kind = iota
	// Local is a container on this node.
	Local
	// Host is this node itself.
	Host
	// Cluster is a workload elsewhere (named by a PeerSource).
	Cluster
	// External is a known external range (named by a PeerSource).
	External
	// FQDN is an external address named by a DNS answer seen earlier.
	FQDN
)

var kindNames = [...]string{World: "world", Local: "local", Host: "host", Cluster: "cluster", External: "external", FQDN: "fqdn"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Names of the built-in identities.
const (
	WorldName = "world"
	HostName  = "host"
)

// LabelNetNS is the label the netns source puts on the workloads it names:
// the full namespace name.
const LabelNetNS = "bulkhead.dev/netns"

// Workload is a name plus labels.
type Workload struct {
	Name string
	// Labels are shared and must not be modified.
	Labels map[string]string
}

// Identity names one endpoint of a flow. It is a small value: copying it
// does not allocate, and Labels is shared and read-only.
type Identity struct {
	Kind   Kind
	Name   string            // workload, range, FQDN, "host" or "world"
	Labels map[string]string // nil for FQDN, Host and World
	// Source names what gave the identity ("file", "netns", "interface",
	// "dns"…), for people.
	Source string
}

// Container describes a local container as the netns watcher reports it
// (the wiring translates its events into these).
type Container struct {
	HostIf string // node-side veth name
	// HostIndex is the node-side veth's interface index (0 if unknown):
	// packets the container sends arrive on it.
	HostIndex int
	NetNS     string       // name of the container's network namespace, "" if unnamed
	Addrs     []netip.Addr // the container's addresses
}

// Source names local containers.
type Source interface {
	// Name identifies the source in logs and identities ("file", "netns").
	Name() string
	// Workload returns the workload running in c; ok is false when the
	// source does not know c.
	Workload(c Container) (w Workload, ok bool)
}

// PeerSource names remote addresses.
type PeerSource interface {
	// Peer names addr; ok is false when the source does not know it. It is
	// called on the packet path and must not allocate or block.
	Peer(addr netip.Addr) (id Identity, ok bool)
}

// normAddr unmaps IPv4-mapped IPv6 addresses and drops zones so that one
// address has one key.
func normAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// normName lower-cases a DNS name and removes its trailing dot, allocating
// only when it changes.
func normName(s string) string {
	s = strings.TrimSuffix(s, ".")
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
