package graphview

import (
	"fmt"
	"math"
	"strconv"
)

// Colours shared by the renderers (Material palette, readable on white).
var statusColour = map[Status]string{
	StatusLearned:  "#757575", // grey: learned, no verdict counted
	StatusAllowed:  "#2e7d32", // green
	StatusReported: "#ef6c00", // orange
	StatusDenied:   "#c62828", // red
}

// statusOrder lists the statuses as the legends show them.
var statusOrder = []Status{StatusAllowed, StatusReported, StatusDenied, StatusLearned}

// statusLegend is the legend's text for each status.
var statusLegend = map[Status]string{
	StatusAllowed:  "allowed",
	StatusReported: "reported (monitor)",
	StatusDenied:   "denied (protect)",
	StatusLearned:  "learned, no verdict counted",
}

// nodeStyle is how a kind of node is drawn.
type nodeStyle struct {
	fill, stroke string
	dotShape     string
	dotStyle     string
	what         string // legend text
}

var nodeStyles = map[NodeKind]nodeStyle{
	KindWorkload: {"#e3f2fd", "#1565c0", "box", "rounded,filled", "workload"},
	KindHost:     {"#eceff1", "#455a64", "house", "filled", "this node's host"},
	KindFQDN:     {"#fff8e1", "#f9a825", "note", "filled", "external names"},
	KindCIDR:     {"#f3e5f5", "#6a1b9a", "box3d", "filled", "external addresses"},
	KindAddr:     {"#f3e5f5", "#6a1b9a", "box", "filled", "external address"},
	KindWorld:    {"#f5f5f5", "#616161", "ellipse", "filled", "world: any other peer"},
}

// penWidth grows with the number of connections, logarithmically.
func penWidth(e *Edge) string {
	n := e.Count + e.Verdicts.Total()
	w := math.Min(1+0.8*math.Log10(float64(n)+1), 4)
	return strconv.FormatFloat(w, 'f', 1, 64)
}

// tallyText is the verdict counts of an edge, non-zero ones only:
// "allowed 120, denied 2".
func tallyText(t Tally) string {
	out := ""
	for _, p := range []struct {
		n    uint64
		what string
	}{{t.Allowed, "allowed"}, {t.Reported, "reported"}, {t.Denied, "denied"}} {
		if p.n == 0 {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%s %d", p.what, p.n)
	}
	return out
}

// memberText says how many peers an external node stands for: "3 names",
// "12 addresses", "" for a single peer named by the node itself.
func memberText(n *Node) string {
	count := len(n.Members) + n.MembersMore
	switch {
	case n.Kind == KindFQDN && (count > 1 || len(n.Members) == 1 && n.Members[0] != n.Name):
		return plural(count, "name")
	case n.Kind == KindCIDR:
		return plural(count, "address", "addresses")
	case n.Kind == KindWorld && count > 0:
		return plural(count, "peer")
	}
	return ""
}

func plural[T int | uint64](n T, one string, many ...string) string {
	if n == 1 {
		return "1 " + one
	}
	if len(many) > 0 {
		return fmt.Sprintf("%d %s", n, many[0])
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// maxLabels is how many labels a workload's box lists; maxServices how many
// services an edge's label lists.
const (
	maxLabels   = 4
	maxServices = 4
)
