package export

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"

	"sigs.k8s.io/yaml"
)

// This file is a strict check of CiliumNetworkPolicy objects written from
// Cilium's CRD schema (cilium.io/v2, ciliumnetworkpolicies.yaml, Cilium
// v1.18): the fields Bulkhead can emit, with their types, enums, patterns
// and one-of constraints. Importing github.com/cilium/cilium's Go types
// would add about a hundred modules (client-go, viper, cobra, mongo-driver,
// OpenTelemetry…) and pin k8s.io to an older minor, so the schema is
// mirrored here instead. Unknown fields fail (UnmarshalStrict).

type cnp struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   cnpMeta    `json:"metadata"`
	Spec       *cnpRule   `json:"spec"`
	Specs      []*cnpRule `json:"specs"`
}

type cnpMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

type cnpRule struct {
	EndpointSelector  *cnpSelector  `json:"endpointSelector"`
	NodeSelector      *cnpSelector  `json:"nodeSelector"`
	Ingress           []cnpIngress  `json:"ingress"`
	Egress            []cnpEgress   `json:"egress"`
	IngressDeny       []cnpIngress  `json:"ingressDeny"`
	EgressDeny        []cnpEgress   `json:"egressDeny"`
	Description       string        `json:"description"`
	Labels            []interface{} `json:"labels"`
	EnableDefaultDeny *struct {
		Ingress *bool `json:"ingress"`
		Egress  *bool `json:"egress"`
	} `json:"enableDefaultDeny"`
}

type cnpSelector struct {
	MatchLabels      map[string]string `json:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values"`
	} `json:"matchExpressions"`
}

type cnpIngress struct {
	FromEndpoints []cnpSelector `json:"fromEndpoints"`
	FromCIDR      []string      `json:"fromCIDR"`
	FromCIDRSet   []cnpCIDRSet  `json:"fromCIDRSet"`
	FromEntities  []string      `json:"fromEntities"`
	ToPorts       []cnpPortRule `json:"toPorts"`
}

type cnpEgress struct {
	ToEndpoints []cnpSelector `json:"toEndpoints"`
	ToCIDR      []string      `json:"toCIDR"`
	ToCIDRSet   []cnpCIDRSet  `json:"toCIDRSet"`
	ToEntities  []string      `json:"toEntities"`
	ToFQDNs     []cnpDNS      `json:"toFQDNs"`
	ToPorts     []cnpPortRule `json:"toPorts"`
}

type cnpCIDRSet struct {
	CIDR         string   `json:"cidr"`
	CIDRGroupRef string   `json:"cidrGroupRef"`
	Except       []string `json:"except"`
}

type cnpDNS struct {
	MatchName    string `json:"matchName"`
	MatchPattern string `json:"matchPattern"`
}

type cnpPortRule struct {
	Ports []struct {
		Port     string `json:"port"`
		EndPort  *int   `json:"endPort"`
		Protocol string `json:"protocol"`
	} `json:"ports"`
	ServerNames []string `json:"serverNames"`
	Rules       *struct {
		HTTP []struct {
			Method  string   `json:"method"`
			Path    string   `json:"path"`
			Host    string   `json:"host"`
			Headers []string `json:"headers"`
		} `json:"http"`
		DNS   []cnpDNS `json:"dns"`
		Kafka []struct {
			Role       string `json:"role"`
			APIKey     string `json:"apiKey"`
			APIVersion string `json:"apiVersion"`
			ClientID   string `json:"clientID"`
			Topic      string `json:"topic"`
		} `json:"kafka"`
	} `json:"rules"`
}

// Patterns and enums from the CRD.
var (
	portPattern       = regexp.MustCompile(`^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})|([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$`)
	matchNamePattern  = regexp.MustCompile(`^([-a-zA-Z0-9_]+[.]?)+$`)
	matchPatPattern   = regexp.MustCompile(`^([-a-zA-Z0-9_*]+[.]?)+$`)
	serverNamePattern = regexp.MustCompile(`^(\*?\*\.)?([-a-zA-Z0-9_]+\.?)+$`)
	labelValuePattern = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	protocols         = []string{"TCP", "UDP", "SCTP", "ANY"}
	entities          = []string{"all", "world", "cluster", "host", "init", "ingress", "unmanaged", "remote-node", "health", "none", "kube-apiserver"}
	operators         = []string{"In", "NotIn", "Exists", "DoesNotExist"}
	kafkaRoles        = []string{"produce", "consume"}
)

