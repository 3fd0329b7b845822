package modes

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// ErrUnknownGroup is returned (wrapped) by Set for a group the policy does
// not define.
var ErrUnknownGroup = errors.New("unknown group")

// Source says where a group's current mode comes from.
type Source string

// The sources of a mode.
const (
	FromPolicy    Source = "policy"    // the policy file (or its default mode)
	FromOperator  Source = "operator"  // set through the API / CLI
	FromPromotion Source = "promotion" // auto-promotion
)

// Entry is one group's current mode.
type Entry struct {
	Group string `json:"group"`
	Mode  Mode   `json:"mode"`
	// PolicyMode is the mode the policy gives the group (its own mode or the
	// policy's default).
	PolicyMode Mode   `json:"policy_mode"`
	Source     Source `json:"source"`
	// Since is when the mode last changed (zero for a policy mode never
	// changed since the agent started).
	Since time.Time `json:"since,omitzero"`
}

// Change describes one mode change made by Set.
type Change struct {
	Group    string
	From, To Mode
	Source   Source
}

// Table is the mode of every policy group. It is safe for concurrent use.
type Table struct {
	now func() time.Time

	mu       sync.RWMutex
	def      Mode              // mode of workloads in no group
	groups   map[string]*Entry // the policy's groups
	pending  map[string]Entry  // restored overrides waiting for the policy
	gen      uint64            // bumped on every change (persistence skips unchanged tables)
	hasGroup bool              // SetPolicy was called at least once
}

// New returns a table whose default mode is def and with no groups; now is
// the clock (time.Now when nil).
func New(def Mode, now func() time.Time) *Table {
	if now == nil {
		now = time.Now
	}
	if def == Unset {
		def = Learn
	}
	return &Table{now: now, def: def, groups: map[string]*Entry{}, pending: map[string]Entry{}}
}

// SetPolicy installs the groups of a newly loaded policy: group name → the
// mode the policy gives it (Unset: the policy default def). Overrides made
// at run time survive when the group still exists with the same policy mode
// (see the package comment). It returns the groups whose current mode
// changed.
func (t *Table) SetPolicy(def Mode, groups map[string]Mode) []Change {
	if def == Unset {
		def = Learn
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.groups
	t.def = def
	t.groups = make(map[string]*Entry, len(groups))
	var changes []Change
	for name, pm := range groups {
		if pm == Unset {
			pm = def
		}
		e := &Entry{Group: name, Mode: pm, PolicyMode: pm, Source: FromPolicy}
		prev, had := old[name]
		switch {
		case had && prev.Source != FromPolicy && prev.PolicyMode == pm:
			*e = *prev // keep the override
		case !had && t.pending[name].Source != "" && t.pending[name].PolicyMode == pm:
			*e = t.pending[name] // restored override
		}
		if had && prev.Mode != e.Mode {
			e.Since = t.now()
			changes = append(changes, Change{Group: name, From: prev.Mode, To: e.Mode, Source: e.Source})
		}
		t.groups[name] = e
	}
	t.pending = map[string]Entry{}
	t.hasGroup = true
	t.gen++
	sort.Slice(changes, func(i, j int) bool { return changes[i].Group < changes[j].Group })
	return changes
}

// Set changes the mode of group. It returns an error wrapping
// ErrUnknownGroup when the policy has no such group.
func (t *Table) Set(group string, m Mode, src Source) (Change, error) {
	if m == Unset {
		return Change{}, fmt.Errorf("modes: set %q: no mode given", group)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.groups[group]
	if !ok {
		return Change{}, fmt.Errorf("modes: set %q: %w %q", group, ErrUnknownGroup, group)
	}
	if m == e.PolicyMode && src == FromOperator {
		src = FromPolicy // setting it back to the file's mode clears the override
	}
	c := Change{Group: group, From: e.Mode, To: m, Source: src}
	if e.Mode == m && e.Source == src {
		return c, nil
	}
	e.Mode, e.Source, e.Since = m, src, t.now()
	t.gen++
	return c, nil
}

// Mode returns the current mode of group; ok is false for a group the policy
// does not define.
func (t *Table) Mode(group string) (m Mode, ok bool) {
	t.mu.RLock()
	e, ok := t.groups[group]
	if ok {
		m = e.Mode
	}
	t.mu.RUnlock()
	return m, ok
}

// Default returns the mode of workloads in no group.
func (t *Table) Default() Mode {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.def
}

// List returns every group's entry, sorted by group name.
func (t *Table) List() []Entry {
	t.mu.RLock()
	out := make([]Entry, 0, len(t.groups))
	for _, e := range t.groups {
		out = append(out, *e)
	}
	t.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// Generation returns a number that changes whenever the table does.
func (t *Table) Generation() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.gen
}

// persisted is the saved form of the table: the run-time overrides only
// (the policy's own modes come from the policy).
type persisted struct {
	Overrides []Entry `json:"overrides"`
}

// MarshalJSON saves the run-time overrides (pending ones included).
func (t *Table) MarshalJSON() ([]byte, error) {
	t.mu.RLock()
	p := persisted{Overrides: []Entry{}}
	for _, e := range t.groups {
		if e.Source != FromPolicy {
			p.Overrides = append(p.Overrides, *e)
		}
	}
	for _, e := range t.pending {
		p.Overrides = append(p.Overrides, e)
	}
	t.mu.RUnlock()
	sort.Slice(p.Overrides, func(i, j int) bool { return p.Overrides[i].Group < p.Overrides[j].Group })
	return json.Marshal(p)
}

// UnmarshalJSON restores overrides saved by MarshalJSON. They apply to the
// policy installed next by SetPolicy (or at once to groups already
// installed) under the usual rule: only where the group's policy mode is
// still the one the override was made against.
//
// Every override is checked before any applies: a file with one bad
// override restores nothing (the caller treats it as corrupt).
func (t *Table) UnmarshalJSON(b []byte) error {
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("modes: restore: %w", err)
	}
	seen := make(map[string]bool, len(p.Overrides))
	for _, o := range p.Overrides {
		if err := checkOverride(o); err != nil {
			return fmt.Errorf("modes: restore: override %+v: %w", o, err)
		}
		if seen[o.Group] {
			return fmt.Errorf("modes: restore: group %q has two overrides", o.Group)
		}
		seen[o.Group] = true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range p.Overrides {
		if !t.hasGroup {
			t.pending[o.Group] = o
			continue
		}
		if e, ok := t.groups[o.Group]; ok && e.PolicyMode == o.PolicyMode {
			*e = o
		}
	}
	t.gen++
	return nil
}

// checkOverride reports what makes a saved override unusable: it must name
// a group, the mode set, the policy's mode it was made against, and who
// set it (the operator or auto-promotion; the policy's own modes are not
// saved).
func checkOverride(o Entry) error {
	switch {
	case o.Group == "":
		return errors.New("no group")
	case o.Mode == Unset:
		return errors.New("no mode")
	case o.PolicyMode == Unset:
		return errors.New("no policy mode")
	case o.Source != FromOperator && o.Source != FromPromotion:
		return fmt.Errorf("source %q (want %s or %s)", o.Source, FromOperator, FromPromotion)
	}
	return nil
}
