// Package netns finds the containers attached to a node: for every
// node-side veth whose peer lives in another network namespace it reports
// the host interface, its bridge, the peer namespace (nsid, name and a path
// that opens it), the peer interface and the peer's addresses, and it
// reports containers appearing, changing and disappearing.
//
// Discovery is read-only: the package lists links and addresses, asks the
// kernel for namespace ids (RTM_GETNSID) and opens short-lived netlink
// handles inside peer namespaces, but never changes anything there and never
// keeps a peer namespace open between inspections (a held reference would
// keep a deleted container's namespace, and so its veth, alive).
//
// One netlink socket in the node namespace, joined to the link and address
// groups with NETLINK_LISTEN_ALL_NSID, tells the Watcher about node links
// and about addresses and links inside every peer namespace; a new
// container's addresses are also re-checked every 200 ms for 5 s, and a full
// re-list every Config.Resync is the safety net for lost notifications.
//
// The pure parts (link classification, namespace naming, event diffing,
// notification decoding) are separate from the OS adapters so they are
// tested without root; see docs/netns.md for what counts as a container.
package netns
