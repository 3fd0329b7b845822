// Package agent assembles the Bulkhead agent from its parts: configuration,
// workload identity, the flow table, modes, events, persistent state, the
// API and the metrics. cmd/bulkhead's "agent" command creates an Agent, runs
// it until a signal, and calls Reload on SIGHUP.
//
// Start-up order matters in fail-closed mode: state is loaded, then the
// policy (the configured one, or the last good one from the state directory
// when the configured one fails), and only then would the dataplane attach,
// so that no packet is let through before a policy is in force.
//
// The packet path (dataplane readers, L7 inspection, policy decisions) plugs
// in through the interfaces of this package: PolicyLoader supplies the
// policy, DataplaneStatus reports the attachment, GraphSource the learned
// graph; the decision code uses the components' accessors (Flows, Resolver,
// Events, Modes, Metrics).
package agent
