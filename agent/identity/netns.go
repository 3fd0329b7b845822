package identity

import (
	"path"
	"strings"
)

// NetNSNames names a container after its network namespace: the name with
// the longest matching prefix and then the longest matching suffix removed
// ("bh-demo-frontend" with prefix "bh-demo-" → "frontend"). Namespaces whose
// name matches an Ignore pattern, and names that strip to nothing, name no
// workload. The workload carries the label LabelNetNS with the full
// namespace name.
type NetNSNames struct {
	StripPrefixes []string
	StripSuffixes []string
	// Ignore holds path.Match patterns, e.g. "cni-*" for the random names
	// CNI plugins give namespaces.
	Ignore []string
}

// Name implements Source.
func (n *NetNSNames) Name() string { return "netns" }

// Workload implements Source.
func (n *NetNSNames) Workload(c Container) (Workload, bool) {
	name, ok := n.WorkloadName(c.NetNS)
	if !ok {
		return Workload{}, false
	}
	return Workload{Name: name, Labels: map[string]string{LabelNetNS: c.NetNS}}, true
}

// WorkloadName returns the workload name for namespace ns.
func (n *NetNSNames) WorkloadName(ns string) (string, bool) {
	if ns == "" {
		return "", false
	}
	for _, p := range n.Ignore {
		if ok, _ := path.Match(p, ns); ok {
			return "", false
		}
	}
	name := strings.TrimPrefix(ns, longest(n.StripPrefixes, func(p string) bool { return strings.HasPrefix(ns, p) }))
	name = strings.TrimSuffix(name, longest(n.StripSuffixes, func(s string) bool { return strings.HasSuffix(name, s) }))
	if name == "" {
		return "", false
	}
	return name, true
}

// longest returns the longest of list for which match is true ("" if none).
func longest(list []string, match func(string) bool) string {
	best := ""
	for _, s := range list {
		if len(s) > len(best) && match(s) {
			best = s
		}
	}
	return best
}
