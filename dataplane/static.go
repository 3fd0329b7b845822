package dataplane

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// PortRule names a transport protocol and destination port, e.g. tcp/6379.
type PortRule struct {
	Proto Proto
	Port  uint16
}

func (r PortRule) String() string { return r.Proto.String() + "/" + strconv.Itoa(int(r.Port)) }

// ParsePortRule parses "tcp/PORT" or "udp/PORT".
func ParsePortRule(s string) (PortRule, error) {
	proto, port, ok := strings.Cut(s, "/")
	if !ok {
		return PortRule{}, fmt.Errorf("dataplane: port rule %q: want PROTO/PORT, e.g. tcp/6379", s)
	}
	var r PortRule
	switch strings.ToLower(proto) {
	case "tcp":
		r.Proto = ProtoTCP
	case "udp":
		r.Proto = ProtoUDP
	default:
		return PortRule{}, fmt.Errorf("dataplane: port rule %q: protocol %q: want tcp or udp", s, proto)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return PortRule{}, fmt.Errorf("dataplane: port rule %q: port %q: want 1 to 65535", s, port)
	}
	r.Port = uint16(n)
	return r, nil
}

// StaticDecider decides from fixed rules, for the developer command, tests
// and benchmarks: connections to a Deny port are denied, every other
// connection is allowed (or, with InspectAll, allowed but every packet
// still queued). It is safe for concurrent use and never blocks.
type StaticDecider struct {
	Deny       []PortRule
	InspectAll bool
	// Logger, if set, logs each connection decision at debug level.
	Logger *slog.Logger
}

// Decide implements Decider.
func (s *StaticDecider) Decide(p *Packet) Verdict {
	switch p.Conn {
	case ConnDenied:
		// A DNS packet of a denied connection (DNS is always queued).
		return Drop
	case ConnAllowed, ConnInspected:
		// DNS of an allowed connection, or an inspected packet.
		return Accept
	}
	v := Allow
	if s.InspectAll {
		v = Inspect
	}
	for _, r := range s.Deny {
		if p.Proto == r.Proto && p.DstPort == r.Port {
			v = Deny
			break
		}
	}
	if s.Logger != nil && s.Logger.Enabled(context.Background(), slog.LevelDebug) {
		s.Logger.Debug("dataplane: decision", "verdict", v.String(), "proto", p.Proto.String(),
			"src", p.Src, "sport", p.SrcPort, "dst", p.Dst, "dport", p.DstPort, "queue", p.Queue)
	}
	return v
}
