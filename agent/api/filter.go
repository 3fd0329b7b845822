package api

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
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

// ParseFlowFilter reads a filter from URL query parameters.
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
