package export

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"bulkhead.dev/bulkhead/policy"
)

const ciliumTarget = "CiliumNetworkPolicy"

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
// the names resolved. Other conditions become comments.
func CiliumYAML(pol *policy.Policy, opt Options) ([]byte, error) {
	return perGroup(pol, opt, "cilium.io/v2", "CiliumNetworkPolicy", func(g *policy.Group, ingress, egress []*policy.Rule) policy.YAMLMap {
		spec := policy.Map().Add("endpointSelector", labelSelector(g.Selector))
		in, eg := &listing{seq: policy.Seq()}, &listing{seq: policy.Seq()}
		for _, r := range ingress {
			in.add(ciliumRule(pol, r, r.From, "from"))
		}
		var fqdns []string
		for _, r := range egress {
			eg.add(ciliumRule(pol, r, r.To, "to"))
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
	for _, f := range fqdns {
		dns.Content = append(dns.Content, dnsMatch(f).Node)
	}
	ports := policy.Seq(policy.Map().Flow().Add("port", policy.Str("53")).Add("protocol", policy.Str("ANY")).Node)
	toPorts := policy.Map().Add("ports", ports).AddMap("rules", policy.Map().Add("dns", dns))
	item := policy.Map().
		Add("toEndpoints", policy.Seq(labelSelector(&kubeDNS))).
		Add("toPorts", policy.Seq(toPorts.Node))
	return policy.Commented(item.Node, "DNS proxy rule: lets Cilium learn the addresses of this group's FQDN peers")
}

// dnsMatch renders a DNS pattern as matchName or matchPattern. Cilium's "*."
// covers one label where Bulkhead's covers any depth (narrower).
func dnsMatch(pattern string) policy.YAMLMap {
	if strings.Contains(pattern, "*") {
		return policy.Map().Flow().Add("matchPattern", policy.Str(pattern))
	}
	return policy.Map().Flow().Add("matchName", policy.Str(pattern))
}

func ciliumRule(pol *policy.Policy, r *policy.Rule, peerName, dir string) (*yaml.Node, string) {
	var notes []string
	item := policy.Map()
	key := func(k string) string { return dir + k }
	switch g := peerGroup(pol, peerName); {
	case peerName == policy.GroupWorld || peerName == policy.GroupHost:
		item.Add(key("Entities"), policy.FlowSeq(peerName))
	case g == nil:
		return nil, ruleComment(r, []string{"unknown group " + peerName})
	case g.Kind == policy.GroupSelector:
		item.Add(key("Endpoints"), policy.Seq(labelSelector(g.Selector)))
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
	case g.Kind == policy.GroupFQDN && dir == "to":
		set := policy.Seq()
		for _, f := range g.FQDNs {
			set.Content = append(set.Content, dnsMatch(f).Node)
			if strings.HasPrefix(f, "*.") {
				notes = append(notes, fmt.Sprintf("%s: Cilium's wildcard covers one label, Bulkhead's any depth (narrower)", f))
			}
		}
		item.Add("toFQDNs", set)
	case g.Kind == policy.GroupFQDN:
		return nil, ruleComment(r, []string{fmt.Sprintf("NOT EXPRESSIBLE in %s: FQDN group %s as a source; rule left out (narrower)", ciliumTarget, g.Name)})
	}
	if toPorts, more := ciliumPorts(r); toPorts != nil {
		item.Add("toPorts", toPorts)
		notes = append(notes, more...)
	} else {
		notes = append(notes, more...)
	}
	return policy.Commented(item.Node, ruleComment(r, notes)), ""
}

// ciliumPorts renders a rule's ports and L7 rules as toPorts, with notes on
// what could not be expressed.
func ciliumPorts(r *policy.Rule) (*yaml.Node, []string) {
	var notes []string
	ports := policy.Seq()
	for _, p := range r.Ports {
		if p == policy.AnyPort {
			ports.Content = nil
			break
		}
		m := policy.Map().Flow()
		switch {
		case p.Lo <= 1 && p.Hi == 65535:
			m.Add("port", policy.Str("0"))
		default:
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
	l7Rules, serverNames, l7Notes := ciliumL7(r)
	if len(ports.Content) == 0 {
		if !r.AnyApp {
			notes = append(notes, appLost(r, ciliumTarget))
		}
		if r.Kind != policy.KindNone {
			notes = append(notes, fmt.Sprintf("NOT EXPRESSIBLE in %s: %s conditions on every port (Cilium needs ports for L7 rules); exported at L3 only (wider)", ciliumTarget, r.Kind))
		}
		return nil, notes
	}
	notes = append(notes, l7Notes...)
	if !r.AnyApp && l7Rules == nil && serverNames == nil {
		notes = append(notes, appLost(r, ciliumTarget))
	}
	tp := policy.Map().Add("ports", ports)
	if serverNames != nil {
		tp.Add("serverNames", serverNames)
	}
	if l7Rules != nil {
		tp.AddMap("rules", *l7Rules)
	}
	return policy.Seq(tp.Node), notes
}

// ciliumL7 converts L7 conditions to Cilium L7 rules where Cilium has them.
func ciliumL7(r *policy.Rule) (rules *policy.YAMLMap, serverNames *yaml.Node, notes []string) {
	if r.Kind == policy.KindNone {
		return nil, nil, nil
	}
	switch r.Kind {
	case policy.KindHTTP, policy.KindGRPC:
		list := policy.Seq()
		for i := range r.Matches {
			m := &r.Matches[i]
			h := policy.Map().Flow()
			if r.Kind == policy.KindGRPC {
				h.Add("method", policy.Str("POST"))
				h.Add("path", policy.Str("/"+globRegex(orStar(m.Values[policy.AttrService]))+"/"+globRegex(orStar(m.Values[policy.AttrGRPCMethod]))))
			} else {
				if v := m.Values[policy.AttrMethod]; v != "" {
					h.Add("method", policy.Str(globRegex(v)))
				}
				if v := m.Values[policy.AttrPath]; v != "" {
					h.Add("path", policy.Str(pathRegex(v)))
				}
				if v := m.Values[policy.AttrHost]; v != "" {
					if strings.Contains(v, "*") {
						notes = append(notes, fmt.Sprintf("http host %s: Cilium matches exact hosts only; host left out of this entry (wider)", v))
					} else {
						h.Add("host", policy.Str(v))
					}
				}
			}
			list.Content = append(list.Content, h.Node)
		}
		out := policy.Map().Add("http", list)
		return &out, nil, notes
	case policy.KindDNS:
		list := policy.Seq()
		for i := range r.Matches {
			list.Content = append(list.Content, dnsMatch(r.Matches[i].Values[policy.AttrName]).Node)
		}
		out := policy.Map().Add("dns", list)
		return &out, nil, nil
	case policy.KindKafka:
		list := policy.Seq()
		for i := range r.Matches {
			m := &r.Matches[i]
			k := policy.Map().Flow()
			if t := m.Values[policy.AttrTopic]; t != "" {
				if strings.Contains(t, "*") {
					notes = append(notes, fmt.Sprintf("kafka topic %s: Cilium matches exact topics only; topic left out of this entry (wider)", t))
				} else {
					k.Add("topic", policy.Str(t))
				}
			}
			if c := m.Values[policy.AttrCommand]; c != "" && !strings.Contains(c, "*") {
				k.Add("apiKey", policy.Str(strings.ToLower(c)))
			}
			if c := m.Values[policy.AttrClientID]; c != "" && !strings.Contains(c, "*") {
				k.Add("clientID", policy.Str(c))
			}
			list.Content = append(list.Content, k.Node)
		}
		out := policy.Map().Add("kafka", list)
		return &out, nil, notes
	case policy.KindTLS:
		var names []string
		for i := range r.Matches {
			sni := r.Matches[i].Values[policy.AttrSNI]
			if sni == "*" {
				return nil, nil, nil // any server name: nothing to restrict
			}
			names = append(names, sni)
		}
		slices.Sort(names)
		return nil, policy.FlowSeq(slices.Compact(names)...), nil
	}
	return nil, nil, []string{l7Lost(r, ciliumTarget)}
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// globRegex turns a glob into an RE2 regular expression ('*' → ".*").
func globRegex(g string) string {
	parts := strings.Split(g, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, ".*")
}

// pathRegex turns a path pattern into the regular expression Cilium
// matches against the whole path.
func pathRegex(p string) string {
	if !strings.ContainsAny(p, "*{}") {
		return regexp.QuoteMeta(p)
	}
	segs := strings.Split(p[1:], "/")
	var b strings.Builder
	for i, s := range segs {
		switch {
		case s == "**" && i == len(segs)-1:
			b.WriteString("(/.*)?")
			continue
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			b.WriteString("/[^/]+")
		default:
			parts := strings.Split(s, "*")
			for j, part := range parts {
				parts[j] = regexp.QuoteMeta(part)
			}
			b.WriteString("/" + strings.Join(parts, "[^/]*"))
		}
	}
	return b.String()
}