// checkCilium decodes one object strictly and validates it against the
// schema above.
func checkCilium(doc []byte) error {
	var p cnp
	if err := yaml.UnmarshalStrict(doc, &p); err != nil {
		return err
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if p.APIVersion != "cilium.io/v2" || p.Kind != "CiliumNetworkPolicy" {
		bad("apiVersion/kind %s/%s", p.APIVersion, p.Kind)
	}
	if p.Metadata.Name == "" {
		bad("metadata.name required")
	}
	if p.Spec == nil {
		bad("spec required")
		return errors.Join(errs...)
	}
	s := p.Spec
	if (s.EndpointSelector == nil) == (s.NodeSelector == nil) {
		bad("spec: exactly one of endpointSelector, nodeSelector")
	}
	if s.Ingress == nil && s.Egress == nil && s.IngressDeny == nil && s.EgressDeny == nil {
		bad("spec: one of ingress, ingressDeny, egress, egressDeny required")
	}
	sel := func(where string, x *cnpSelector) {
		for k, v := range x.MatchLabels {
			if len(v) > 63 || !labelValuePattern.MatchString(v) {
				bad("%s.matchLabels[%s]: bad value %q", where, k, v)
			}
		}
		for _, e := range x.MatchExpressions {
			if e.Key == "" || !in(operators, e.Operator) {
				bad("%s.matchExpressions: key %q operator %q", where, e.Key, e.Operator)
			}
		}
	}
	if s.EndpointSelector != nil {
		sel("endpointSelector", s.EndpointSelector)
	}
	cidrSet := func(where string, set []cnpCIDRSet) {
		for _, c := range set {
			n := 0
			for _, v := range []string{c.CIDR, c.CIDRGroupRef} {
				if v != "" {
					n++
				}
			}
			if n != 1 {
				bad("%s: exactly one of cidr, cidrGroupRef", where)
			}
			for _, x := range append([]string{c.CIDR}, c.Except...) {
				if _, err := netip.ParsePrefix(x); x != "" && err != nil {
					bad("%s: bad cidr %q", where, x)
				}
			}
		}
	}
	dnsSel := func(where string, list []cnpDNS) {
		for _, d := range list {
			switch {
			case (d.MatchName == "") == (d.MatchPattern == ""):
				bad("%s: exactly one of matchName, matchPattern", where)
			case d.MatchName != "" && (len(d.MatchName) > 255 || !matchNamePattern.MatchString(d.MatchName)):
				bad("%s: bad matchName %q", where, d.MatchName)
			case d.MatchPattern != "" && (len(d.MatchPattern) > 255 || !matchPatPattern.MatchString(d.MatchPattern)):
				bad("%s: bad matchPattern %q", where, d.MatchPattern)
			}
		}
	}
	ents := func(where string, list []string) {
		for _, e := range list {
			if !in(entities, e) {
				bad("%s: unknown entity %q", where, e)
			}
		}
	}
	ports := func(where string, rules []cnpPortRule) {
		for _, r := range rules {
			for _, p := range r.Ports {
				if p.Port == "" || !portPattern.MatchString(p.Port) {
					bad("%s: bad port %q", where, p.Port)
				}
				if p.Protocol != "" && !in(protocols, p.Protocol) {
					bad("%s: bad protocol %q", where, p.Protocol)
				}
				if p.EndPort != nil && (*p.EndPort < 0 || *p.EndPort > 65535) {
					bad("%s: bad endPort %d", where, *p.EndPort)
				}
			}
			if r.ServerNames != nil && len(r.ServerNames) == 0 {
				bad("%s: serverNames needs at least one item", where)
			}
			for _, n := range r.ServerNames {
				if len(n) > 255 || !serverNamePattern.MatchString(n) {
					bad("%s: bad serverName %q", where, n)
				}
			}
			if r.Rules != nil {
				dnsSel(where+".rules.dns", r.Rules.DNS)
				for _, k := range r.Rules.Kafka {
					if k.Role != "" && !in(kafkaRoles, k.Role) || len(k.Topic) > 255 {
						bad("%s: bad kafka rule %+v", where, k)
					}
				}
				for _, h := range r.Rules.HTTP {
					for _, re := range []string{h.Method, h.Path} {
						if _, err := regexp.Compile(re); err != nil {
							bad("%s: bad http regex %q", where, re)
						}
					}
				}
			}
		}
	}
	for i := range s.Ingress {
		r := &s.Ingress[i]
		for j := range r.FromEndpoints {
			sel("ingress.fromEndpoints", &r.FromEndpoints[j])
		}
		cidrSet("ingress.fromCIDRSet", r.FromCIDRSet)
		ents("ingress.fromEntities", r.FromEntities)
		ports("ingress.toPorts", r.ToPorts)
	}
	for i := range s.Egress {
		r := &s.Egress[i]
		for j := range r.ToEndpoints {
			sel("egress.toEndpoints", &r.ToEndpoints[j])
		}
		cidrSet("egress.toCIDRSet", r.ToCIDRSet)
		ents("egress.toEntities", r.ToEntities)
		dnsSel("egress.toFQDNs", r.ToFQDNs)
		ports("egress.toPorts", r.ToPorts)
	}
	return errors.Join(errs...)
}

func in(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
