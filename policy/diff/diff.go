// Package diff compares two policies and says in words what changed:
// what was added or removed, and what was widened (allows more) or narrowed
// (allows less), so that a reviewer sees at once whether a change opens
// anything.
package diff

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"bulkhead.dev/bulkhead/policy"
)

// Kind classifies a change.
type Kind uint8

// The kinds of change, in output order.
const (
	Added    Kind = iota // a group or rule that did not exist
	Removed              // a group or rule that no longer exists
	Widened              // allows more (or enforces less) than before
	Narrowed             // allows less (or enforces more) than before
	Changed              // different, neither strictly wider nor narrower
)

func (k Kind) String() string {
	return [...]string{"added", "removed", "widened", "narrowed", "changed"}[k]
}

// Change is one difference.
type Change struct {
	Kind    Kind
	Subject string // "defaultMode", "group api", "rule frontend-to-api"
	Detail  string
}

func (c Change) String() string {
	return fmt.Sprintf("%-8s %s: %s", c.Kind, c.Subject, c.Detail)
}

// Diff returns the changes from old to new, sorted by subject (default
// mode, then groups, then rules, by name), then kind, then detail. Rules are
// matched by ID: name rules so that a moved rule is not seen as removed and
// added.
func Diff(old, new *policy.Policy) []Change {
	d := &differ{}
	if om, nm := old.EffectiveDefaultMode(), new.EffectiveDefaultMode(); om != nm {
		d.add(modeKind(om, nm), "defaultMode", "%s", modeDetail(om, nm))
	}
	d.groups(old, new)
	d.rules(old, new)
	slices.SortFunc(d.out, func(a, b Change) int {
		return cmp.Or(cmp.Compare(subjectRank(a.Subject), subjectRank(b.Subject)),
			strings.Compare(a.Subject, b.Subject), cmp.Compare(a.Kind, b.Kind), strings.Compare(a.Detail, b.Detail))
	})
	return d.out
}

func subjectRank(s string) int {
	switch {
	case s == "defaultMode":
		return 0
	case strings.HasPrefix(s, "group "):
		return 1
	}
	return 2
}

// Write prints the changes one per line, or "no changes".
func Write(w io.Writer, changes []Change) error {
	if len(changes) == 0 {
		_, err := fmt.Fprintln(w, "no changes")
		return err
	}
	for _, c := range changes {
		if _, err := fmt.Fprintln(w, c); err != nil {
			return fmt.Errorf("diff: write: %w", err)
		}
	}
	return nil
}

type differ struct{ out []Change }

func (d *differ) add(k Kind, subject, format string, a ...any) {
	d.out = append(d.out, Change{Kind: k, Subject: subject, Detail: fmt.Sprintf(format, a...)})
}

func modeKind(old, new policy.Mode) Kind {
	if new < old {
		return Widened
	}
	return Narrowed
}

func modeDetail(old, new policy.Mode) string {
	if new < old {
		return fmt.Sprintf("mode %s → %s (less enforcing)", old, new)
	}
	return fmt.Sprintf("mode %s → %s (more enforcing)", old, new)
}

func (d *differ) groups(old, new *policy.Policy) {
	for i := range old.Groups {
		og := &old.Groups[i]
		if new.Group(og.Name) == nil {
			d.add(Removed, "group "+og.Name, "%s", describeGroup(old, og))
			if og.Kind == policy.GroupSelector {
				d.modeFallback("group "+og.Name, "its workloads", old.ModeOf(og), new)
			}
		}
	}
	for i := range new.Groups {
		ng := &new.Groups[i]
		og := old.Group(ng.Name)
		if og == nil {
			d.add(Added, "group "+ng.Name, "%s", describeGroup(new, ng))
			continue
		}
		d.group(old, new, og, ng)
	}
}

