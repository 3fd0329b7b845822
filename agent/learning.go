package agent

import (
	"bytes"
	"encoding/json"
	"fmt"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/decide"
	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/modes"
	"bulkhead.dev/bulkhead/agent/state"
	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/policy/learn"
)

// graphItem persists the learned graph in the state directory (graph.json):
// saved every state.interval when it changed and at shutdown, restored at
// start-up.
func (a *Agent) graphItem() state.Item {
	return state.Item{
		Name: "graph",
		Save: func() ([]byte, error) {
			var b bytes.Buffer
			snap := a.graph.Snapshot()
			if err := snap.WriteJSON(&b); err != nil {
				return nil, fmt.Errorf("agent: graph: %w", err)
			}
			return b.Bytes(), nil
		},
		Load: func(b []byte) error {
			snap, err := learn.ReadJSON(bytes.NewReader(b))
			if err != nil {
				return err
			}
			a.graph.Add(snap)
			return nil
		},
		Generation: a.decider.GraphGeneration,
	}
}

// graphJSON returns the learned graph, with the verdict counts per edge
// when verdicts is set (docs/graph.md).
func (a *Agent) graphJSON(verdicts bool) (json.RawMessage, error) {
	var b bytes.Buffer
	snap := a.graph.Snapshot()
	if err := snap.WriteJSON(&b); err != nil {
		return nil, fmt.Errorf("agent: graph: %w", err)
	}
	if !verdicts {
		return b.Bytes(), nil
	}
	out, err := json.Marshal(struct {
		Graph    json.RawMessage       `json:"graph"`
		Verdicts []decide.VerdictCount `json:"verdicts"`
	}{b.Bytes(), a.decider.Verdicts()})
	if err != nil {
		return nil, fmt.Errorf("agent: graph: %w", err)
	}
	return out, nil
}

// setBasePlan puts a newly loaded policy's plan in force (lp nil: the
// empty policy) with the modes of the mode table.
func (a *Agent) setBasePlan(lp *LoadedPolicy) {
	p, err := planOf(lp, a.modes.Default())
	if err != nil {
		a.log.Error("agent: cannot compile the empty policy", "err", err)
		return
	}
	a.planMu.Lock()
	a.basePlan = p
	a.planMu.Unlock()
	a.promoter.Configure(p.Modes())
	a.applyModes()
}

// applyModes gives the Decider the policy's plan with every group in the
// mode the mode table says (operator changes, promotions).
func (a *Agent) applyModes() {
	a.planMu.Lock()
	defer a.planMu.Unlock()
	p := a.basePlan
	if p == nil {
		return
	}
	var err error
	if def := policy.Mode(a.modes.Default()); def != p.DefaultMode() {
		if p, err = p.WithDefaultMode(def); err != nil {
			a.log.Error("agent: default mode", "err", err)
			return
		}
	}
	for _, e := range a.modes.List() {
		if m, ok := p.Mode(e.Group); ok && m != policy.Mode(e.Mode) {
			q, err := p.WithMode(e.Group, policy.Mode(e.Mode))
			if err != nil {
				a.log.Error("agent: group mode", "group", e.Group, "err", err)
				continue
			}
			p = q
		}
	}
	a.decider.SetPlan(p)
}

// setMode changes a group's mode (the operator, or auto-promotion), reports
// it, saves it at once and puts it in force.
func (a *Agent) setMode(group string, m modes.Mode, src modes.Source, reason string) (modes.Entry, error) {
	c, err := a.modes.Set(group, m, src)
	if err != nil {
		return modes.Entry{}, fmt.Errorf("agent: %w", err)
	}
	if c.From != c.To {
		typ := events.ModeChange
		if src == modes.FromPromotion {
			typ = events.Promotion
		}
		a.emit(events.Event{Type: typ, Group: group, From: c.From.String(), Mode: c.To.String(), Reason: reason})
		a.metrics.SetGroupMode(group, c.To.String())
		a.log.Info("agent: mode changed", "group", group, "from", c.From, "to", c.To, "source", src, "reason", reason)
		a.applyModes()
		if src == modes.FromOperator {
			a.promoter.ModeSet(group)
		}
		if err := a.store.Save(); err != nil { // a mode change is saved at once
			a.log.Error("agent: cannot save the modes", "err", err)
		}
	}
	for _, e := range a.modes.List() {
		if e.Group == group {
			return e, nil
		}
	}
	return modes.Entry{}, fmt.Errorf("agent: group %q vanished: %w", group, api.ErrNotFound)
}

// promote applies the moves auto-promotion says are due.
func (a *Agent) promote() {
	moves := a.promoter.Due(func(g string) (policy.Mode, bool) {
		m, ok := a.modes.Mode(g)
		return policy.Mode(m), ok
	})
	for _, mv := range moves {
		if _, err := a.setMode(mv.Group, modes.Mode(mv.To), modes.FromPromotion, mv.Reason); err != nil {
			a.log.Warn("agent: promotion not applied", "group", mv.Group, "err", err)
		}
	}
}
