// Package promote decides when a workload group raises its own mode:
// learn → monitor → protect, one step at a time, after a configured quiet
// period with no new learned edge and no violation (the group's
// autoPromote setting in the policy).
//
// It is pure logic with an injected clock. The agent feeds it events
// (NewEdge, Violation, ModeSet), calls Due periodically with the modes in
// force, applies the moves it returns (policy.Plan.WithMode) and records
// them; every move carries its reason.
package promote

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"bulkhead.dev/bulkhead/policy"
)

// Move is one mode change decided by the promoter.
type Move struct {
	Group  string      `json:"group"`
	From   policy.Mode `json:"from"`
	To     policy.Mode `json:"to"`
	At     time.Time   `json:"at"`
	Reason string      `json:"reason"`
}

func (m Move) String() string {
	return fmt.Sprintf("%s %s: %s → %s: %s", m.At.UTC().Format(time.RFC3339), m.Group, m.From, m.To, m.Reason)
}

// MaxHistory bounds the moves History keeps.
const MaxHistory = 1000

type state struct {
	cfg        policy.AutoPromote
	quietSince time.Time // when lastEvent happened
	// lastEvent is what last restarted the quiet period. Events only store
	// a constant here (they come from the packet path: no allocation);
	// Due formats it with quietSince.
	lastEvent string
}

// eventConfigured is the lastEvent of a group whose quiet period started
// when auto-promotion was configured.
const eventConfigured = "auto-promotion configured"

// lastText describes the event that started the quiet period.
func (st *state) lastText() string {
	if st.lastEvent == eventConfigured {
		return st.lastEvent
	}
	return st.lastEvent + " at " + st.quietSince.UTC().Format(time.RFC3339)
}

// Promoter tracks quiet periods. It is safe for concurrent use.
type Promoter struct {
	mu      sync.Mutex
	clock   func() time.Time
	groups  map[string]*state
	history []Move
}

// New returns a promoter with no group configured. clock is the time source
// (time.Now when nil).
func New(clock func() time.Time) *Promoter {
	if clock == nil {
		clock = time.Now
	}
	return &Promoter{clock: clock, groups: map[string]*state{}}
}

// Configure sets the groups that auto-promote, from a plan's Modes (call it
// at start and after each reload). Groups that stay configured keep their
// quiet period; new ones start theirs now; the others are forgotten.
func (p *Promoter) Configure(groups []policy.GroupMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock()
	keep := map[string]*state{}
	for _, g := range groups {
		if g.AutoPromote == nil {
			continue
		}
		st := p.groups[g.Group]
		if st == nil {
			st = &state{quietSince: now, lastEvent: eventConfigured}
		}
		st.cfg = *g.AutoPromote
		keep[g.Group] = st
	}
	p.groups = keep
}

// NewEdge restarts the quiet period of the groups of a newly learned edge's
// local endpoints.
func (p *Promoter) NewEdge(groups ...string) { p.event("new edge", groups) }

// Violation restarts the quiet period of the groups of a violation's local
// endpoints. NewEdge and Violation do not allocate.
func (p *Promoter) Violation(groups ...string) { p.event("violation", groups) }

// ModeSet restarts the quiet period of a group whose mode was set by hand.
func (p *Promoter) ModeSet(group string) { p.event("mode set by hand", []string{group}) }

func (p *Promoter) event(what string, groups []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock()
	for _, g := range groups {
		if st := p.groups[g]; st != nil {
			st.quietSince, st.lastEvent = now, what
		}
	}
}

// Due returns the moves whose quiet period has elapsed, sorted by group:
// each configured group whose mode in force (as current reports it) is
// below its autoPromote.to moves up one step. The moves are recorded in
// History and restart the group's quiet period, so the next step needs
// another full quiet period.
func (p *Promoter) Due(current func(group string) (policy.Mode, bool)) []Move {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock()
	var moves []Move
	names := make([]string, 0, len(p.groups))
	for g := range p.groups {
		names = append(names, g)
	}
	slices.Sort(names)
	for _, g := range names {
		st := p.groups[g]
		mode, ok := current(g)
		if !ok || mode >= st.cfg.To || mode < policy.ModeLearn {
			continue
		}
		quiet := now.Sub(st.quietSince)
		if quiet < st.cfg.After {
			continue
		}
		m := Move{Group: g, From: mode, To: mode + 1, At: now,
			Reason: fmt.Sprintf("no new edge and no violation for %s (since %s, last: %s)",
				policy.FormatDuration(quiet.Truncate(time.Minute)), st.quietSince.UTC().Format(time.RFC3339), st.lastText())}
		moves = append(moves, m)
		st.quietSince, st.lastEvent = now, "promoted to "+m.To.String()
	}
	p.history = append(p.history, moves...)
	if over := len(p.history) - MaxHistory; over > 0 {
		p.history = slices.Delete(p.history, 0, over)
	}
	return moves
}

// Remaining returns how long until group may next move, and false when it
// is not configured.
func (p *Promoter) Remaining(group string) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.groups[group]
	if st == nil {
		return 0, false
	}
	return max(0, st.cfg.After-p.clock().Sub(st.quietSince)), true
}

// History returns the moves made, oldest first (at most MaxHistory).
func (p *Promoter) History() []Move {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.history)
}
