package decide

import (
	"strconv"

	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/policy"
)

// reasonText formats the policy's reason for a report. ICMP flows have no
// port: where the policy's reason names the port a rule would need, it
// names the ICMP message instead ("no rule from api to db allows icmp
// echo-request").
func reasonText(x *pkt, dec *policy.Decision) string {
	r := &dec.Reason
	if r.Code == policy.ReasonPort {
		switch x.f.Key.Proto {
		case flowtable.ProtoICMP, flowtable.ProtoICMPv6:
			return "no rule from " + r.From + " to " + r.To + " allows " + icmpMessage(x.p)
		}
	}
	return r.String()
}

// icmpMessage names the ICMP or ICMPv6 message of p the way iptables'
// --icmp-type does: "icmp echo-request", "icmpv6 neighbour-solicitation",
// "icmp type 42 code 1" for the others.
func icmpMessage(p *dataplane.Packet) string {
	proto, names := "icmp", icmpTypes
	if p.Proto == dataplane.ProtoICMPv6 {
		proto, names = "icmpv6", icmpv6Types
	}
	s := proto + " type " + strconv.Itoa(int(p.ICMPType))
	if n, ok := names[p.ICMPType]; ok {
		s = proto + " " + n
	}
	if p.ICMPCode != 0 {
		s += " code " + strconv.Itoa(int(p.ICMPCode))
	}
	return s
}

// The ICMP and ICMPv6 message types with the names iptables and ip6tables
// give them.
var (
	icmpTypes = map[uint8]string{
		0: "echo-reply", 3: "destination-unreachable", 4: "source-quench", 5: "redirect",
		8: "echo-request", 9: "router-advertisement", 10: "router-solicitation", 11: "time-exceeded",
		12: "parameter-problem", 13: "timestamp-request", 14: "timestamp-reply",
		17: "address-mask-request", 18: "address-mask-reply",
	}
	icmpv6Types = map[uint8]string{
		1: "destination-unreachable", 2: "packet-too-big", 3: "time-exceeded", 4: "parameter-problem",
		128: "echo-request", 129: "echo-reply", 133: "router-solicitation", 134: "router-advertisement",
		135: "neighbour-solicitation", 136: "neighbour-advertisement", 137: "redirect",
	}
)
