package policy

import (
	"bulkhead.dev/bulkhead/l7"
)

// Flow is what Evaluate decides about: one connection (or one request of
// it). The agent builds it once per connection and fills App and Request as
// the l7 engine learns them.
type Flow struct {
	Src, Dst Endpoint
	Proto    l7.Transport
	Port     uint16 // the destination (server) port
	// AppKnown is false until app detection has finished; App is then the
	// detected app (l7.Unknown when no detector recognised the traffic).
	AppKnown bool
	App      l7.App
	// Request is the request to check, or nil before the first one; it is
	// considered only once AppKnown is set. Its strings are only read during
	// the call (but see Reason.Value).
	Request *l7.Request
}

// Verdict is the policy's answer about a flow, whatever the mode.
type Verdict uint8

const (
	// Violation: no rule allows the flow (or the request).
	Violation Verdict = iota
	// Allowed: a rule allows it.
	Allowed
	// Pending: rules that might allow it depend on what Need says; ask
	// again when it is known.
	Pending
)

func (v Verdict) String() string {
	return [...]string{"violation", "allowed", "pending"}[v]
}

// Need is what a Pending decision waits for.
type Need uint8

const (
	NeedNothing Need = iota
	// NeedApp: the app must be detected (AppKnown).
	NeedApp
	// NeedRequest: the first request must be parsed (Request).
	NeedRequest
)

func (n Need) String() string {
	return [...]string{"nothing", "app", "request"}[n]
}

// Decision is Evaluate's answer. It holds no pointer into the flow except
// Reason.Value.
type Decision struct {
	Verdict Verdict
	// Need says what a Pending verdict waits for; NeedNothing otherwise, and
	// then the answer is final for the connection unless PerRequest.
	Need Need
	// PerRequest is true when the connection is (or may only be) allowed by
	// rules with L7 conditions: every request on it must be evaluated, for
	// the whole life of the connection.
	PerRequest bool
	// Mode is the effective mode: the most enforcing mode among the groups
	// of the flow's local endpoints (the default mode when none is local or
	// a local endpoint is in no group).
	Mode Mode
	// Rule is the ID of the rule that allowed the flow, or of the rule the
	// reason refers to; "" when none.
	Rule   string
	Reason Reason
}

// Drop reports whether the agent must drop the flow: a violation in
// protect mode.
func (d *Decision) Drop() bool { return d.Verdict == Violation && d.Mode == ModeProtect }

// Report reports whether the flow is a violation to report: a violation in
// monitor or protect mode (learn mode reports nothing).
func (d *Decision) Report() bool { return d.Verdict == Violation && d.Mode >= ModeMonitor }

// evalState accumulates the candidate rules of one evaluation. Rule indexes
// are -1 when unset.
type evalState struct {
	allow, l7allow, needApp, needReq, l7deny, appDeny int32
	failed                                            Attr
	pairSeen                                          bool
}

