package metrics

import "strconv"

// Verdict is what the agent answered the kernel for one queued packet.
type Verdict uint8

// The verdict kinds, label values of bulkhead_verdicts_total.
const (
	// VerdictAccept lets this packet through; the connection stays undecided
	// and its next packets are queued again.
	VerdictAccept Verdict = iota
	// VerdictDrop drops this packet; the connection stays undecided.
	VerdictDrop
	// VerdictAllowConn accepts the packet and marks the connection allowed:
	// the kernel carries the rest.
	VerdictAllowConn
	// VerdictDenyConn drops the packet and marks the connection denied: the
	// kernel drops (or resets) the rest.
	VerdictDenyConn
	// VerdictInspectConn accepts the packet and marks the connection allowed
	// but still inspected: every later request is checked (L7 rules).
	VerdictInspectConn
	// NumVerdicts is the number of verdict kinds.
	NumVerdicts
)

var verdictNames = [NumVerdicts]string{
	VerdictAccept:      "accept",
	VerdictDrop:        "drop",
	VerdictAllowConn:   "allow_conn",
	VerdictDenyConn:    "deny_conn",
	VerdictInspectConn: "inspect_conn",
}

// String returns the label value of the verdict, e.g. "allow_conn".
func (v Verdict) String() string { return enumLabel(v, verdictNames[:]) }

// enumLabel returns the label value of an enum value: names[v], or
// "unknown" for a value past the end.
func enumLabel[T ~uint8](v T, names []string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return LabelUnknown
}

// EdgeVerdict is the outcome of a connection in the communication graph.
type EdgeVerdict uint8

// The outcomes of a connection, label values of bulkhead_connections_total.
const (
	// EdgeAllowed: a rule allowed the connection, or its group is in learn
	// mode.
	EdgeAllowed EdgeVerdict = iota
	// EdgeReported: no rule allowed it; the group is in monitor mode, so it
	// went through and was reported.
	EdgeReported
	// EdgeDenied: no rule allowed it and it was dropped (protect mode).
	EdgeDenied
	numEdgeVerdicts
)

var edgeVerdictNames = [numEdgeVerdicts]string{
	EdgeAllowed:  "allowed",
	EdgeReported: "reported",
	EdgeDenied:   "denied",
}

// String returns the label value of the outcome, e.g. "denied".
func (v EdgeVerdict) String() string { return enumLabel(v, edgeVerdictNames[:]) }

// EvictReason says why a flow left the flow table.
type EvictReason uint8

// The eviction reasons, label values of bulkhead_flows_evicted_total.
const (
	// EvictIdle: no packet for the protocol's idle timeout.
	EvictIdle EvictReason = iota
	// EvictCapacity: the table was full and the least recently used flow
	// made room for a new one.
	EvictCapacity
	// EvictClosed: the connection ended (TCP FIN or RST).
	EvictClosed
	// EvictEndpointGone: the container (its veth) disappeared.
	EvictEndpointGone
	numEvictReasons
)

var evictReasonNames = [numEvictReasons]string{
	EvictIdle:         "idle",
	EvictCapacity:     "capacity",
	EvictClosed:       "closed",
	EvictEndpointGone: "endpoint_gone",
}

// String returns the label value of the reason, e.g. "idle".
func (r EvictReason) String() string { return enumLabel(r, evictReasonNames[:]) }

// ViolationReason says why no rule allowed a flow or a request. The set is
// closed so that the reason label stays bounded; the event carries the
// detailed text.
type ViolationReason uint8

// The violation reasons, label values of bulkhead_policy_violations_total.
const (
	// ReasonNoRule: no rule allows this source, destination and port.
	ReasonNoRule ViolationReason = iota
	// ReasonApp: rules allow the peers and port, but not this application
	// protocol.
	ReasonApp
	// ReasonL7: the rule for this connection has L7 conditions (HTTP path,
	// gRPC method, Redis command…) that the request does not meet.
	ReasonL7
	// ReasonDNSName: a DNS query for a name the policy does not allow.
	ReasonDNSName
	// ReasonInspectionLimit: the L7 attributes a rule needs were not seen
	// within the bounded wait; the configured default verdict applied.
	ReasonInspectionLimit
	// ReasonMalformed: the packet could not be decoded.
	ReasonMalformed
	numViolationReasons
)

