package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Selector selects workloads by their labels, with Kubernetes semantics:
// every matchLabels entry and every expression must hold. An empty selector
// selects every workload.
type Selector struct {
	MatchLabels      map[string]string
	MatchExpressions []Requirement
}

// Operator is a matchExpressions operator.
type Operator string

// The operators of Kubernetes label selectors.
const (
	OpIn           Operator = "In"
	OpNotIn        Operator = "NotIn"
	OpExists       Operator = "Exists"
	OpDoesNotExist Operator = "DoesNotExist"
)

// Requirement is one matchExpressions entry.
type Requirement struct {
	Key      string
	Operator Operator
	Values   []string
}

// WorkloadLabel is a label every workload carries in addition to its own:
// its name. Selectors can always pick a workload by it.
const WorkloadLabel = "bulkhead.dev/workload"

// Matches reports whether a workload with this name and these labels is
// selected.
func (s *Selector) Matches(name string, labels map[string]string) bool {
	get := func(k string) (string, bool) {
		if k == WorkloadLabel {
			return name, true
		}
		v, ok := labels[k]
		return v, ok
	}
	for k, v := range s.MatchLabels {
		if got, ok := get(k); !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		v, ok := get(r.Key)
		switch r.Operator {
		case OpIn:
			if !ok || !slices.Contains(r.Values, v) {
				return false
			}
		case OpNotIn:
			if ok && slices.Contains(r.Values, v) {
				return false
			}
		case OpExists:
			if !ok {
				return false
			}
		case OpDoesNotExist:
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// String renders the selector as "k=v,k2 in (a,b),!k3", sorted.
func (s *Selector) String() string {
	var parts []string
	for k, v := range s.MatchLabels {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	for _, r := range s.MatchExpressions {
		switch r.Operator {
		case OpIn:
			parts = append(parts, r.Key+" in ("+strings.Join(r.Values, ",")+")")
		case OpNotIn:
			parts = append(parts, r.Key+" notin ("+strings.Join(r.Values, ",")+")")
		case OpExists:
			parts = append(parts, r.Key)
		case OpDoesNotExist:
			parts = append(parts, "!"+r.Key)
		}
	}
	if len(parts) == 0 {
		return "(all workloads)"
	}
	return strings.Join(parts, ",")
}

// checkLabelKey validates a label key: an optional DNS-subdomain prefix and
// "/", then a name of at most 63 bytes of alphanumerics, '-', '_' and '.',
// starting and ending with an alphanumeric.
func checkLabelKey(k string) error {
	name := k
	if prefix, rest, ok := strings.Cut(k, "/"); ok {
		if err := checkDomainName(prefix); err != nil || len(prefix) > 253 {
			return fmt.Errorf("bad label key %q: bad prefix %q", k, prefix)
		}
		name = rest
	}
	if name == "" {
		return fmt.Errorf("bad label key %q: empty name", k)
	}
	if err := checkLabelValue(name); err != nil {
		return fmt.Errorf("bad label key %q: %w", k, err)
	}
	return nil
}

// checkLabelValue validates a label value: empty, or at most 63 bytes of
// alphanumerics, '-', '_' and '.', starting and ending with an alphanumeric.
func checkLabelValue(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > 63 {
		return fmt.Errorf("%q is longer than 63 bytes", v)
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !alnum(c) && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("%q has character %q (want letters, digits, '-', '_', '.')", v, c)
		}
	}
	if !alnum(v[0]) || !alnum(v[len(v)-1]) {
		return fmt.Errorf("%q must start and end with a letter or digit", v)
	}
	return nil
}

// checkSelectorValue validates a value a selector compares with label key:
// a label value, or for WorkloadLabel any workload name (1 to 253 printable
// bytes).
func checkSelectorValue(key, v string) error {
	if key != WorkloadLabel {
		return checkLabelValue(v)
	}
	if v == "" || len(v) > 253 {
		return fmt.Errorf("workload name %q: want 1 to 253 bytes", v)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return fmt.Errorf("workload name %q: character %q not allowed", v, v[i])
		}
	}
	return nil
}

// CheckLabel validates a label key and value.
func CheckLabel(key, value string) error {
	if err := checkLabelKey(key); err != nil {
		return err
	}
	return checkSelectorValue(key, value)
}