// Evaluate decides about a flow. It does not allocate (unless an endpoint
// was classified by another plan) and is safe for concurrent use.
func (p *Plan) Evaluate(f *Flow) Decision {
	c := p.c
	src, dst := f.Src.info, f.Dst.info
	if src != nil && src.c != c {
		src = p.Refresh(f.Src).info
	}
	if dst != nil && dst.c != c {
		dst = p.Refresh(f.Dst).info
	}
	st := evalState{allow: -1, l7allow: -1, needApp: -1, needReq: -1, l7deny: -1, appDeny: -1}
	if src != nil && dst != nil {
	pairs:
		for _, s := range src.groups {
			out := c.out[s]
			if len(out) == 0 {
				continue
			}
			for _, d := range dst.groups {
				bi, ok := bucketOf(out, d)
				if !ok {
					continue
				}
				st.pairSeen = true
				b := &c.buckets[bi]
				if b.byPort != nil {
					for _, ri := range b.byPort[portKey(f.Proto, f.Port)] {
						st.consider(c, ri, f)
					}
					for _, ri := range b.wide {
						st.consider(c, ri, f)
					}
				} else {
					for _, ri := range b.rules {
						st.consider(c, ri, f)
					}
				}
				if st.allow >= 0 {
					break pairs
				}
			}
		}
	}
	d := Decision{Mode: p.flowMode(src, dst)}
	d.Reason.From, d.Reason.To = label(src), label(dst)
	d.Reason.Proto, d.Reason.Port, d.Reason.App = f.Proto, f.Port, f.App
	ruleOf := func(ri int32, code ReasonCode) {
		d.Rule = c.rules[ri].id
		d.Reason.Code, d.Reason.Rule = code, d.Rule
		d.Reason.Kind = c.rules[ri].kind
	}
	switch {
	case st.allow >= 0:
		d.Verdict = Allowed
		ruleOf(st.allow, ReasonAllowed)
	case st.l7allow >= 0:
		d.Verdict, d.PerRequest = Allowed, true
		ruleOf(st.l7allow, ReasonAllowedRequest)
	case st.needApp >= 0:
		d.Verdict, d.Need = Pending, NeedApp
		ruleOf(st.needApp, ReasonNeedApp)
	case st.needReq >= 0:
		d.Verdict, d.Need, d.PerRequest = Pending, NeedRequest, true
		ruleOf(st.needReq, ReasonNeedRequest)
	case st.l7deny >= 0:
		d.Verdict, d.PerRequest = Violation, true
		ruleOf(st.l7deny, ReasonRequest)
		d.Reason.Attr = st.failed
		d.Reason.Value = st.failed.Value(f.Request)
	case st.appDeny >= 0:
		d.Verdict = Violation
		ruleOf(st.appDeny, ReasonApp)
	case st.pairSeen:
		d.Verdict, d.Reason.Code = Violation, ReasonPort
	default:
		d.Verdict, d.Reason.Code = Violation, ReasonNoRule
	}
	return d
}

// consider folds rule ri into the state.
func (st *evalState) consider(c *core, ri int32, f *Flow) {
	r := &c.rules[ri]
	if !r.allowsPort(f.Proto, f.Port) {
		return
	}
	if !r.anyApp {
		if !f.AppKnown {
			setFirst(&st.needApp, ri)
			return
		}
		if !appMatches(r.app, f.App) {
			setFirst(&st.appDeny, ri)
			return
		}
	}
	if r.kind == KindNone {
		setFirst(&st.allow, ri)
		return
	}
	if f.Request == nil {
		setFirst(&st.needReq, ri)
		return
	}
	ok, failed := r.matchRequest(f.Request)
	if ok {
		setFirst(&st.l7allow, ri)
		return
	}
	if st.l7deny < 0 {
		st.l7deny, st.failed = ri, failed
	}
}

func setFirst(slot *int32, ri int32) {
	if *slot < 0 {
		*slot = ri
	}
}

func label(e *endpointInfo) string {
	if e == nil {
		return "unknown endpoint"
	}
	return e.label
}

// flowMode is the most enforcing mode among the local endpoints' groups.
func (p *Plan) flowMode(src, dst *endpointInfo) Mode {
	m := ModeUnset
	for _, e := range [2]*endpointInfo{src, dst} {
		if e != nil && e.local {
			m = max(m, p.endpointMode(e))
		}
	}
	if m == ModeUnset {
		return p.def
	}
	return m
}

func (p *Plan) endpointMode(e *endpointInfo) Mode {
	m := ModeUnset
	for _, g := range e.groups {
		gm := p.modes[g]
		if gm == ModeUnset {
			gm = p.def
		}
		m = max(m, gm)
	}
	if m == ModeUnset {
		return p.def
	}
	return m
}

// appMatches reports whether a rule's app allows a flow's app: the same app,
// or HTTP/2 under a rule for http (HTTP/1.x and HTTP/2 carry the same
// requests).
func appMatches(rule, flow l7.App) bool {
	return rule == flow || rule == l7.HTTP && flow == l7.HTTP2
}