var violationReasonNames = [numViolationReasons]string{
	ReasonNoRule:          "no_rule",
	ReasonApp:             "app",
	ReasonL7:              "l7",
	ReasonDNSName:         "dns_name",
	ReasonInspectionLimit: "inspection_limit",
	ReasonMalformed:       "malformed",
}

// String returns the label value of the reason, e.g. "no_rule".
func (r ViolationReason) String() string { return enumLabel(r, violationReasonNames[:]) }

// The modes of a policy group (docs/architecture.md). Any other string is
// counted as modeUnknown so that the mode label stays bounded.
const (
	ModeLearn   = "learn"
	ModeMonitor = "monitor"
	ModeProtect = "protect"
	modeUnknown = "unknown"
)

// modeLabels are the values of the mode label.
var modeLabels = [...]string{ModeLearn, ModeMonitor, ModeProtect, modeUnknown}

const numModes = len(modeLabels)

// modeLabel returns the label value of a mode without allocating.
func modeLabel(mode string) string {
	switch mode {
	case ModeLearn, ModeMonitor, ModeProtect:
		return mode
	}
	return modeUnknown
}

// protoClass is the bounded label value of an IP protocol number.
type protoClass uint8

const (
	protoTCP protoClass = iota
	protoUDP
	protoICMP
	protoICMPv6
	protoSCTP
	protoOther
	numProtoClasses
)

var protoNames = [numProtoClasses]string{
	protoTCP:    "tcp",
	protoUDP:    "udp",
	protoICMP:   "icmp",
	protoICMPv6: "icmpv6",
	protoSCTP:   "sctp",
	protoOther:  "other",
}

// classifyProto maps an IP protocol number (6 = TCP, 17 = UDP…) to its
// label class.
func classifyProto(ipProto uint8) protoClass {
	switch ipProto {
	case 6:
		return protoTCP
	case 17:
		return protoUDP
	case 1:
		return protoICMP
	case 58:
		return protoICMPv6
	case 132:
		return protoSCTP
	}
	return protoOther
}

// The HTTP methods counted by name; any other method counts as OTHER.
var httpMethods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER"}

// HTTPMethod is an HTTP method as bulkhead_http_requests_total counts it:
// one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH, or
// OTHER. It fits in a byte, so that a flow can keep the methods of the
// requests waiting for their responses without holding strings.
type HTTPMethod uint8

const httpMethodOther HTTPMethod = HTTPMethod(len(httpMethods) - 1)

// ParseHTTPMethod returns the HTTPMethod of method (OTHER for an unknown or
// lowercase method) without allocating.
func ParseHTTPMethod(method string) HTTPMethod {
	for i, m := range httpMethods[:httpMethodOther] {
		if m == method {
			return HTTPMethod(i)
		}
	}
	return httpMethodOther
}

func (m HTTPMethod) String() string { return httpMethods[min(m, httpMethodOther)] }

// The HTTP status classes; "none" means no response was seen (the request
// was dropped, or the connection closed first) and "other" a status outside
// 100–599.
var httpStatusClasses = [...]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// httpStatusClassIndex returns the index of status in httpStatusClasses.
func httpStatusClassIndex(status int) int {
	switch {
	case status == 0:
		return 0
	case status >= 100 && status <= 599:
		return status / 100
	}
	return len(httpStatusClasses) - 1
}

// dnsRcodeNames holds the names of the DNS response codes 0–23 (IANA "DNS
// RCODEs"); any other code counts as "OTHER". Code 16 is BADSIG in
// responses carrying a TSIG and BADVERS otherwise; it is named BADVERS.
var dnsRcodeNames = [...]string{
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI",
	"RCODE12", "RCODE13", "RCODE14", "RCODE15",
	"BADVERS", "BADKEY", "BADTIME", "BADMODE", "BADNAME", "BADALG", "BADTRUNC", "BADCOOKIE",
	"OTHER",
}

const dnsRcodeOther = len(dnsRcodeNames) - 1

// dnsRcodeIndex returns the index of rcode in dnsRcodeNames.
func dnsRcodeIndex(rcode int) int {
	if rcode >= 0 && rcode < dnsRcodeOther {
		return rcode
	}
	return dnsRcodeOther
}

// portLabel renders a destination port label value; 0 (ICMP, or a protocol
// without ports) is "0".
func portLabel(port uint16) string { return strconv.Itoa(int(port)) }
