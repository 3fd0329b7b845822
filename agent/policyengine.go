package agent

import (
	"fmt"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/modes"
	"bulkhead.dev/bulkhead/agent/state"
	"bulkhead.dev/bulkhead/policy"
)

// PolicyEngine loads policies with the policy package: it reads the files
// once, then validates and compiles exactly those bytes (which the agent
// saves as its last good policy). It is the default PolicyLoader.
type PolicyEngine struct{}

var _ PolicyLoader = PolicyEngine{}

// Load reads, validates and compiles the policy at path.
func (PolicyEngine) Load(path string) (*LoadedPolicy, error) {
	srcs, err := policy.ReadSources(path)
	if err != nil {
		return nil, invalid(err)
	}
	return compile(srcs)
}

// FromSources validates and compiles saved sources.
func (PolicyEngine) FromSources(files []state.PolicyFile) (*LoadedPolicy, error) {
	srcs := make([]policy.Source, len(files))
	for i, f := range files {
		srcs[i] = policy.Source{Name: f.Name, Data: []byte(f.Content)}
	}
	return compile(srcs)
}

func compile(srcs []policy.Source) (*LoadedPolicy, error) {
	pol, err := policy.LoadSources(srcs)
	if err != nil {
		return nil, invalid(err)
	}
	plan, err := policy.Compile(pol)
	if err != nil {
		return nil, invalid(err)
	}
	lp := &LoadedPolicy{DefaultMode: modes.Mode(pol.DefaultMode), Groups: map[string]modes.Mode{}, Rules: len(pol.Rules), Compiled: plan}
	for _, s := range srcs {
		lp.Files = append(lp.Files, state.PolicyFile{Name: s.Name, Content: string(s.Data)})
	}
	for i := range pol.Groups {
		if g := &pol.Groups[i]; g.Kind == policy.GroupSelector {
			lp.Groups[g.Name] = modes.Mode(g.Mode)
		}
	}
	return lp, nil
}

// invalidPolicy is a policy error that the API answers with 422; its text
// is the policy package's (file:line: field: message, one per line).
type invalidPolicy struct{ err error }

func invalid(err error) error          { return &invalidPolicy{err} }
func (e *invalidPolicy) Error() string { return e.err.Error() }
func (e *invalidPolicy) Unwrap() []error {
	return []error{e.err, api.ErrInvalid}
}

// planOf returns the compiled plan of a loaded policy, or an empty plan in
// the default mode def when there is none (no policy, or a loader that
// compiles nothing).
func planOf(lp *LoadedPolicy, def modes.Mode) (*policy.Plan, error) {
	if lp != nil {
		if p, ok := lp.Compiled.(*policy.Plan); ok {
			return p, nil
		}
	}
	p, err := policy.Compile(&policy.Policy{DefaultMode: policy.Mode(def)})
	if err != nil {
		return nil, fmt.Errorf("agent: empty policy: %w", err)
	}
	return p, nil
}
