package export

import (
	"fmt"

	"bulkhead.dev/bulkhead/policy"
)

// workloadLabelWarning explains why a selector on policy.WorkloadLabel does
// not carry over to a cluster.
const workloadLabelWarning = "WARNING: the selector uses " + policy.WorkloadLabel + ", a label Bulkhead gives every workload (its name) but that pods do not carry: " +
	"label the pods with it, or replace it with the pods' own labels."

// labelEffect is what a selector using policy.WorkloadLabel selects among
// pods, which do not carry that label.
type labelEffect uint8

const (
	selectsSame labelEffect = iota // the selector does not use the label
	selectsNone                    // it requires the label: no pod matches
	selectsMore                    // it only excludes values: every pod passes that requirement
)

func workloadLabelEffect(s *policy.Selector) labelEffect {
	if s == nil {
		return selectsSame
	}
	if _, ok := s.MatchLabels[policy.WorkloadLabel]; ok {
		return selectsNone
	}
	effect := selectsSame
	for _, r := range s.MatchExpressions {
		if r.Key != policy.WorkloadLabel {
			continue
		}
		switch r.Operator {
		case policy.OpIn, policy.OpExists:
			return selectsNone
		default:
			effect = selectsMore
		}
	}
	return effect
}

// peerWorkloadNote is the note on a rule whose peer is a selector group
// using policy.WorkloadLabel ("" when it does not).
func peerWorkloadNote(g *policy.Group) string {
	switch workloadLabelEffect(g.Selector) {
	case selectsNone:
		return fmt.Sprintf("peer group %s: %s As exported, this rule matches no pod (narrower).", g.Name, workloadLabelWarning)
	case selectsMore:
		return fmt.Sprintf("peer group %s: %s As exported, the requirement on it holds for every pod (wider).", g.Name, workloadLabelWarning)
	}
	return ""
}
