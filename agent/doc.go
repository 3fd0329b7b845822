// Package agent assembles the Bulkhead agent from its parts: configuration,
// container discovery (netns), workload identity, the dataplane (iptables
// rules and NFQUEUE readers), the decision path (agent/decide: flow table,
// L7 inspection, policy evaluation, learning), modes and auto-promotion,
// events, persistent state, the API and the metrics. cmd/bulkhead's
// "agent" command creates an Agent, runs it until a signal, and calls
// Reload on SIGHUP.
//
// Start-up order matters in fail-closed mode: state is loaded, then the
// policy (the configured one, or the last good one from the state directory
// when the configured one fails), and only then are the containers found
// and the dataplane started, so that no packet is let through before a
// policy is in force. Close removes every rule first.
//
// The parts that touch the system come through Options so that tests run
// without root: NewDataplane (the real dataplane by default), Containers
// (a netns.Watcher by default), HostAddrs, and Policy (PolicyEngine, over
// the policy package, by default).
package agent
