package export

import (
	"fmt"
	"net/netip"
	"strings"

	"gopkg.in/yaml.v3"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

const k8sTarget = "NetworkPolicy"

// KubernetesYAML exports pol as networking.k8s.io/v1 NetworkPolicy objects,
// one per workload group, at L3/L4. Apps, L7 conditions, FQDN groups and the
// host group cannot be expressed: each is a comment where it would have
// gone (rules to FQDN or host peers are left out, which is narrower).
func KubernetesYAML(pol *policy.Policy, opt Options) ([]byte, error) {
	return perGroup(pol, opt, "networking.k8s.io/v1", "NetworkPolicy", func(g *policy.Group, ingress, egress []*policy.Rule) policy.YAMLMap {
		spec := policy.Map().
			Add("podSelector", labelSelector(g.Selector)).
			Add("policyTypes", policy.FlowSeq("Ingress", "Egress"))
		in, eg := &listing{seq: policy.Seq()}, &listing{seq: policy.Seq()}
		for _, r := range ingress {
			in.add(k8sRule(pol, r, r.From, "from"))
		}
		for _, r := range egress {
			eg.add(k8sRule(pol, r, r.To, "to"))
		}
		in.into(spec, "ingress")
		eg.into(spec, "egress")
		return spec
	})
}

// listing is an ingress or egress list and the comments of the rules that
// could not be written into it.
type listing struct {
	seq  *yaml.Node
	lost []string
}

func (l *listing) add(item *yaml.Node, lost string) {
	if item != nil {
		l.seq.Content = append(l.seq.Content, item)
	}
	if lost != "" {
		l.lost = append(l.lost, lost)
	}
}

// into adds the list to spec under key, with the lost rules' comments above
// the key and a note when the list is empty (everything denied).
func (l *listing) into(spec policy.YAMLMap, key string) {
	if len(l.seq.Content) == 0 {
		l.seq.Style = yaml.FlowStyle
		l.seq.LineComment = "no rule: all " + key + " denied"
	}
	spec.Add(key, l.seq)
	if len(l.lost) > 0 {
		spec.Content[len(spec.Content)-2].HeadComment = commentLines(strings.Join(l.lost, "\n"))
	}
}

func commentLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		lines[i] = "# " + line
	}
	return strings.Join(lines, "\n")
}

// k8sRule renders one Bulkhead rule as an ingress ("from") or egress ("to")
// rule; when the peer cannot be expressed it returns nil and the comment
// explaining why.
func k8sRule(pol *policy.Policy, r *policy.Rule, peerName, dir string) (*yaml.Node, string) {
	var notes []string
	peers := policy.Seq()
	switch g := peerGroup(pol, peerName); {
	case peerName == policy.GroupHost:
		notes = append(notes, "NOT EXPRESSIBLE in NetworkPolicy: the host group (node addresses); rule left out (narrower)")
	case peerName == policy.GroupWorld:
		notes = append(notes, "world: every address outside the cluster; NetworkPolicy ipBlocks may also match pod addresses")
		for _, c := range []string{"0.0.0.0/0", "::/0"} {
			peers.Content = append(peers.Content, policy.Map().AddMap("ipBlock", policy.Map().Add("cidr", policy.Str(c))).Node)
		}
	case g == nil:
		notes = append(notes, "unknown group "+peerName)
	case g.Kind == policy.GroupSelector:
		peers.Content = append(peers.Content, policy.Map().Add("podSelector", labelSelector(g.Selector)).Node)
		notes = appendNote(notes, peerWorkloadNote(g))
	case g.Kind == policy.GroupCIDR:
		for _, c := range g.CIDRs {
			block := policy.Map().Add("cidr", policy.Str(c.String()))
			if ex := exceptsIn(g.Except, c); len(ex) > 0 {
				block.Add("except", policy.FlowSeq(ex...))
			}
			peers.Content = append(peers.Content, policy.Map().AddMap("ipBlock", block).Node)
		}
	case g.Kind == policy.GroupFQDN:
		notes = append(notes, fmt.Sprintf("NOT EXPRESSIBLE in NetworkPolicy: FQDN group %s (%v); rule left out (narrower)", g.Name, g.FQDNs))
	}
	if !r.AnyApp {
		notes = append(notes, appLost(r, k8sTarget))
	}
	if r.Kind != policy.KindNone {
		notes = append(notes, l7Lost(r, k8sTarget, "", "L4"))
	}
	if len(peers.Content) == 0 {
		// A rule with no peer would allow every peer: leave it out.
		return nil, ruleComment(r, notes)
	}
	item := policy.Map().Add(dir, peers)
	if ports := k8sPorts(r.Ports); ports != nil {
		item.Add("ports", ports)
	}
	return policy.Commented(item.Node, ruleComment(r, notes)), ""
}

func exceptsIn(except []netip.Prefix, c netip.Prefix) []string {
	var out []string
	for _, e := range except {
		if c.Contains(e.Addr()) && e.Bits() >= c.Bits() {
			out = append(out, e.String())
		}
	}
	return out
}

func k8sPorts(ps []policy.PortRange) *yaml.Node {
	if len(ps) == 0 {
		return nil
	}
	out := policy.Seq()
	for _, p := range ps {
		if p == policy.AnyPort {
			return nil
		}
		protos := []l7.Transport{p.Proto}
		if p.Proto == 0 {
			protos = []l7.Transport{l7.TCP, l7.UDP}
		}
		for _, proto := range protos {
			m := policy.Map().Flow().Add("protocol", policy.Str(protoUpper(proto)))
			if !(p.Lo <= 1 && p.Hi == 65535) {
				m.Add("port", policy.Int(int(p.Lo)))
				if p.Hi != p.Lo {
					m.Add("endPort", policy.Int(int(p.Hi)))
				}
			}
			out.Content = append(out.Content, m.Node)
		}
	}
	return out
}

func protoUpper(p l7.Transport) string {
	if p == l7.UDP {
		return "UDP"
	}
	return "TCP"
}
