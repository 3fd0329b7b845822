package export

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

const ciliumTarget = "CiliumNetworkPolicy"

// ciliumMaxPorts is the most ports Cilium accepts in one toPorts entry
// (PortRule.sanitize: "too many ports, the max is 40"); longer lists are
// split over several entries carrying the same L7 rules.
const ciliumMaxPorts = 40

// kubeDNS selects the cluster DNS server, to which the DNS-proxy rules of
// FQDN egress go.
var kubeDNS = policy.Selector{MatchLabels: map[string]string{
	"k8s:io.kubernetes.pod.namespace": "kube-system",
	"k8s:k8s-app":                     "kube-dns",
}}

// CiliumYAML exports pol as cilium.io/v2 CiliumNetworkPolicy objects, one
// per workload group: endpoint, CIDR and entity peers, ports, HTTP rules
// (from http and grpc conditions), DNS rules, Kafka rules, TLS server names,
// and FQDN egress with toFQDNs plus the DNS-proxy rule that lets Cilium see
// the names resolved. Conditions Cilium cannot carry (or refuses where they
// would go) become comments, and the rule is exported at L4.
func CiliumYAML(pol *policy.Policy, opt Options) ([]byte, error) {
	return perGroup(pol, opt, "cilium.io/v2", ciliumTarget, func(g *policy.Group, ingress, egress []*policy.Rule) policy.YAMLMap {
		spec := policy.Map().Add("endpointSelector", labelSelector(g.Selector))
		in, eg := &listing{seq: policy.Seq()}, &listing{seq: policy.Seq()}
		for _, r := range ingress {
			in.add(ciliumRule(pol, r, r.From, true))
		}
		var fqdns []string
		for _, r := range egress {
			eg.add(ciliumRule(pol, r, r.To, false))
			if pg := peerGroup(pol, r.To); pg != nil && pg.Kind == policy.GroupFQDN {
				fqdns = append(fqdns, pg.FQDNs...)
			}
		}
		if len(fqdns) > 0 {
			eg.add(dnsProxyRule(fqdns), "")
		}
		ciliumDefaultDeny(in)
		ciliumDefaultDeny(eg)
		in.into(spec, "ingress")
		eg.into(spec, "egress")
		return spec
	})
}

// ciliumDefaultDeny makes an empty list "[{}]": a rule with no peer, which
// puts the endpoint in default deny for that direction and allows nothing.
func ciliumDefaultDeny(l *listing) {
	if len(l.seq.Content) == 0 {
		l.seq.Style = yaml.FlowStyle
		l.seq.Content = append(l.seq.Content, policy.Map().Flow().Node)
		l.seq.LineComment = "no rule: default deny"
	}
}

// dnsProxyRule lets the group resolve its FQDN peers through the cluster
// DNS, with a DNS rule so that Cilium's proxy learns the addresses.
func dnsProxyRule(fqdns []string) *yaml.Node {
	slices.Sort(fqdns)
	fqdns = slices.Compact(fqdns)
	dns := policy.Seq()
	var notes []string
	for _, f := range fqdns {
		m, note := dnsMatch(f)
		dns.Content = append(dns.Content, m.Node)
		notes = appendNote(notes, note)
	}
	ports := policy.Seq(policy.Map().Flow().Add("port", policy.Str("53")).Add("protocol", policy.Str("ANY")).Node)
	toPorts := policy.Map().Add("ports", ports).AddMap("rules", policy.Map().Add("dns", dns))
	item := policy.Map().
		Add("toEndpoints", policy.Seq(labelSelector(&kubeDNS))).
		Add("toPorts", policy.Seq(toPorts.Node))
	comment := strings.Join(append([]string{"DNS proxy rule: lets Cilium learn the addresses of this group's FQDN peers"}, notes...), "\n")
	return policy.Commented(item.Node, comment)
}

// dnsMatch renders a name pattern as matchName or matchPattern, with a note
// when Cilium may match it differently. Bulkhead's "*.domain" (one or more
// labels) is Cilium's "**.domain" from Cilium 1.19; older versions read
// "**" as "*", one label only.
func dnsMatch(pattern string) (policy.YAMLMap, string) {
	switch {
	case pattern == "*":
		return policy.Map().Flow().Add("matchPattern", policy.Str("*")), ""
	case strings.HasPrefix(pattern, "*."):
		p := "*" + pattern
		return policy.Map().Flow().Add("matchPattern", policy.Str(p)),
			fmt.Sprintf("%s → matchPattern %s: one or more labels in Cilium 1.19 and later, as in Bulkhead; one label only in older versions (narrower)", pattern, p)
	}
	return policy.Map().Flow().Add("matchName", policy.Str(pattern)), ""
}

// appendNote appends note when it is not empty and not there yet.
func appendNote(notes []string, note string) []string {
	if note == "" || slices.Contains(notes, note) {
		return notes
	}
	return append(notes, note)
}

