package policy

import (
	"fmt"

	"bulkhead.dev/bulkhead/l7"
)

// ReasonCode says why a decision came out as it did.
type ReasonCode uint8

// The reasons.
const (
	ReasonNoRule         ReasonCode = iota // no rule between the two endpoints' groups
	ReasonPort                             // rules between the groups, none for this port
	ReasonApp                              // rules for this port, none for this app
	ReasonRequest                          // the request fails the rule's L7 conditions
	ReasonNeedApp                          // waiting for app detection
	ReasonNeedRequest                      // waiting for the first request
	ReasonAllowed                          // allowed by a rule (no L7 condition)
	ReasonAllowedRequest                   // the request is allowed by a rule's L7 conditions
)

// Reason explains a decision. Building it does not allocate; String
// formats it.
type Reason struct {
	Code     ReasonCode
	Rule     string // the rule concerned, "" for ReasonNoRule and ReasonPort
	From, To string // labels of the endpoints
	Proto    l7.Transport
	Port     uint16
	App      l7.App
	Kind     L7Kind // the rule's L7 kind (ReasonRequest, ReasonNeedRequest)
	Attr     Attr   // ReasonRequest: the attribute that failed
	// Value is the failing attribute's value in the request (ReasonRequest).
	// It shares memory with the l7.Request: call String, or copy it, before
	// the request's buffers are reused.
	Value string
}

// String formats the reason, e.g. "no rule from frontend to db allows
// tcp/6379" or "http path /admin not allowed by rule api-ingress".
func (r Reason) String() string {
	port := PortRange{Proto: r.Proto, Lo: r.Port, Hi: r.Port}.String()
	switch r.Code {
	case ReasonNoRule:
		return fmt.Sprintf("no rule from %s to %s", r.From, r.To)
	case ReasonPort:
		return fmt.Sprintf("no rule from %s to %s allows %s", r.From, r.To, port)
	case ReasonApp:
		return fmt.Sprintf("app %s not allowed from %s to %s on %s (rule %s allows another app)", r.App, r.From, r.To, port, r.Rule)
	case ReasonRequest:
		return fmt.Sprintf("%s %s %q not allowed by rule %s", r.Kind, r.Kind.Key(r.Attr), r.Value, r.Rule)
	case ReasonNeedApp:
		return fmt.Sprintf("waiting for app detection (rule %s allows one app on %s)", r.Rule, port)
	case ReasonNeedRequest:
		return fmt.Sprintf("waiting for the first %s request (rule %s has %s conditions)", r.Kind, r.Rule, r.Kind)
	case ReasonAllowed:
		return "allowed by rule " + r.Rule
	case ReasonAllowedRequest:
		return fmt.Sprintf("%s request allowed by rule %s", r.Kind, r.Rule)
	}
	return fmt.Sprintf("reason(%d)", r.Code)
}
