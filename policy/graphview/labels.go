package graphview

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// The text of labels, shared by the renderers: plain (display-safe,
// unescaped) lines that each renderer escapes and styles.

// labelLine is one line of a label.
type labelLine struct {
	text string
	bold bool // the line names something (a node, a service)
	dim  bool // a detail line (labels, L7 summary)
}

// maxNameLen caps a name's length in a picture (the JSON keeps it whole).
const maxNameLen = 64

// nodeLines returns a node's label: its name, then its labels (workloads)
// or how many peers it stands for (external groups).
func nodeLines(n *Node) []labelLine {
	lines := []labelLine{{text: truncate(display(n.Name), maxNameLen), bold: true}}
	keys := slices.Sorted(maps.Keys(n.Labels))
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == workloadLabel })
	for i, k := range keys {
		if i == maxLabels {
			lines = append(lines, labelLine{text: fmt.Sprintf("+%d more", len(keys)-maxLabels), dim: true})
			break
		}
		lines = append(lines, labelLine{text: truncate(display(k+"="+n.Labels[k]), maxNameLen), dim: true})
	}
	if t := memberText(n); t != "" {
		lines = append(lines, labelLine{text: t, dim: true})
	}
	return lines
}

// workloadLabel is the label every workload carries with its own name
// (policy.WorkloadLabel): not worth a line.
const workloadLabel = "bulkhead.dev/workload"

// edgeLines returns an edge's label: per service its ports and app, then
// its L7 summary; then the verdict counts when there are any.
func edgeLines(e *Edge) []labelLine {
	var lines []labelLine
	for i := range e.Services {
		if i == maxServices {
			lines = append(lines, labelLine{text: fmt.Sprintf("+%d more services", len(e.Services)-maxServices), dim: true})
			break
		}
		s := &e.Services[i]
		head := s.PortText()
		if s.App != "unknown" {
			head += " " + s.App
		}
		lines = append(lines, labelLine{text: display(head), bold: true})
		if t := s.L7Text(); t != "" {
			lines = append(lines, labelLine{text: display(t), dim: true})
		}
	}
	if t := tallyText(e.Verdicts); t != "" {
		lines = append(lines, labelLine{text: t})
	}
	return lines
}

// edgeTooltip describes an edge's counts and times (no user text: the IDs
// are escaped by construction).
func edgeTooltip(e *Edge) string {
	s := fmt.Sprintf("%s -> %s: %s learned", e.Src, e.Dst, plural(e.Count, "flow"))
	if e.Count == 0 {
		s = fmt.Sprintf("%s -> %s: never learned", e.Src, e.Dst)
	}
	if !e.FirstSeen.IsZero() {
		s += fmt.Sprintf(", first seen %s, last seen %s", e.FirstSeen.UTC().Format(time.RFC3339), e.LastSeen.UTC().Format(time.RFC3339))
	}
	if t := tallyText(e.Verdicts); t != "" {
		s += "; " + t
	}
	return s
}
