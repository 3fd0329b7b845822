package diff

import (
	"fmt"
	"strings"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

// ruleKey is what pairs rules whose IDs differ: their groups and app.
type ruleKey struct{ from, to, app string }

func keyOf(r *policy.Rule) ruleKey { return ruleKey{r.From, r.To, r.AppString()} }

// rules pairs the rules of both policies and compares each pair. Named
// rules pair by name. An unnamed rule's ID comes from its file and position,
// so unnamed rules pair by ID only when they also have the same groups and
// app (a rule inserted before another shifts the IDs after it). The rules
// left on both sides then pair by groups and app when that is unambiguous,
// whether named or not: a rule that gets a name, loses it or moves is
// reported as one rule whose ID changed, never silently and never as
// removed and added.
func (d *differ) rules(old, new *policy.Policy) {
	pairs := map[*policy.Rule]*policy.Rule{} // new -> old
	usedOld := map[*policy.Rule]bool{}
	for i := range new.Rules {
		nr := &new.Rules[i]
		or := old.Rule(nr.ID)
		if or != nil && (nr.Name != "" || keyOf(or) == keyOf(nr)) {
			pairs[nr], usedOld[or] = or, true
		}
	}
	leftOld, leftNew := map[ruleKey][]*policy.Rule{}, map[ruleKey][]*policy.Rule{}
	for i := range old.Rules {
		if r := &old.Rules[i]; !usedOld[r] {
			leftOld[keyOf(r)] = append(leftOld[keyOf(r)], r)
		}
	}
	for i := range new.Rules {
		if r := &new.Rules[i]; pairs[r] == nil {
			leftNew[keyOf(r)] = append(leftNew[keyOf(r)], r)
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
			d.add(Changed, subj, "ID %s → %s (decisions and events name the rule by its ID)", or.ID, nr.ID)
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
	case o.App == l7.HTTP && n.App == l7.HTTP2: // app http also allows HTTP/2
		d.add(Narrowed, subj, "app http → http2 (HTTP/1.x no longer allowed)")
	case o.App == l7.HTTP2 && n.App == l7.HTTP:
		d.add(Widened, subj, "app http2 → http (HTTP/1.x allowed too)")
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
