// Package export writes a Bulkhead policy as Kubernetes NetworkPolicy or
// CiliumNetworkPolicy YAML, for teams that enforce with those tools.
//
// Each workload (selector) group becomes one policy object selecting its
// pods, with an ingress rule per Bulkhead rule into the group and an egress
// rule per Bulkhead rule out of it. Whatever the target cannot express — an
// app, an L7 condition (or one the target refuses where the rule would put
// it), an FQDN or host peer, a mode, a selector on the workload label — is
// written as a YAML comment at the place it would have gone, saying what was
// left out and whether the exported policy is therefore wider or narrower.
package export

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"bulkhead.dev/bulkhead/policy"
)

// Format names an export format.
type Format string

// The formats.
const (
	Kubernetes Format = "kubernetes"
	Cilium     Format = "cilium"
)

// Write exports pol in format f.
func Write(f Format, pol *policy.Policy, opt Options) ([]byte, error) {
	switch f {
	case Kubernetes:
		return KubernetesYAML(pol, opt)
	case Cilium:
		return CiliumYAML(pol, opt)
	}
	return nil, fmt.Errorf("export: unknown format %q (want kubernetes or cilium)", f)
}

// sides lists, for one selector group, the rules into it (ingress) and out
// of it (egress), in policy order.
func sides(pol *policy.Policy, group string) (ingress, egress []*policy.Rule) {
	for i := range pol.Rules {
		r := &pol.Rules[i]
		if r.To == group {
			ingress = append(ingress, r)
		}
		if r.From == group {
			egress = append(egress, r)
		}
	}
	return ingress, egress
}

// peerGroup returns the group a rule names on the far side, nil for the
// built-in groups.
func peerGroup(pol *policy.Policy, name string) *policy.Group { return pol.Group(name) }

// perGroup exports one object of the given kind per workload group: spec
// builds the object's spec from the rules into and out of the group, and
// perGroup adds apiVersion, kind, metadata and the header comment.
func perGroup(pol *policy.Policy, opt Options, apiVersion, kind string, spec func(g *policy.Group, ingress, egress []*policy.Rule) policy.YAMLMap) ([]byte, error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	var docs []*yaml.Node
	for i := range pol.Groups {
		g := &pol.Groups[i]
		if g.Kind != policy.GroupSelector {
			continue
		}
		ingress, egress := sides(pol, g.Name)
		doc := policy.Map().
			Add("apiVersion", policy.Str(apiVersion)).
			Add("kind", policy.Str(kind)).
			AddMap("metadata", policy.Map().
				Add("name", policy.Str(objectName(opt.Prefix, g.Name))).
				Add("namespace", policy.Str(opt.Namespace)).
				AddMap("labels", policy.Map().Add("app.kubernetes.io/managed-by", policy.Str("bulkhead")))).
			AddMap("spec", spec(g, ingress, egress))
		docs = append(docs, policy.Commented(doc.Node, header(pol, g, kind, opt)))
	}
	if len(docs) == 0 {
		return []byte("# no workload group: nothing to export\n"), nil
	}
	data, err := policy.EncodeYAML(docs...)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", kind, err)
	}
	return data, nil
}

// header is the comment at the top of every exported object.
func header(pol *policy.Policy, g *policy.Group, format string, opt Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Exported by bulkhead from group %s (%s) to %s.\n", g.Name, g.Selector, format)
	fmt.Fprintf(&b, "Selectors match pods of namespace %s.\n", opt.Namespace)
	switch m := pol.ModeOf(g); m {
	case policy.ModeLearn, policy.ModeMonitor:
		fmt.Fprintf(&b, "The group runs in %s mode in Bulkhead (no drop); this policy enforces.\n", m)
	}
	switch workloadLabelEffect(g.Selector) {
	case selectsNone:
		fmt.Fprintf(&b, "%s As exported, this object selects no pod: the group's pods are not restricted by it (wider).\n", workloadLabelWarning)
	case selectsMore:
		fmt.Fprintf(&b, "%s As exported, the requirement on it holds for every pod: this object also restricts pods the group does not select (narrower for them).\n", workloadLabelWarning)
	}
	return b.String()
}

func ruleComment(r *policy.Rule, notes []string) string {
	s := "rule " + r.ID
	if len(notes) > 0 {
		s += ":\n" + strings.Join(notes, "\n")
	}
	return s
}

// l7Lost describes the L7 conditions an export drops, and why when the
// target has a reason beyond not having such rules: the target then allows
// every request of the rule's ports (layer "L4") or of the peer ("L3").
func l7Lost(r *policy.Rule, target, why, layer string) string {
	var entries []string
	for i := range r.Matches {
		entries = append(entries, "{"+r.Matches[i].Describe(r.Kind)+"}")
	}
	if why != "" {
		why = " (" + why + ")"
	}
	return fmt.Sprintf("NOT EXPRESSIBLE in %s: %s conditions %s%s; exported at %s only (wider than the Bulkhead rule)",
		target, r.Kind, strings.Join(entries, " "), why, layer)
}

func appLost(r *policy.Rule, target string) string {
	return fmt.Sprintf("NOT EXPRESSIBLE in %s: app %s; any protocol on these ports is allowed (wider than the Bulkhead rule)", target, r.AppString())
}

func labelSelector(s *policy.Selector) *yaml.Node {
	m := policy.SelectorNode(s)
	return m.Node
}
