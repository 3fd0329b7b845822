package api

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/l7"
)

// Limits of GET /v1/flows.
const (
	DefaultFlowLimit = 100
	MaxFlowLimit     = 10000
)

// FlowFilter selects flows. Empty fields match everything.
type FlowFilter struct {
	// Src and Dst match the client and the server: a workload name, an IP
	// address or a CIDR.
	Src, Dst string
	// Workload matches either side by workload name.
	Workload string
	App      string
	Verdict  string
	// Port matches the server's port.
	Port  uint16
	Limit int

	src, dst endpointMatcher
}

type endpointMatcher struct {
	name   string
	prefix netip.Prefix
}

func (m endpointMatcher) match(workload string, ip netip.Addr) bool {
	if m.prefix.IsValid() {
		return ip.IsValid() && m.prefix.Contains(ip.Unmap())
	}
	return m.name == "" || m.name == workload
}

func parseEndpoint(s string) endpointMatcher {
	if s == "" {
		return endpointMatcher{}
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return endpointMatcher{prefix: p.Masked()}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return endpointMatcher{prefix: netip.PrefixFrom(a, a.BitLen())}
	}
	return endpointMatcher{name: s}
}

// FlowVerdicts are the values of Flow.Verdict, and so of the verdict
// filter: the flow table's verdicts (a test in package agent keeps the two
// lists in step).
var FlowVerdicts = []string{"undecided", "allow", "deny", "inspect"}

// FlowApps returns the values of the app filter: the names of the
// applications the L7 engine identifies (Flow.App).
func FlowApps() []string {
	apps := l7.Apps()
	out := make([]string, len(apps))
	for i, a := range apps {
		out[i] = a.String()
	}
	return out
}

// Check reports a filter value no flow can have: an unknown verdict or
// app (a filter that would silently match nothing), a limit out of range.
// The error names the value and the values allowed. ParseFlowFilter
// checks; clients call it to refuse a bad command line before asking.
func (f *FlowFilter) Check() error {
	for _, e := range [...]struct{ name, v string }{{"src", f.Src}, {"dst", f.Dst}} {
		// Workload names have neither '/' nor ':'; addresses and CIDRs
		// that do not parse would match nothing.
		if strings.ContainsAny(e.v, "/:") && parseEndpoint(e.v).name != "" {
			return fmt.Errorf("bad %s %q: not a workload name, IP address or CIDR", e.name, e.v)
		}
	}
	if v := f.Verdict; v != "" && !slices.Contains(FlowVerdicts, v) {
		return fmt.Errorf("unknown verdict %q (want %s)", v, strings.Join(FlowVerdicts, ", "))
	}
	if a := f.App; a != "" {
		if _, ok := l7.ParseApp(a); !ok || a == l7.Unknown.String() {
			return fmt.Errorf("unknown app %q (want %s)", a, strings.Join(FlowApps(), ", "))
		}
	}
	if f.Limit < 0 || f.Limit > MaxFlowLimit {
		return fmt.Errorf("bad limit %d (want 1-%d)", f.Limit, MaxFlowLimit)
	}
	return nil
}

// ParseFlowFilter reads a filter from URL query parameters. An unknown
// parameter, or a value no flow can have, is an error naming it and what
// is allowed.
func ParseFlowFilter(q url.Values) (FlowFilter, error) {
	for k := range q {
		switch k {
		case "src", "dst", "workload", "app", "verdict", "port", "limit":
		default:
			return FlowFilter{}, fmt.Errorf("unknown filter %q (want src, dst, workload, app, verdict, port, limit)", k)
		}
	}
	f := FlowFilter{
		Src: q.Get("src"), Dst: q.Get("dst"), Workload: q.Get("workload"),
		App: strings.ToLower(q.Get("app")), Verdict: strings.ToLower(q.Get("verdict")),
		Limit: DefaultFlowLimit,
	}
	if err := f.Check(); err != nil {
		return FlowFilter{}, err
	}
	if s := q.Get("port"); s != "" {
		p, err := strconv.ParseUint(s, 10, 16)
		if err != nil || p == 0 {
			return FlowFilter{}, fmt.Errorf("bad port %q (want 1-65535)", s)
		}
		f.Port = uint16(p)
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxFlowLimit {
			return FlowFilter{}, fmt.Errorf("bad limit %q (want 1-%d)", s, MaxFlowLimit)
		}
		f.Limit = n
	}
	f.compile()
	return f, nil
}

func (f *FlowFilter) compile() {
	f.src, f.dst = parseEndpoint(f.Src), parseEndpoint(f.Dst)
}

// Query returns the filter as URL query parameters (the client's side).
func (f FlowFilter) Query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"src": f.Src, "dst": f.Dst, "workload": f.Workload, "app": f.App, "verdict": f.Verdict} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Port != 0 {
		q.Set("port", strconv.Itoa(int(f.Port)))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// Match reports whether fl passes the filter (Limit aside). It is safe for
// concurrent use.
func (f *FlowFilter) Match(fl *Flow) bool {
	src, dst := f.src, f.dst
	if f.Src != "" && src == (endpointMatcher{}) { // a filter built by hand
		src = parseEndpoint(f.Src)
	}
	if f.Dst != "" && dst == (endpointMatcher{}) {
		dst = parseEndpoint(f.Dst)
	}
	switch {
	case !src.match(fl.Src.Workload, fl.Src.IP), !dst.match(fl.Dst.Workload, fl.Dst.IP):
		return false
	case f.Workload != "" && fl.Src.Workload != f.Workload && fl.Dst.Workload != f.Workload:
		return false
	case f.App != "" && fl.App != f.App:
		return false
	case f.Verdict != "" && fl.Verdict != f.Verdict:
		return false
	case f.Port != 0 && fl.Dst.Port != f.Port:
		return false
	}
	return true
}

// parseEventsQuery reads the parameters of GET /v1/events: follow (1 or 0),
// limit (≥ 0, default 100) and type (comma-separated event types). An
// unknown parameter or value is an error naming it and what is allowed.
func parseEventsQuery(q url.Values) (follow bool, limit int, types map[events.Type]bool, err error) {
	for k := range q {
		switch k {
		case "follow", "limit", "type":
		default:
			return false, 0, nil, fmt.Errorf("unknown parameter %q (want follow, limit, type)", k)
		}
	}
	switch v := q.Get("follow"); v {
	case "", "0", "false":
	case "1", "true":
		follow = true
	default:
		return false, 0, nil, fmt.Errorf("bad follow %q (want 1 or 0)", v)
	}
	limit = 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return false, 0, nil, fmt.Errorf("bad limit %q (want a number ≥ 0; 0: every recent event)", v)
		}
		limit = n
	}
	types = map[events.Type]bool{}
	if v := q.Get("type"); v != "" {
		for _, t := range strings.Split(v, ",") {
			if err := CheckEventType(t); err != nil {
				return false, 0, nil, err
			}
			types[events.Type(t)] = true
		}
	}
	return follow, limit, types, nil
}

// CheckEventType reports an unknown event type, naming it and the types
// there are (for the type parameter of GET /v1/events and the CLI's
// --type).
func CheckEventType(t string) error {
	known := events.Types()
	if slices.Contains(known, events.Type(t)) {
		return nil
	}
	names := make([]string, len(known))
	for i, k := range known {
		names[i] = string(k)
	}
	return fmt.Errorf("unknown event type %q (want %s)", t, strings.Join(names, ", "))
}
