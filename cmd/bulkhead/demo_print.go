package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/policy/graphview"
	"bulkhead.dev/bulkhead/policy/learn"
	"bulkhead.dev/bulkhead/testenv/scenario"
)

// The demo's output helpers: numbered steps, one line per fact, and the
// summary table.

func (d *demo) say(format string, a ...any) {
	fmt.Fprintf(d.out, format+"\n", a...)
}

// title starts a numbered step.
func (d *demo) title(format string, a ...any) {
	d.step++
	fmt.Fprintf(d.out, "\n%d. %s\n", d.step, fmt.Sprintf(format, a...))
}

// fail records a check that did not hold and says so.
func (d *demo) fail(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	d.failures = append(d.failures, msg)
	d.say("   FAILED: %s", msg)
}

// check prints a normal request's result after label and records it when
// it failed.
func (d *demo) check(label string, r scenario.Result, what string) {
	d.say("%s%s", label, r)
	if !r.OK {
		d.fail("%s: %s", what, r)
	}
}

// summary prints the table of attacks and the verdict of the run.
func (d *demo) summary() {
	d.say("\nSummary")
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "   ATTACK\t\tBLOCKED\tREPORTED\tNORMAL TRAFFIC AFTER")
	for _, o := range d.outcomes {
		reported := "no"
		if o.Reported {
			reported = "yes (" + api.Count(len(o.Events), "event") + ")"
		}
		after := "ok"
		if !o.After.OK {
			after = "FAILED"
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\n", o.Attack.Kind, o.Attack.Short, yesNo(o.Blocked), reported, after)
	}
	tw.Flush()
	took := time.Since(d.start).Round(time.Second)
	if len(d.failures) == 0 {
		d.say("\nEvery attack was blocked and reported, and the shop kept working (%v).", took)
		return
	}
	d.say("\n%s failed (%v): see FAILED above.", api.Count(len(d.failures), "check"), took)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// labelString renders labels sorted: "app=api,tier=backend". The label
// every workload carries (its own name) is left out.
func labelString(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if k == "bulkhead.dev/workload" {
			continue
		}
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// learnedTable prints the learned edges with the L7 values seen on each.
func (d *demo) learnedTable(edges []learn.Edge) {
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	for i := range edges {
		e := &edges[i]
		var vals []string
		for _, v := range e.Values {
			vals = append(vals, scenario.ValueString(v))
		}
		fmt.Fprintf(tw, "     %s\t%s\n", scenario.EdgeString(e), strings.Join(vals, ", "))
	}
	tw.Flush()
}

// graphTable prints the graph's edges, one line each: who talks to whom,
// over what, and what the agent decided.
func (d *demo) graphTable(g graphview.Graph) {
	names := map[string]string{}
	for _, n := range g.Nodes {
		names[n.ID] = n.Name
	}
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "     FROM\tTO\tSERVICE\tREQUESTS\tALLOWED\tREPORTED\tDENIED")
	for _, e := range g.Edges {
		for i, sv := range e.Services {
			from, to := names[e.Src], names[e.Dst]
			if i > 0 {
				from, to = "", ""
			}
			l7 := strings.Join(sv.L7, ", ")
			if sv.L7More > 0 {
				l7 += fmt.Sprintf(" +%d more", sv.L7More)
			}
			svc := fmt.Sprintf("%s/%s %s", sv.Proto, strings.Join(sv.Ports, ","), sv.App)
			fmt.Fprintf(tw, "     %s\t%s\t%s\t%s\t%d\t%d\t%d\n", from, to, strings.TrimSpace(svc), l7, sv.Verdicts.Allowed, sv.Verdicts.Reported, sv.Verdicts.Denied)
		}
	}
	tw.Flush()
}