// ciliumRule renders one Bulkhead rule as an ingress (from the peer) or
// egress (to the peer) rule; when the peer cannot be expressed it returns
// nil and the comment explaining why.
func ciliumRule(pol *policy.Policy, r *policy.Rule, peerName string, ingress bool) (*yaml.Node, string) {
	var notes []string
	item := policy.Map()
	key := func(k string) string {
		if ingress {
			return "from" + k
		}
		return "to" + k
	}
	switch g := peerGroup(pol, peerName); {
	case peerName == policy.GroupWorld || peerName == policy.GroupHost:
		item.Add(key("Entities"), policy.FlowSeq(peerName))
	case g == nil:
		return nil, ruleComment(r, []string{"unknown group " + peerName})
	case g.Kind == policy.GroupSelector:
		item.Add(key("Endpoints"), policy.Seq(labelSelector(g.Selector)))
		notes = appendNote(notes, peerWorkloadNote(g))
	case g.Kind == policy.GroupCIDR:
		set := policy.Seq()
		for _, c := range g.CIDRs {
			m := policy.Map().Add("cidr", policy.Str(c.String()))
			if ex := exceptsIn(g.Except, c); len(ex) > 0 {
				m.Add("except", policy.FlowSeq(ex...))
			}
			set.Content = append(set.Content, m.Node)
		}
		item.Add(key("CIDRSet"), set)
	case g.Kind == policy.GroupFQDN && !ingress:
		set := policy.Seq()
		for _, f := range g.FQDNs {
			m, note := dnsMatch(f)
			set.Content = append(set.Content, m.Node)
			notes = appendNote(notes, note)
		}
		item.Add("toFQDNs", set)
	case g.Kind == policy.GroupFQDN:
		return nil, ruleComment(r, []string{fmt.Sprintf("NOT EXPRESSIBLE in %s: FQDN group %s as a source; rule left out (narrower)", ciliumTarget, g.Name)})
	}
	toPorts, more := ciliumPorts(r, ingress)
	if toPorts != nil {
		item.Add("toPorts", toPorts)
	}
	notes = append(notes, more...)
	return policy.Commented(item.Node, ruleComment(r, notes)), ""
}

// ciliumPorts renders a rule's ports and L7 rules as toPorts, with notes on
// what could not be expressed. L7 conditions that Cilium cannot carry, or
// refuses where the rule would put them, are left out: the rule is then
// exported at L4 and a note says it is wider.
func ciliumPorts(r *policy.Rule, ingress bool) (*yaml.Node, []string) {
	var notes []string
	if len(r.Ports) == 0 || slices.Contains(r.Ports, policy.AnyPort) {
		if !r.AnyApp {
			notes = append(notes, appLost(r, ciliumTarget))
		}
		if r.Kind != policy.KindNone {
			notes = append(notes, l7Lost(r, ciliumTarget, "on every port: Cilium needs ports for L7 rules", "L3"))
		}
		return nil, notes
	}
	var cond ciliumL7
	if r.Kind != policy.KindNone {
		cond = ciliumConditions(r)
		if cond.lost == "" {
			cond.lost = ciliumL7Placement(r, ingress)
		}
		if cond.lost != "" {
			notes = append(notes, l7Lost(r, ciliumTarget, cond.lost, "L4"))
			cond = ciliumL7{}
		} else {
			notes = append(notes, cond.notes...)
		}
	}
	if !r.AnyApp && cond.rules == nil && cond.serverNames == nil {
		notes = append(notes, appLost(r, ciliumTarget))
	}
	out := policy.Seq()
	for chunk := range slices.Chunk(r.Ports, ciliumMaxPorts) {
		ports := policy.Seq()
		for _, p := range chunk {
			m := policy.Map().Flow()
			if ciliumEveryPort(p) {
				m.Add("port", policy.Str("0"))
			} else {
				m.Add("port", policy.Str(strconv.Itoa(int(p.Lo))))
				if p.Hi != p.Lo {
					m.Add("endPort", policy.Int(int(p.Hi)))
				}
			}
			proto := "ANY"
			if p.Proto != 0 {
				proto = protoUpper(p.Proto)
			}
			m.Add("protocol", policy.Str(proto))
			ports.Content = append(ports.Content, m.Node)
		}
		tp := policy.Map().Add("ports", ports)
		if cond.serverNames != nil {
			tp.Add("serverNames", cond.serverNames)
		}
		if cond.rules != nil {
			tp.AddMap("rules", *cond.rules)
		}
		out.Content = append(out.Content, tp.Node)
	}
	if len(out.Content) > 1 {
		notes = append(notes, fmt.Sprintf("%d ports: split over %d toPorts entries (Cilium takes at most %d per entry)", len(r.Ports), len(out.Content), ciliumMaxPorts))
	}
	return out, notes
}

// ciliumEveryPort reports whether p covers every port of its protocol,
// which Cilium writes as port "0".
func ciliumEveryPort(p policy.PortRange) bool { return p.Lo <= 1 && p.Hi == 65535 }

// ciliumL7Placement says why Cilium would refuse the rule's L7 conditions
// on its ports and direction ("" when it accepts them), following Cilium's
// PortRule.sanitize.
func ciliumL7Placement(r *policy.Rule, ingress bool) string {
	dns := r.Kind == policy.KindDNS
	if dns && ingress {
		return "on ingress: Cilium allows DNS rules on egress only"
	}
	for _, p := range r.Ports {
		switch {
		case ciliumEveryPort(p):
			return fmt.Sprintf("on %s: Cilium refuses L7 rules on port 0 (every port)", p)
		case dns && p.Lo != p.Hi:
			return fmt.Sprintf("on %s: Cilium's DNS rules take single ports, not ranges", p)
		case !dns && p.Proto != l7.TCP:
			return fmt.Sprintf("on %s: Cilium applies L7 rules other than DNS, and TLS server names, to TCP only", p)
		}
	}
	return ""
}
