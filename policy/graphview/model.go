package graphview

import "time"

// ViewVersion is the version of the view model's JSON form (WriteJSON).
const ViewVersion = 1

// Graph is the view model: what every renderer draws. Nodes are sorted by
// kind, then name; edges by source, then destination node (in node order).
type Graph struct {
	Version int `json:"version"`
	// Verdicts is true when the input carried verdict counts; otherwise
	// every edge is StatusLearned.
	Verdicts bool   `json:"verdicts"`
	Nodes    []Node `json:"nodes"`
	Edges    []Edge `json:"edges"`
}

// NodeKind says what a node stands for.
type NodeKind string

// The kinds of node, in their sort order.
const (
	KindWorkload NodeKind = "workload" // a workload, by name
	KindHost     NodeKind = "host"     // the node itself
	KindFQDN     NodeKind = "fqdn"     // external names: one name, or "*.domain" for several
	KindCIDR     NodeKind = "cidr"     // several external addresses of one /24 (IPv4) or /64 (IPv6)
	KindAddr     NodeKind = "addr"     // one external address with no name
	KindWorld    NodeKind = "world"    // every other external peer
)

var kindOrder = map[NodeKind]int{KindWorkload: 0, KindHost: 1, KindFQDN: 2, KindCIDR: 3, KindAddr: 4, KindWorld: 5}

// Node is one box of the picture.
type Node struct {
	// ID is unique and stable: KIND:NAME ("workload:api", "fqdn:*.example.com",
	// "cidr:198.18.64.0/24", "addr:198.19.0.10"), or "host" and "world".
	// Bytes of the name outside letters, digits and -._~*@+/: are written
	// %XX, so an ID is always printable ASCII without quotes or backslashes.
	ID   string   `json:"id"`
	Kind NodeKind `json:"kind"`
	// Name is what the picture shows: the workload name, the FQDN pattern,
	// the prefix or address, "host" or "world".
	Name string `json:"name"`
	// Labels are a workload's labels.
	Labels map[string]string `json:"labels,omitempty"`
	// Members are what an external node stands for: the names of an FQDN
	// group, the addresses of a CIDR group, the addresses and names folded
	// into world; sorted, at most MaxMembers, the rest counted in
	// MembersMore.
	Members     []string `json:"members,omitempty"`
	MembersMore int      `json:"membersMore,omitempty"`
}

// Status is the outcome that colours an edge or a service.
type Status string

// The statuses, from least to most severe.
const (
	// StatusLearned: seen while learning, and no verdict was counted for it
	// (no verdicts in the input, or none for this edge). Grey.
	StatusLearned Status = "learned"
	// StatusAllowed: every counted connection was allowed. Green.
	StatusAllowed Status = "allowed"
	// StatusReported: some connections broke the policy and were let through
	// and reported (monitor mode). Orange.
	StatusReported Status = "reported"
	// StatusDenied: some connections broke the policy and were dropped
	// (protect mode). Red.
	StatusDenied Status = "denied"
)

// Tally counts connections by verdict (the agent's bulkhead_connections_total
// verdicts).
type Tally struct {
	Allowed  uint64 `json:"allowed"`
	Reported uint64 `json:"reported"`
	Denied   uint64 `json:"denied"`
}

// Total is the number of connections counted.
func (t Tally) Total() uint64 { return t.Allowed + t.Reported + t.Denied }

func (t *Tally) add(o Tally) {
	t.Allowed += o.Allowed
	t.Reported += o.Reported
	t.Denied += o.Denied
}

// Status returns the most severe outcome counted: denied, then reported,
// then allowed; StatusLearned when nothing was counted.
func (t Tally) Status() Status {
	switch {
	case t.Denied > 0:
		return StatusDenied
	case t.Reported > 0:
		return StatusReported
	case t.Allowed > 0:
		return StatusAllowed
	}
	return StatusLearned
}

// Edge is every service one node used on another.
type Edge struct {
	Src string `json:"src"` // node ID of the client side
	Dst string `json:"dst"` // node ID of the server side
	// Services are the (protocol, app) pairs of the edge with their ports,
	// sorted by protocol, then app.
	Services []Service `json:"services"`
	// Count is the number of flows learned (Σ Services[].Count).
	Count uint64 `json:"count"`
	// FirstSeen and LastSeen span the learned flows and counted verdicts
	// (absent when neither carried a time).
	FirstSeen time.Time `json:"firstSeen,omitzero"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
	// Verdicts sums the services' verdict counts; Status is its most severe
	// outcome.
	Verdicts Tally  `json:"verdicts"`
	Status   Status `json:"status"`
}

// Service is one (protocol, app) of an edge.
type Service struct {
	Proto string `json:"proto"` // "tcp" or "udp"
	// Ports are the server ports in the policy syntax without the protocol:
	// "8080", "8000-8002", "any" (consecutive ports join into a range; past
	// 8 distinct ports they collapse into one range or "any").
	Ports []string `json:"ports"`
	App   string   `json:"app"`
	// L7 summarises the requests seen, most frequent first: "GET /users/{id}",
	// "GET,SET", "*.example.com". It is capped in length (Options.MaxL7Len);
	// L7More counts the items left out, and L7Incomplete is set when the
	// learned graph itself kept only some of the values.
	L7           []string  `json:"l7,omitempty"`
	L7More       int       `json:"l7More,omitempty"`
	L7Incomplete bool      `json:"l7Incomplete,omitempty"`
	Count        uint64    `json:"count"`
	FirstSeen    time.Time `json:"firstSeen,omitzero"`
	LastSeen     time.Time `json:"lastSeen,omitzero"`
	Verdicts     Tally     `json:"verdicts"`
	Status       Status    `json:"status"`
}

// PortText is the service's protocol and ports: "tcp/8080", "udp/53",
// "tcp/80,443".
func (s *Service) PortText() string {
	out := s.Proto + "/"
	for i, p := range s.Ports {
		if i > 0 {
			out += ","
		}
		out += p
	}
	return out
}

// Node returns the node with the given ID, or nil.
func (g *Graph) Node(id string) *Node {
	for i := range g.Nodes {
		if g.Nodes[i].ID == id {
			return &g.Nodes[i]
		}
	}
	return nil
}
