package dataplane

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// PortRule names a transport protocol and destination port, e.g. tcp/6379,
// or a whole protocol without ports (Port 0), e.g. icmp.
type PortRule struct {
	Proto Proto
	Port  uint16 // 0: every packet of Proto (ICMP and ICMPv6 only)
}

func (r PortRule) String() string {
	if r.Port == 0 {
		return r.Proto.String()
	}
	return r.Proto.String() + "/" + strconv.Itoa(int(r.Port))
}

// ParsePortRule parses "tcp/PORT", "udp/PORT", "icmp" or "icmpv6".
func ParsePortRule(s string) (PortRule, error) {
	switch strings.ToLower(s) {
	case "icmp":
		return PortRule{Proto: ProtoICMP}, nil
	case "icmpv6":
		return PortRule{Proto: ProtoICMPv6}, nil
	}
	proto, port, ok := strings.Cut(s, "/")
	if !ok {
		return PortRule{}, fmt.Errorf("dataplane: port rule %q: want PROTO/PORT, e.g. tcp/6379, or icmp or icmpv6", s)
	}
	var r PortRule
	switch strings.ToLower(proto) {
	case "tcp":
		r.Proto = ProtoTCP
	case "udp":
		r.Proto = ProtoUDP
	default:
		return PortRule{}, fmt.Errorf("dataplane: port rule %q: protocol %q: want tcp or udp (with a port), icmp or icmpv6", s, proto)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return PortRule{}, fmt.Errorf("dataplane: port rule %q: port %q: want 1 to 65535", s, port)
	}
	r.Port = uint16(n)
	return r, nil
}

// matchPort reports whether a packet of proto to port matches a rule.
func matchPort(rules []PortRule, proto Proto, port uint16) bool {
	return slices.ContainsFunc(rules, func(r PortRule) bool { return r.Proto == proto && (r.Port == port || r.Port == 0) })
}

// StaticDecider decides from fixed rules, for the developer command, tests
// and benchmarks: connections to a Deny port are denied, connections to an
// Inspect port are inspected request by request (Inspect), every other
// connection is allowed (or, with InspectAll, allowed with every packet
// still queued). With DenyPayload, an inspected connection is denied on
// the first packet whose payload contains it: a stand-in for an L7 rule
// (one packet at a time, no reassembly). It counts what inspection showed
// it (Stats). It is safe for concurrent use and never blocks.
type StaticDecider struct {
	Deny       []PortRule
	Inspect    []PortRule
	InspectAll bool
	// DenyPayload, if not empty, denies an inspected connection (Inspect
	// or InspectAll) when a queued packet's payload contains it.
	DenyPayload []byte
	// Logger, if set, logs each connection decision at debug level.
	Logger *slog.Logger
	// Delay, for tests only, makes every Decide call sleep this long:
	// a Decider too slow for the traffic, to overflow the queue. It
	// breaks the Decider contract (Decide must not block) on purpose.
	Delay time.Duration

	requests, requestBytes, empty, fromServer, payloadDenied atomic.Uint64
}

// StaticStats are a StaticDecider's counters of inspected connections.
type StaticStats struct {
	// Requests counts packets with payload seen on connections in the
	// inspected state (Inspect), RequestBytes their payload bytes.
	Requests, RequestBytes uint64
	// Empty counts packets without payload seen on inspected
	// connections; FromServer packets that came from the server side
	// (source port is an Inspect port). The kernel passes both by
	// itself, so these stay zero unless headers defeat its payload test
	// (IPv4 options, IPv6 extension headers).
	Empty, FromServer uint64
	// PayloadDenied counts connections denied because of DenyPayload.
	PayloadDenied uint64
}

// Stats returns the counters.
func (s *StaticDecider) Stats() StaticStats {
	return StaticStats{
		Requests: s.requests.Load(), RequestBytes: s.requestBytes.Load(),
		Empty: s.empty.Load(), FromServer: s.fromServer.Load(), PayloadDenied: s.payloadDenied.Load(),
	}
}

// Decide implements Decider.
func (s *StaticDecider) Decide(p *Packet) Verdict {
	if s.Delay > 0 {
		time.Sleep(s.Delay)
	}
	switch p.Conn {
	case ConnDenied:
		// A DNS packet of a denied connection (DNS is always queued).
		return Drop
	case ConnAllowed:
		// DNS of an allowed connection.
		return Accept
	case ConnInspected, ConnInspectedAll:
		if p.Conn == ConnInspected {
			s.count(p)
		}
		if s.deniedPayload(p) {
			s.log("dataplane: forbidden payload on an inspected connection", Deny, p)
			return Deny
		}
		return Accept
	}
	v := Allow
	switch {
	case matchPort(s.Deny, p.Proto, p.DstPort):
		v = Deny
	case matchPort(s.Inspect, p.Proto, p.DstPort):
		v = Inspect
	case s.InspectAll:
		v = InspectAll
	}
	// A connection picked up mid-stream: its first queued packet may
	// already carry a request.
	if (v == Inspect || v == InspectAll) && s.deniedPayload(p) {
		v = Deny
	}
	s.log("dataplane: decision", v, p)
	return v
}

func (s *StaticDecider) count(p *Packet) {
	switch {
	case matchPort(s.Inspect, p.Proto, p.SrcPort) && !matchPort(s.Inspect, p.Proto, p.DstPort):
		s.fromServer.Add(1)
	case len(p.Payload) == 0:
		s.empty.Add(1)
	default:
		s.requests.Add(1)
		s.requestBytes.Add(uint64(len(p.Payload)))
	}
}

func (s *StaticDecider) deniedPayload(p *Packet) bool {
	if len(s.DenyPayload) == 0 || !bytes.Contains(p.Payload, s.DenyPayload) {
		return false
	}
	s.payloadDenied.Add(1)
	return true
}

func (s *StaticDecider) log(msg string, v Verdict, p *Packet) {
	if s.Logger != nil && s.Logger.Enabled(context.Background(), slog.LevelDebug) {
		s.Logger.Debug(msg, "verdict", v.String(), "proto", p.Proto.String(),
			"src", p.Src, "sport", p.SrcPort, "dst", p.Dst, "dport", p.DstPort, "queue", p.Queue)
	}
}
