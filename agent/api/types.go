package api

import (
	"net/netip"
	"time"

	"bulkhead.dev/bulkhead/agent/events"
)

// Check is one readiness condition.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Status is the agent's status (GET /v1/status).
type Status struct {
	Node        string     `json:"node"`
	Version     string     `json:"version"`
	Started     time.Time  `json:"started"`
	FailMode    string     `json:"fail_mode"`
	DefaultMode string     `json:"default_mode"`
	Queues      int        `json:"queues"`
	Ready       bool       `json:"ready"`
	Checks      []Check    `json:"checks"`
	Workloads   int        `json:"workloads"`
	Policy      PolicyInfo `json:"policy"`
	Flows       FlowStats  `json:"flows"`
	Events      EventStats `json:"events"`
	Dataplane   Dataplane  `json:"dataplane"`
}

// Dataplane says whether the agent's packet path is in place.
type Dataplane struct {
	Attached bool `json:"attached"`
	// Interfaces is the number of container veths attached.
	Interfaces int `json:"interfaces"`
	// Detail says why it is not attached, or how (e.g. the iptables backend).
	Detail string `json:"detail,omitempty"`
	// Counters are the packet path's counters while attached.
	Counters *PacketCounters `json:"counters,omitempty"`
}

// PacketCounters count what the packet path did since the agent started.
type PacketCounters struct {
	// Queued packets reached the agent; Accepted and Dropped by outcome.
	Queued   uint64 `json:"queued"`
	Accepted uint64 `json:"accepted"`
	Dropped  uint64 `json:"dropped"`
	// Verdicts by kind: accept, drop, allow, deny, inspect, inspect-all.
	Verdicts map[string]uint64 `json:"verdicts"`
	// Bad input and kernel trouble.
	DecodeErrors      uint64 `json:"decode_errors"`
	DeciderPanics     uint64 `json:"decider_panics"`
	VerdictErrors     uint64 `json:"verdict_errors"`
	Overruns          uint64 `json:"overruns"`
	KernelDropped     uint64 `json:"kernel_dropped"`
	KernelUserDropped uint64 `json:"kernel_user_dropped"`
	// Inspecting is the number of flows inspected now; the rest count
	// flows decided without their L7 attributes (inspection capacity
	// reached, wait exceeded, requests no longer parseable) and DNS
	// queries dropped for their name.
	Inspecting      int64  `json:"inspecting"`
	InspectionLimit uint64 `json:"inspection_limit"`
	WaitExceeded    uint64 `json:"wait_exceeded"`
	InspectionLost  uint64 `json:"inspection_lost"`
	DNSDropped      uint64 `json:"dns_dropped"`
}

// FlowStats are the flow table's counters.
type FlowStats struct {
	Active  int               `json:"active"`
	Limit   int               `json:"limit"`
	Created uint64            `json:"created"`
	Evicted map[string]uint64 `json:"evicted"`
}

// EventStats are the event emitter's counters.
type EventStats struct {
	Emitted     uint64 `json:"emitted"`
	Dropped     uint64 `json:"dropped"`
	Written     uint64 `json:"written"`
	WriteErrors uint64 `json:"write_errors"`
	Evidence    uint64 `json:"evidence"`
	Subscribers int    `json:"subscribers"`
}

// Workload is a local container and its identity (GET /v1/workloads).
type Workload struct {
	Name   string            `json:"name"`
	Kind   string            `json:"kind"`
	Source string            `json:"source"`
	Labels map[string]string `json:"labels,omitempty"`
	// Interface is the node-side veth.
	Interface string       `json:"interface"`
	NetNS     string       `json:"netns,omitempty"`
	Addrs     []netip.Addr `json:"addrs"`
	// Groups are the policy groups the workload belongs to, Mode its
	// effective mode.
	Groups []string `json:"groups,omitempty"`
	Mode   string   `json:"mode,omitempty"`
}

// Flow is one tracked flow (GET /v1/flows). Src is the client, Dst the
// server.
type Flow struct {
	ID      string          `json:"id"`
	Src     events.Endpoint `json:"src"`
	Dst     events.Endpoint `json:"dst"`
	Proto   string          `json:"proto"`
	App     string          `json:"app,omitempty"`
	Verdict string          `json:"verdict"`
	Mode    string          `json:"mode,omitempty"`
	Rule    string          `json:"rule,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	// State is the TCP state (opening, established, closing).
	State    string    `json:"state,omitempty"`
	Packets  uint64    `json:"packets"`
	Bytes    uint64    `json:"bytes"`
	Started  time.Time `json:"started"`
	LastSeen time.Time `json:"last_seen"`
}

// PolicyInfo summarises the policy in force.
type PolicyInfo struct {
	// Loaded is false when no policy was ever loaded (the agent runs with
	// an empty policy in the default mode).
	Loaded bool `json:"loaded"`
	// Source is the configured policy path; FromState says the policy came
	// from the state directory's last good copy.
	Source    string    `json:"source"`
	FromState bool      `json:"from_state,omitempty"`
	Files     []string  `json:"files"`
	Groups    int       `json:"groups"`
	Rules     int       `json:"rules"`
	LoadedAt  time.Time `json:"loaded_at,omitzero"`
	// Absent says why no policy is in force when the configured path holds
	// none: "no policy at PATH", or "no policy file (*.yaml, *.yml) in DIR".
	// The agent then runs the empty policy in the default mode.
	Absent string `json:"absent,omitempty"`
	// LastError is the error of the last refused reload, if it is more
	// recent than the policy in force.
	LastError string `json:"last_error,omitempty"`
}

// PolicySource is one source file of the policy in force.
type PolicySource struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// Policy is the policy in force (GET /v1/policy).
type Policy struct {
	PolicyInfo
	Sources []PolicySource `json:"sources"`
}

// ModeRequest is the body of PUT /v1/modes/{group}.
type ModeRequest struct {
	Mode string `json:"mode"`
}

// errorBody is the body of every error response.
type errorBody struct {
	Error string `json:"error"`
}
