// Package decide is the agent's decision path: the dataplane.Decider that
// answers every queued packet.
//
// Per packet it tracks the flow in the flow table (both directions are one
// flow; the client is the side that sent the first packet, or the SYN), and
// on a new flow names both ends (agent/identity: a local container, a
// workload elsewhere, the node, an external range, the FQDN a DNS answer
// gave the address, or world) and classifies them with the policy in force
// (cached per workload and per remote address and set of DNS names). It
// then evaluates the flow (policy.Plan.Evaluate) and answers the kernel:
//
//   - learn mode: the flow is allowed once enough has been seen to record
//     it in the learned graph — its application detected and its first
//     request parsed, or the L7 wait bound reached, or no application
//     recognised — then put on the kernel fast path (Allow). Connections of
//     an application with L7 attributes (HTTP paths, Redis commands…) stay
//     inspected (Inspect: the kernel queues only what the client sends) so
//     that every distinct request is learned, also on keep-alive
//     connections; HTTP, HTTP/2 and gRPC connections are queued whole
//     (InspectAll) so that their responses are seen too. Config.LearnOnce
//     fast-paths those connections too once their first request is
//     recorded.
//   - monitor mode: violations are reported (event and metric) and allowed.
//   - protect mode: violations are dropped (Deny: TCP gets a reset) and
//     reported with evidence (the connection's first packets as pcapng).
//
// When a rule needs L7 attributes (Decision.Need) the connection stays
// undecided, each packet accepted, until they arrive, within the wait bound
// (packets, bytes and time from the first payload); then the configured
// verdict applies and the flow is reported ("L7 wait exceeded").
// Connections allowed only by rules with L7 conditions (PerRequest) are
// inspected for their whole life and every request is checked: a
// forbidden request on an allowed keep-alive connection is a violation
// (protect: the connection is reset). Every other connection is fast-pathed
// after its first decision.
//
// DNS is always queued by the dataplane: every query is checked (protect
// mode drops a query for a name the policy does not allow, that packet
// only) and every answer feeds the FQDN map, so that FQDN rules and learned
// FQDN edges work. Client bytes that must be checked but carry no query the
// parser can read are treated like a request whose attributes never came.
// Whether a client's stream can still be parsed is the l7 engine's answer
// (l7.Flow.Stopped), never guessed from its notes.
//
// HTTP, HTTP/2 and gRPC requests are counted by method and by the status
// class of their response (responses.go): the method waits on the flow
// until the response comes (in order: pipelining), which it does while the
// connection is undecided or queued whole — in learn mode, and in monitor
// and protect mode with Config.Responses. A request whose response cannot
// reach the agent any more counts with status class "none".
//
// Outcomes are counted (bulkhead_connections_total and the graph's verdict
// counts, Verdicts) under the app the flow ended up with: once when a
// connection is decided, and once more each time a later request makes
// its outcome more severe (allowed → reported → denied); a DNS flow when its
// first query is parsed, and again for each query dropped or reported.
//
// Per-flow inspection state (the l7.Flow, the evidence, the wait counters)
// comes from a pool when a flow first needs it and goes back as soon as the
// flow is decided for the kernel or leaves the flow table: a flow table
// entry stays small. The number of flows inspected at once is bounded
// (Config.MaxInspections); past it a flow that needs inspection is decided
// without it, as if its wait had ended, and reported.
//
// The packet path does not allocate in steady state (established inspected
// connections, DNS), does not log, and holds no lock across I/O: events and
// metrics calls never block. The Decider only returns verdicts; it never
// touches the kernel.
package decide
