package events

import (
	"net/netip"
	"strconv"
	"time"
)

// Type is the kind of an event.
type Type string

// The event types.
const (
	// Violation: a flow or request the policy does not allow, reported
	// (monitor mode, or protect mode when it was also dropped: see Drop).
	Violation Type = "violation"
	// Drop: a flow or request the agent dropped (protect mode, or the L7
	// wait bound passed with verdict deny).
	Drop Type = "drop"
	// Learned: a new edge in the learned graph (learn mode).
	Learned Type = "learned"
	// PolicyReload: a new policy is in force.
	PolicyReload Type = "policy_reload"
	// PolicyReloadFailed: a policy was refused; the old one stays.
	PolicyReloadFailed Type = "policy_reload_failed"
	// ModeChange: a group's mode changed (operator, or a policy reload).
	ModeChange Type = "mode_change"
	// Promotion: auto-promotion raised a group's mode.
	Promotion Type = "promotion"
	// EventsLost: only in an API stream: this subscriber lost Lost events
	// because it read too slowly.
	EventsLost Type = "events_lost"
	// AgentStart and AgentStop bracket a run of the agent.
	AgentStart Type = "agent_start"
	AgentStop  Type = "agent_stop"
)

// Types returns every event type, in the order docs/events.md lists them.
func Types() []Type {
	return []Type{Violation, Drop, Learned, PolicyReload, PolicyReloadFailed, ModeChange, Promotion, EventsLost, AgentStart, AgentStop}
}

// Endpoint is one end of a flow.
type Endpoint struct {
	// Workload is the identity's name: a workload, a named range, an FQDN,
	// "host" or "world".
	Workload string `json:"workload"`
	// Kind is local, cluster, external, fqdn, host or world.
	Kind   string            `json:"kind,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	IP     netip.Addr        `json:"ip,omitzero"`
	Port   uint16            `json:"port,omitempty"`
}

// L7 holds the application attributes of the request an event is about.
// Every field is optional.
type L7 struct {
	Method      string `json:"method,omitempty"`       // HTTP
	Host        string `json:"host,omitempty"`         // HTTP Host, TLS SNI
	Path        string `json:"path,omitempty"`         // HTTP
	Status      int    `json:"status,omitempty"`       // HTTP status, DNS rcode
	GRPCService string `json:"grpc_service,omitempty"` // gRPC
	GRPCMethod  string `json:"grpc_method,omitempty"`  // gRPC
	Query       string `json:"query,omitempty"`        // DNS query name
	QType       string `json:"qtype,omitempty"`        // DNS query type ("A", "AAAA")
	Command     string `json:"command,omitempty"`      // Redis, SQL statement kind, Kafka API…
	Topic       string `json:"topic,omitempty"`        // Kafka, MQTT
	User        string `json:"user,omitempty"`         // databases
	Database    string `json:"database,omitempty"`     // databases
}

// Packet is one raw IP packet kept as evidence.
type Packet struct {
	Time time.Time
	Data []byte
	// OrigLen is the packet's length on the wire when Data holds only its
	// first bytes; 0 means len(Data).
	OrigLen int
}

// Event is one reported fact. Strings must be owned by the event (the
// packet path clones what aliases packet buffers); Labels maps are shared
// and read-only.
type Event struct {
	// Time is when it happened (the emitter sets it when zero); written in
	// RFC 3339 with nanoseconds, UTC.
	Time time.Time `json:"time"`
	// Node is set by the emitter.
	Node string `json:"node"`
	Type Type   `json:"type"`
	// FlowID identifies the flow (16 hex digits), for flow events.
	FlowID string   `json:"flow_id,omitempty"`
	Src    Endpoint `json:"src,omitzero"`
	Dst    Endpoint `json:"dst,omitzero"`
	// Proto is tcp, udp, icmp, icmpv6 or the IP protocol number.
	Proto string `json:"proto,omitempty"`
	App   string `json:"app,omitempty"`
	L7    L7     `json:"l7,omitzero"`
	// Mode is the effective mode of the flow, or a group's new mode.
	Mode string `json:"mode,omitempty"`
	// Verdict is what happened to the flow: allow, deny, inspect.
	Verdict string `json:"verdict,omitempty"`
	// Rule is the id of the rule that matched (allowed or, for a request,
	// the rule whose L7 conditions it failed).
	Rule string `json:"rule,omitempty"`
	// Reason says why, in words ("no rule allows it", "L7 wait exceeded").
	Reason string `json:"reason,omitempty"`
	// Group and From describe mode changes and promotions: the group and
	// its previous mode.
	Group string `json:"group,omitempty"`
	From  string `json:"from,omitempty"`
	// Message is a human summary (policy reloads: what is in force).
	Message string `json:"message,omitempty"`
	// Evidence is the pcapng file, relative to the evidence directory.
	Evidence string `json:"evidence,omitempty"`
	// Lost is the number of events lost (events_lost).
	Lost uint64 `json:"lost,omitempty"`

	// Packets are the connection's first packets; the writer stores them
	// as evidence (drop and violation events only) and does not emit them.
	Packets []Packet `json:"-"`
}

// FlowID formats a flow table id for Event.FlowID.
func FlowID(id uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[id&15]
		id >>= 4
	}
	return string(b[:])
}

// ParseFlowID is the inverse of FlowID.
func ParseFlowID(s string) (uint64, error) { return strconv.ParseUint(s, 16, 64) }
