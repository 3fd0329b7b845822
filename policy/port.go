package policy

import (
	"fmt"
	"strconv"
	"strings"

	"bulkhead.dev/bulkhead/l7"
)

// PortRange is one entry of a rule's ports: a transport protocol and an
// inclusive range of destination ports. Proto 0 means any protocol.
type PortRange struct {
	Proto  l7.Transport // l7.TCP, l7.UDP, or 0 for any
	Lo, Hi uint16       // 1..65535, Lo <= Hi
}

// AnyPort allows every port of every protocol.
var AnyPort = PortRange{Lo: 1, Hi: 65535}

// ParsePort parses a port entry: "tcp/8080", "udp/53", "tcp/8000-8080",
// "tcp/any", "udp/any" or "any".
func ParsePort(s string) (PortRange, error) {
	if s == "any" {
		return AnyPort, nil
	}
	proto, rest, ok := strings.Cut(s, "/")
	if !ok {
		return PortRange{}, fmt.Errorf("bad port %q: want PROTO/PORT, PROTO/LOW-HIGH, PROTO/any or any", s)
	}
	var r PortRange
	switch proto {
	case "tcp":
		r.Proto = l7.TCP
	case "udp":
		r.Proto = l7.UDP
	default:
		return PortRange{}, fmt.Errorf("bad port %q: protocol %q is not tcp or udp", s, proto)
	}
	if rest == "any" {
		r.Lo, r.Hi = 1, 65535
		return r, nil
	}
	lo, hi, isRange := strings.Cut(rest, "-")
	var err error
	if r.Lo, err = parsePortNumber(lo); err != nil {
		return PortRange{}, fmt.Errorf("bad port %q: %w", s, err)
	}
	r.Hi = r.Lo
	if isRange {
		if r.Hi, err = parsePortNumber(hi); err != nil {
			return PortRange{}, fmt.Errorf("bad port %q: %w", s, err)
		}
		if r.Hi < r.Lo {
			return PortRange{}, fmt.Errorf("bad port %q: range %d-%d is empty", s, r.Lo, r.Hi)
		}
	}
	return r, nil
}

func parsePortNumber(s string) (uint16, error) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	n, _ := strconv.Atoi(s)
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range 1-65535", n)
	}
	return uint16(n), nil
}

// String returns the range in the syntax ParsePort reads.
func (r PortRange) String() string {
	var proto string
	switch r.Proto {
	case 0:
		if r.Lo <= 1 && r.Hi == 65535 {
			return "any"
		}
		proto = "any"
	case l7.TCP:
		proto = "tcp"
	case l7.UDP:
		proto = "udp"
	default:
		proto = strconv.Itoa(int(r.Proto))
	}
	switch {
	case r.Lo <= 1 && r.Hi == 65535:
		return proto + "/any"
	case r.Lo == r.Hi:
		return proto + "/" + strconv.Itoa(int(r.Lo))
	default:
		return proto + "/" + strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
	}
}

// Contains reports whether the range allows port on protocol proto.
func (r PortRange) Contains(proto l7.Transport, port uint16) bool {
	return (r.Proto == 0 || r.Proto == proto) && port >= r.Lo && port <= r.Hi
}

// Covers reports whether r allows every port that o allows.
func (r PortRange) Covers(o PortRange) bool {
	return (r.Proto == 0 || r.Proto == o.Proto) && r.Lo <= o.Lo && r.Hi >= o.Hi
}

// Single reports whether the range is one port of one protocol.
func (r PortRange) Single() bool { return r.Proto != 0 && r.Lo == r.Hi }

// ComparePorts orders ranges by protocol, then low port, then high port.
func ComparePorts(a, b PortRange) int {
	switch {
	case a.Proto != b.Proto:
		return int(a.Proto) - int(b.Proto)
	case a.Lo != b.Lo:
		return int(a.Lo) - int(b.Lo)
	default:
		return int(a.Hi) - int(b.Hi)
	}
}