func describeGroup(p *policy.Policy, g *policy.Group) string {
	var s string
	switch g.Kind {
	case policy.GroupSelector:
		s = fmt.Sprintf("workloads %s, mode %s", g.Selector, p.ModeOf(g))
	case policy.GroupCIDR:
		s = "cidrs " + joinPrefixes(g.CIDRs)
		if len(g.Except) > 0 {
			s += " except " + joinPrefixes(g.Except)
		}
	case policy.GroupFQDN:
		s = "fqdns " + strings.Join(g.FQDNs, ", ")
	}
	return s
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func (d *differ) group(old, new *policy.Policy, og, ng *policy.Group) {
	subj := "group " + ng.Name
	if og.Kind != ng.Kind {
		d.add(Changed, subj, "%s → %s", describeGroup(old, og), describeGroup(new, ng))
		if og.Kind == policy.GroupSelector {
			d.modeFallback(subj, "its workloads", old.ModeOf(og), new)
		}
		return
	}
	switch ng.Kind {
	case policy.GroupSelector:
		if d.selector(subj, og.Selector, ng.Selector) {
			d.modeFallback(subj, "workloads it no longer selects", old.ModeOf(og), new)
		}
		if om, nm := old.ModeOf(og), new.ModeOf(ng); om != nm {
			d.add(modeKind(om, nm), subj, "%s", modeDetail(om, nm))
		}
		if oa, na := promoteString(og.AutoPromote), promoteString(ng.AutoPromote); oa != na {
			d.add(Changed, subj, "autoPromote %s → %s", oa, na)
		}
	case policy.GroupCIDR:
		// New prefixes not inside old ones add addresses; removed excepts too.
		for _, p := range ng.CIDRs {
			if !prefixCovered(og.CIDRs, p) {
				d.add(Widened, subj, "cidr %s added", p)
			}
		}
		for _, p := range og.CIDRs {
			if !prefixCovered(ng.CIDRs, p) {
				d.add(Narrowed, subj, "cidr %s removed", p)
			}
		}
		for _, p := range og.Except {
			if !prefixCovered(ng.Except, p) {
				d.add(Widened, subj, "except %s removed", p)
			}
		}
		for _, p := range ng.Except {
			if !prefixCovered(og.Except, p) {
				d.add(Narrowed, subj, "except %s added", p)
			}
		}
	case policy.GroupFQDN:
		for _, f := range ng.FQDNs {
			if !patternCovered(policy.AttrName, og.FQDNs, f) {
				d.add(Widened, subj, "fqdn %s added", f)
			}
		}
		for _, f := range og.FQDNs {
			if !patternCovered(policy.AttrName, ng.FQDNs, f) {
				d.add(Narrowed, subj, "fqdn %s removed", f)
			}
		}
	}
}

func promoteString(a *policy.AutoPromote) string {
	if a == nil {
		return "none"
	}
	return fmt.Sprintf("after %s to %s", policy.FormatDuration(a.After), a.To)
}

func prefixCovered(list []netip.Prefix, p netip.Prefix) bool {
	for _, c := range list {
		if c.Addr().Is4() == p.Addr().Is4() && c.Bits() <= p.Bits() && c.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func patternCovered(attr policy.Attr, list []string, p string) bool {
	for _, c := range list {
		if policy.Covers(attr, c, p) {
			return true
		}
	}
	return false
}

// modeFallback reports that workloads leaving a group that ran in mode m
// run in a weaker mode under the new policy unless another group selects
// them: the default mode, when it is below m. Which workloads those are
// depends on the cluster, so the change says where they go, not who they
// are.
func (d *differ) modeFallback(subj, who string, m policy.Mode, new *policy.Policy) {
	if def := new.EffectiveDefaultMode(); def < m {
		d.add(Widened, subj, "%s leave %s mode: in no other group they run in the default mode %s (less enforcing)", who, m, def)
	}
}

// selector compares two selectors by their requirements: dropping one
// widens, adding one narrows. It reports whether some workloads selected
// before may no longer be (narrowed or changed).
func (d *differ) selector(subj string, o, n *policy.Selector) bool {
	ot, nt := terms(o), terms(n)
	var added, removed []string
	for _, t := range nt {
		if !slices.Contains(ot, t) {
			added = append(added, t)
		}
	}
	for _, t := range ot {
		if !slices.Contains(nt, t) {
			removed = append(removed, t)
		}
	}
	switch {
	case len(added) == 0 && len(removed) == 0:
		return false
	case len(added) == 0:
		d.add(Widened, subj, "selector %s → %s (requirement %s dropped)", o, n, strings.Join(removed, ", "))
		return false
	case len(removed) == 0:
		d.add(Narrowed, subj, "selector %s → %s (requirement %s added)", o, n, strings.Join(added, ", "))
	default:
		d.add(Changed, subj, "selector %s → %s", o, n)
	}
	return true
}

func terms(s *policy.Selector) []string {
	one := func(r policy.Requirement) []string {
		cp := &policy.Selector{MatchExpressions: []policy.Requirement{r}}
		return []string{cp.String()}
	}
	var out []string
	for k, v := range s.MatchLabels {
		out = append(out, k+"="+v)
	}
	for _, r := range s.MatchExpressions {
		out = append(out, one(r)...)
	}
	slices.Sort(out)
	return out
}
