package diff

import (
	"fmt"
	"strings"

	"bulkhead.dev/bulkhead/policy"
)

// rules pairs the rules of both policies by ID, then pairs each old unnamed
// rule left (its ID derives from a file name and a position) with a new rule
// left that has the same groups and app, when that is unambiguous (a rule
// given a name is then not reported as removed and added), and compares
// each pair.
func (d *differ) rules(old, new *policy.Policy) {
	pairs := map[*policy.Rule]*policy.Rule{} // new -> old
	usedOld := map[*policy.Rule]bool{}
	for i := range new.Rules {
		if or := old.Rule(new.Rules[i].ID); or != nil {
			pairs[&new.Rules[i]], usedOld[or] = or, true
		}
	}
	type key struct{ from, to, app string }
	leftOld, leftNew := map[key][]*policy.Rule{}, map[key][]*policy.Rule{}
	for i := range old.Rules {
		if r := &old.Rules[i]; !usedOld[r] && r.Name == "" {
			k := key{r.From, r.To, r.AppString()}
			leftOld[k] = append(leftOld[k], r)
		}
	}
	for i := range new.Rules {
		if r := &new.Rules[i]; pairs[r] == nil {
			k := key{r.From, r.To, r.AppString()}
			leftNew[k] = append(leftNew[k], r)
		}
	}
	for k, ns := range leftNew {
		if os := leftOld[k]; len(os) == 1 && len(ns) == 1 {
			pairs[ns[0]], usedOld[os[0]] = os[0], true
		}
	}
	for i := range old.Rules {
		if or := &old.Rules[i]; !usedOld[or] {
			d.add(Removed, "rule "+or.ID, "%s", describeRule(or))
		}
	}
	for i := range new.Rules {
		nr := &new.Rules[i]
		or := pairs[nr]
		if or == nil {
			d.add(Added, "rule "+nr.ID, "%s", describeRule(nr))
			continue
		}
		subj := "rule " + nr.ID
		if or.ID != nr.ID {
			subj += " (was " + or.ID + ")"
		}
		d.rule(subj, or, nr)
	}
}

func describeRule(r *policy.Rule) string {
	s := fmt.Sprintf("from %s to %s, ports %s, app %s", r.From, r.To, portsString(r.Ports), r.AppString())
	if r.Kind != policy.KindNone {
		s += fmt.Sprintf(", %s conditions: %d", r.Kind, len(r.Matches))
	}
	return s
}

func portsString(ps []policy.PortRange) string {
	if len(ps) == 0 {
		return "any"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (d *differ) rule(subj string, o, n *policy.Rule) {
	if o.From != n.From {
		d.add(Changed, subj, "from %s → %s", o.From, n.From)
	}
	if o.To != n.To {
		d.add(Changed, subj, "to %s → %s", o.To, n.To)
	}
	if k, ok := compareSets(portsCover(n.Ports, o.Ports), portsCover(o.Ports, n.Ports)); ok {
		d.add(k, subj, "ports %s → %s", portsString(o.Ports), portsString(n.Ports))
	}
	switch {
	case o.AnyApp == n.AnyApp && o.App == n.App:
	case n.AnyApp:
		d.add(Widened, subj, "app %s → any", o.AppString())
	case o.AnyApp:
		d.add(Narrowed, subj, "app any → %s", n.AppString())
	default:
		d.add(Changed, subj, "app %s → %s", o.AppString(), n.AppString())
	}
	switch {
	case o.Kind == policy.KindNone && n.Kind == policy.KindNone:
	case n.Kind == policy.KindNone:
		d.add(Widened, subj, "%s conditions removed: every %s request allowed", o.Kind, n.AppString())
	case o.Kind == policy.KindNone:
		d.add(Narrowed, subj, "%s conditions added: only %d kinds of request allowed", n.Kind, len(n.Matches))
	case o.Kind != n.Kind:
		d.add(Changed, subj, "%s conditions → %s conditions", o.Kind, n.Kind)
	default:
		d.conditions(subj, n.Kind, o.Matches, n.Matches)
	}
}

// compareSets turns "new covers old" and "old covers new" into a change
// kind; ok is false when the two are equivalent.
func compareSets(newCoversOld, oldCoversNew bool) (Kind, bool) {
	switch {
	case newCoversOld && oldCoversNew:
		return 0, false
	case newCoversOld:
		return Widened, true
	case oldCoversNew:
		return Narrowed, true
	}
	return Changed, true
}

// portsCover reports whether the ports a allow include every port b allows
// (an empty list allows every port).
func portsCover(a, b []policy.PortRange) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		b = []policy.PortRange{policy.AnyPort}
	}
	for _, pb := range b {
		if !rangeCovered(a, pb) {
			return false
		}
	}
	return true
}

// rangeCovered checks that the union of list includes r, port by port range.
func rangeCovered(list []policy.PortRange, r policy.PortRange) bool {
	protos := []uint8{uint8(r.Proto)}
	if r.Proto == 0 {
		protos = []uint8{6, 17}
	}
	for _, proto := range protos {
		lo := uint32(r.Lo)
		for lo <= uint32(r.Hi) {
			next := lo
			for _, p := range list {
				if (p.Proto == 0 || uint8(p.Proto) == proto) && uint32(p.Lo) <= lo && uint32(p.Hi) >= lo {
					next = max(next, uint32(p.Hi)+1)
				}
			}
			if next == lo {
				return false
			}
			lo = next
		}
	}
	return true
}

// matchCovers reports whether entry a allows every request entry b allows.
func matchCovers(k policy.L7Kind, a, b *policy.L7Match) bool {
	for _, f := range k.Fields() {
		av, bv := a.Values[f.Attr], b.Values[f.Attr]
		if av == "" {
			continue
		}
		if bv == "" || !policy.Covers(f.Attr, av, bv) {
			return false
		}
	}
	return true
}

func (d *differ) conditions(subj string, k policy.L7Kind, old, new []policy.L7Match) {
	covered := func(list []policy.L7Match, m *policy.L7Match) bool {
		for i := range list {
			if matchCovers(k, &list[i], m) {
				return true
			}
		}
		return false
	}
	for i := range new {
		n := &new[i]
		if covered(old, n) {
			continue
		}
		// Name the old entries this one generalises, if any.
		var was []string
		for j := range old {
			if matchCovers(k, n, &old[j]) {
				was = append(was, "{"+old[j].Describe(k)+"}")
			}
		}
		if len(was) > 0 {
			d.add(Widened, subj, "%s %s → {%s}", k, strings.Join(was, " "), n.Describe(k))
		} else {
			d.add(Widened, subj, "%s {%s} allowed", k, n.Describe(k))
		}
	}
	for j := range old {
		o := &old[j]
		if !covered(new, o) {
			d.add(Narrowed, subj, "%s {%s} no longer allowed", k, o.Describe(k))
		}
	}
}
