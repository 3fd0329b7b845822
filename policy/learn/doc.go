// Package learn builds the baseline communication graph from observed flows
// and turns graphs into readable policies.
//
// The agent calls Graph.Observe once per new flow (not per packet), from any
// goroutine: the graph is sharded, with one small lock per shard. Each edge
// is (source, destination, protocol, server port, app) with a count, first
// and last seen times (from the injected clock) and a bounded set of the L7
// values seen (Limits.MaxValues, then a "more" flag). Observe reports
// whether the observation created a new edge.
//
// Graphs serialise to a versioned JSON Snapshot (see docs/policy.md); Merge
// combines snapshots from several nodes into one cluster graph (commutative
// and associative); Generate turns a snapshot into a policy.Policy with
// generalised, readable rules.
package learn
