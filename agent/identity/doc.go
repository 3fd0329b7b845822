// Package identity names the endpoints of flows.
//
// A workload is a name plus labels. Local containers (those attached to this
// node by a veth) are named by Sources, consulted in order: the static
// identity file first, then the network namespace's name. A remote address
// is named, in order, by the local-container index (a container on this
// node), the node's own addresses ("host"), PeerSources (the static file:
// remote workloads elsewhere in the cluster and known external ranges), the
// FQDN map fed by DNS answers, and otherwise it is "world".
//
// Within the static file, a local container is matched by, in order of
// precedence: its host-side interface, its network namespace name, one of
// its IP addresses, and the longest CIDR containing one of its addresses. An
// interface is the most specific (one veth is one container at one moment);
// a namespace name survives container restarts; addresses may be reused.
//
// Sources are interfaces so that container-runtime and Kubernetes sources
// can join the list. Lookups on the packet path (Resolver.Local,
// Resolver.Addr, FQDNMap.Name) take a read lock and do not allocate.
package identity
