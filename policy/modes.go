package policy

import (
	"fmt"
	"maps"
	"sort"
)

// Overrides are the modes changed at runtime (API, auto-promotion), to be
// carried over to a reloaded policy with WithOverrides.
type Overrides struct {
	Default Mode            // ModeUnset: the policy's default mode
	Groups  map[string]Mode // group name -> mode
}

// GroupMode describes one workload group's mode for the API.
type GroupMode struct {
	Group       string
	Mode        Mode // in force
	PolicyMode  Mode // as the policy says (its default mode when the group sets none)
	Overridden  bool // Mode was set at runtime
	AutoPromote *AutoPromote
}

// WithMode returns a plan that runs workload group group in mode m. The
// result shares the compiled rules with p; p is unchanged.
func (p *Plan) WithMode(group string, m Mode) (*Plan, error) {
	gi, ok := p.workloadGroup(group)
	if !ok {
		return nil, fmt.Errorf("policy: set mode of %q: no such workload group", group)
	}
	if !m.settable() {
		return nil, fmt.Errorf("policy: set mode of %q: bad mode %v", group, m)
	}
	q := p.clone()
	q.modes[gi] = m
	q.overrides.Groups[group] = m
	return q, nil
}

// WithDefaultMode returns a plan whose default mode is m.
func (p *Plan) WithDefaultMode(m Mode) (*Plan, error) {
	if !m.settable() {
		return nil, fmt.Errorf("policy: set default mode: bad mode %v", m)
	}
	q := p.clone()
	q.def = m
	q.overrides.Default = m
	return q, nil
}

// WithOverrides applies runtime overrides (from another plan's Overrides)
// and returns the plan and the names of groups it does not have, which are
// skipped.
func (p *Plan) WithOverrides(o Overrides) (*Plan, []string) {
	q := p.clone()
	var unknown []string
	if o.Default != ModeUnset {
		q.def, q.overrides.Default = o.Default, o.Default
	}
	for g, m := range o.Groups {
		gi, ok := q.workloadGroup(g)
		if !ok || !m.settable() {
			unknown = append(unknown, g)
			continue
		}
		q.modes[gi] = m
		q.overrides.Groups[g] = m
	}
	sort.Strings(unknown)
	return q, unknown
}

// workloadGroup returns the index of the workload (selector) group named
// name.
func (p *Plan) workloadGroup(name string) (int32, bool) {
	gi, ok := p.c.byName[name]
	return gi, ok && p.c.groups[gi].kind == GroupSelector
}

// settable reports whether m is a mode a group can be set to.
func (m Mode) settable() bool { return m >= ModeLearn && m <= ModeProtect }

func (p *Plan) clone() *Plan {
	q := *p
	q.modes = append([]Mode(nil), p.modes...)
	q.overrides.Groups = maps.Clone(p.overrides.Groups)
	if q.overrides.Groups == nil {
		q.overrides.Groups = map[string]Mode{}
	}
	return &q
}

// Overrides returns the modes set at runtime on this plan.
func (p *Plan) Overrides() Overrides {
	return Overrides{Default: p.overrides.Default, Groups: maps.Clone(p.overrides.Groups)}
}

// DefaultMode returns the mode of workloads in no group.
func (p *Plan) DefaultMode() Mode { return p.def }

// Mode returns the mode in force for a workload group.
func (p *Plan) Mode(group string) (Mode, bool) {
	gi, ok := p.workloadGroup(group)
	if !ok {
		return ModeUnset, false
	}
	if m := p.modes[gi]; m != ModeUnset {
		return m, true
	}
	return p.def, true
}

// Modes lists the workload groups and their modes, sorted by name.
func (p *Plan) Modes() []GroupMode {
	var out []GroupMode
	pol := p.c.pol
	for i := range pol.Groups {
		g := &pol.Groups[i]
		if g.Kind != GroupSelector {
			continue
		}
		m, _ := p.Mode(g.Name)
		_, over := p.overrides.Groups[g.Name]
		out = append(out, GroupMode{Group: g.Name, Mode: m, PolicyMode: pol.ModeOf(g), Overridden: over, AutoPromote: g.AutoPromote})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}
