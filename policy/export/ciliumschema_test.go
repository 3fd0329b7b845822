package export

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// This file is a strict check of CiliumNetworkPolicy objects written from
// Cilium's CRD schema (cilium.io/v2, ciliumnetworkpolicies.yaml, Cilium
// v1.18): the fields Bulkhead can emit, with their types, enums, patterns
// and one-of constraints, and the checks the Cilium agent makes when it
// accepts a rule (pkg/policy/api rule_validation.go: Rule.Sanitize,
// IngressRule/EgressRule.sanitize, PortRule.sanitize, L7Rules.sanitize,
// PortProtocol.sanitize, CIDRRule.sanitize; kafka.PortRule.Sanitize and
// its APIKeyMap). Importing github.com/cilium/cilium's Go types would add
// about a hundred modules (client-go, viper, cobra, mongo-driver,
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
	TerminatingTLS *struct {
		Secret *struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"secret"`
	} `json:"terminatingTLS"`
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
	kafkaTopicPattern = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	protocols         = []string{"TCP", "UDP", "SCTP", "ANY"}
	entities          = []string{"all", "world", "cluster", "host", "init", "ingress", "unmanaged", "remote-node", "health", "none", "kube-apiserver"}
	operators         = []string{"In", "NotIn", "Exists", "DoesNotExist"}
	kafkaRoles        = []string{"produce", "consume"}
	// kafkaAPIKeys are the keys of Cilium's kafka.APIKeyMap (API keys 0-33).
	kafkaAPIKeys = []string{"produce", "fetch", "offsets", "metadata", "leaderandisr", "stopreplica",
		"updatemetadata", "controlledshutdown", "offsetcommit", "offsetfetch", "findcoordinator",
		"joingroup", "heartbeat", "leavegroup", "syncgroup", "describegroups", "listgroups",
		"saslhandshake", "apiversions", "createtopics", "deletetopics", "deleterecords",
		"initproducerid", "offsetforleaderepoch", "addpartitionstotxn", "addoffsetstotxn", "endtxn",
		"writetxnmarkers", "txnoffsetcommit", "describeacls", "createacls", "deleteacls",
		"describeconfigs", "alterconfigs"}
)

// maxPortsPerRule is Cilium's limit on the ports of one toPorts entry.
const maxPortsPerRule = 40

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
			if allow, err := netip.ParsePrefix(c.CIDR); err == nil {
				for _, x := range c.Except {
					if ex, err := netip.ParsePrefix(x); err == nil && !allow.Contains(ex.Addr()) {
						bad("%s: allow CIDR prefix %s does not contain exclude CIDR prefix %s", where, c.CIDR, x)
					}
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
	ports := func(where string, rules []cnpPortRule, ingress bool) {
		for _, r := range rules {
			var nDNS, types int
			if r.Rules != nil {
				nDNS = len(r.Rules.DNS)
				for _, set := range []bool{r.Rules.HTTP != nil, r.Rules.DNS != nil, r.Rules.Kafka != nil} {
					if set {
						types++
					}
				}
			}
			hasL7, hasDNS := types > 0, nDNS > 0
			switch {
			case ingress && hasDNS:
				bad("%s: DNS rules are not allowed on ingress", where)
			case len(r.ServerNames) > 0 && hasL7 && r.TerminatingTLS == nil:
				bad("%s: ServerNames are not allowed with L7 rules without TLS termination", where)
			case types > 1:
				bad("%s: multiple L7 protocol rule types specified in single rule", where)
			case len(r.Ports) > maxPortsPerRule:
				bad("%s: too many ports, the max is %d", where, maxPortsPerRule)
			case r.Rules != nil && r.Rules.DNS != nil && len(r.Ports) == 0:
				bad("%s: Port 53 must be specified for DNS rules", where)
			}
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
				n, err := strconv.ParseUint(p.Port, 0, 16)
				numeric := err == nil
				switch {
				case hasL7 && numeric && n == 0:
					bad("%s: L7 rules can not be used when a port is 0", where)
				case hasDNS && numeric && p.EndPort != nil && uint64(*p.EndPort) > n:
					bad("%s: DNS rules do not support port ranges", where)
				case hasL7 && !hasDNS && p.Protocol != "TCP":
					bad("%s: L7 rules can only apply to TCP (not %q) except for DNS rules", where, p.Protocol)
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
					switch {
					case k.Role != "" && k.APIKey != "":
						bad("%s: kafka: cannot set both Role %q and APIKey %q together", where, k.Role, k.APIKey)
					case k.Role != "" && !in(kafkaRoles, strings.ToLower(k.Role)):
						bad("%s: kafka: invalid Role %q", where, k.Role)
					case k.APIKey != "" && !in(kafkaAPIKeys, strings.ToLower(k.APIKey)):
						bad("%s: kafka: invalid APIKey %q", where, k.APIKey)
					case k.Topic != "" && (len(k.Topic) > 255 || !kafkaTopicPattern.MatchString(k.Topic)):
						bad("%s: kafka: invalid Topic name %q", where, k.Topic)
					}
					if k.APIVersion != "" {
						if v, err := strconv.ParseInt(k.APIVersion, 10, 16); err != nil || v < 0 {
							bad("%s: kafka: invalid APIVersion %q", where, k.APIVersion)
						}
					}
				}
				for _, h := range r.Rules.HTTP {
					for _, re := range []string{h.Method, h.Path, h.Host} {
						if _, err := regexp.Compile(re); err != nil {
							bad("%s: bad http regex %q", where, re)
						}
					}
				}
			}
		}
	}
	// Cilium refuses a rule that mixes kinds of peers.
	peers := func(where string, counts map[string]int) {
		var set []string
		for k, n := range counts {
			if n > 0 {
				set = append(set, k)
			}
		}
		if len(set) > 1 {
			sort.Strings(set)
			bad("%s: Combining %s is not supported yet", where, strings.Join(set, " and "))
		}
	}
	for i := range s.Ingress {
		r := &s.Ingress[i]
		for j := range r.FromEndpoints {
			sel("ingress.fromEndpoints", &r.FromEndpoints[j])
		}
		cidrSet("ingress.fromCIDRSet", r.FromCIDRSet)
		ents("ingress.fromEntities", r.FromEntities)
		ports("ingress.toPorts", r.ToPorts, true)
		peers("ingress", map[string]int{"FromEndpoints": len(r.FromEndpoints), "FromCIDR": len(r.FromCIDR),
			"FromCIDRSet": len(r.FromCIDRSet), "FromEntities": len(r.FromEntities)})
	}
	for i := range s.Egress {
		r := &s.Egress[i]
		for j := range r.ToEndpoints {
			sel("egress.toEndpoints", &r.ToEndpoints[j])
		}
		cidrSet("egress.toCIDRSet", r.ToCIDRSet)
		ents("egress.toEntities", r.ToEntities)
		dnsSel("egress.toFQDNs", r.ToFQDNs)
		ports("egress.toPorts", r.ToPorts, false)
		peers("egress", map[string]int{"ToEndpoints": len(r.ToEndpoints), "ToCIDR": len(r.ToCIDR),
			"ToCIDRSet": len(r.ToCIDRSet), "ToEntities": len(r.ToEntities), "ToFQDNs": len(r.ToFQDNs)})
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
