// Package dataplane puts Bulkhead on the packet path of container veths.
//
// It builds iptables rules for the attached veths as plain data
// (BuildRules), applies them with iptables-restore as one atomic batch per
// family in chains it owns (BULKHEAD-*), and reads the NFQUEUE queues those
// rules feed: one reader per queue decodes each packet with gopacket, asks a
// Decider, and answers the kernel with verdicts batched over bursts.
//
// A connection's first packets are queued. Once the Decider decides the
// connection (Allow, Deny, Inspect, InspectAll), the decision is stored in
// the connmark and the kernel carries the rest of the connection itself:
// allowed packets are accepted, denied ones dropped (TCP: reset). An
// inspected connection (Inspect) still has its requests queued — what the
// client sends that carries data — while the kernel passes the server's
// packets and bare ACKs; InspectAll queues every packet. DNS is always
// queued. On kernels without
// CONFIG_NETFILTER_NETLINK_GLUE_CT a connmark set in a verdict is ignored,
// so the reader sets the packet mark and answers NF_REPEAT: the packet
// re-enters the filter chain, where a rule copies the mark to the connmark
// (CONNMARK --save-mark). Start detects which mechanism the kernel supports.
//
// The Dataplane component owns the readers and the rules: Start binds the
// queues, removes stale Bulkhead rules left by a crash and installs the
// rule set; Attach and Detach re-apply the whole set when containers come
// and go; Close removes everything it added. Stats returns the packet-path
// counters, including the kernel's per-queue drop counts from
// /proc/net/netfilter/nfnetlink_queue.
//
// See docs/dataplane.md for the rules, marks and queue layout.
package dataplane
