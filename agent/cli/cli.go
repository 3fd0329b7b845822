// Package cli formats the agent's API answers for people: the tables and
// lines that "bulkhead status", "flows", "mode" and "events" print. The
// commands themselves (cmd/bulkhead/cli.go) only parse flags and call the
// API client.
package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/modes"
)

// JSON writes v as indented JSON (the --json output).
func JSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("cli: encode: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// ago says how long before now t was, in whole units ("3s", "5m", "2h").
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Status prints the agent's status.
func Status(w io.Writer, s api.Status, now time.Time) error {
	tw := table(w)
	fmt.Fprintf(tw, "node\t%s\n", s.Node)
	fmt.Fprintf(tw, "version\t%s\n", s.Version)
	fmt.Fprintf(tw, "started\t%s (up %s)\n", s.Started.UTC().Format(time.RFC3339), ago(s.Started, now))
	fmt.Fprintf(tw, "ready\t%s\n", yesNo(s.Ready))
	for _, c := range s.Checks {
		mark := "+"
		if !c.OK {
			mark = "-"
		}
		fmt.Fprintf(tw, "  [%s] %s\t%s\n", mark, c.Name, c.Detail)
	}
	fmt.Fprintf(tw, "modes\tdefault %s, fail-%s\n", s.DefaultMode, s.FailMode)
	p := s.Policy
	switch {
	case p.Loaded:
		from := ""
		if p.FromState {
			from = ", last good copy from the state directory"
		}
		fmt.Fprintf(tw, "policy\t%s: %s, loaded %s ago%s\n", p.Source, p.Summary(), ago(p.LoadedAt, now), from)
	case p.Absent != "":
		fmt.Fprintf(tw, "policy\tnone in force (%s): empty policy in the default mode\n", p.Absent)
	default:
		fmt.Fprintf(tw, "policy\tnone in force (%s): empty policy in the default mode\n", p.Source)
	}
	if p.LastError != "" {
		fmt.Fprintf(tw, "  last error\t%s\n", firstLine(p.LastError))
	}
	dp := "not attached"
	if s.Dataplane.Attached {
		dp = fmt.Sprintf("attached to %s, %s", api.Count(s.Dataplane.Interfaces, "interface"), api.Count(s.Queues, "queue"))
	}
	if s.Dataplane.Detail != "" {
		dp += " (" + s.Dataplane.Detail + ")"
	}
	fmt.Fprintf(tw, "dataplane\t%s\n", dp)
	if c := s.Dataplane.Counters; c != nil {
		fmt.Fprintf(tw, "  packets\t%d queued: %d accepted, %d dropped; verdicts %s\n", c.Queued, c.Accepted, c.Dropped, counts(c.Verdicts))
		fmt.Fprintf(tw, "  inspection\t%s now; decided without L7: %d capacity, %d wait exceeded, %d unparseable; %s dropped\n",
			api.Count(c.Inspecting, "flow"), c.InspectionLimit, c.WaitExceeded, c.InspectionLost, api.Count(c.DNSDropped, "DNS query"))
		if bad := c.DecodeErrors + c.DeciderPanics + c.VerdictErrors + c.Overruns + c.KernelDropped + c.KernelUserDropped; bad > 0 {
			fmt.Fprintf(tw, "  trouble\t%d undecodable, %s, %s, %s, %s, %s\n",
				c.DecodeErrors, api.Count(c.DeciderPanics, "decider panic"), api.Count(c.VerdictErrors, "refused verdict"),
				api.Count(c.Overruns, "overrun"), api.Count(c.KernelDropped, "kernel drop"), api.Count(c.KernelUserDropped, "kernel user drop"))
		}
	}
	fmt.Fprintf(tw, "workloads\t%d\n", s.Workloads)
	fmt.Fprintf(tw, "flows\t%d active of %d; %d created; evicted %s\n", s.Flows.Active, s.Flows.Limit, s.Flows.Created, counts(s.Flows.Evicted))
	e := s.Events
	fmt.Fprintf(tw, "events\t%d written, %d dropped, %s, %s\n", e.Written, e.Dropped, api.Count(e.Evidence, "evidence file"), api.Count(e.Subscribers, "stream"))
	return tw.Flush()
}

func firstLine(s string) string {
	first, rest, more := strings.Cut(s, "\n")
	if more {
		n := strings.Count(rest, "\n") + 1
		return fmt.Sprintf("%s (and %d more line%s)", first, n, map[bool]string{true: "s"}[n > 1])
	}
	return first
}

// counts prints a map of counters in key order, "idle 3, capacity 0".
func counts(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// endpoint prints "name (ip:port)".
func endpoint(e events.Endpoint) string {
	if !e.IP.IsValid() {
		return e.Workload
	}
	addr := e.IP.String()
	if e.IP.Is6() {
		addr = "[" + addr + "]"
	}
	if e.Port != 0 {
		addr = fmt.Sprintf("%s:%d", addr, e.Port)
	}
	if e.Workload == "" || e.Workload == e.IP.String() {
		return addr
	}
	return e.Workload + " (" + addr + ")"
}

// Flows prints a table of flows.
func Flows(w io.Writer, flows []api.Flow, now time.Time) error {
	if len(flows) == 0 {
		_, err := fmt.Fprintln(w, "no flows")
		return err
	}
	tw := table(w)
	fmt.Fprintln(tw, "SOURCE\tDESTINATION\tPROTO\tAPP\tVERDICT\tMODE\tRULE/REASON\tPACKETS\tLAST SEEN")
	for _, f := range flows {
		why := f.Rule
		if f.Reason != "" {
			why = strings.TrimSpace(why + " " + f.Reason)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s ago\n", endpoint(f.Src), endpoint(f.Dst), f.Proto,
			dash(f.App), f.Verdict, dash(f.Mode), dash(why), f.Packets, ago(f.LastSeen, now))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Modes prints the groups' modes, then the mode of workloads in no group,
// def ("" leaves that row out: one group's mode).
func Modes(w io.Writer, ms []modes.Entry, def string, now time.Time) error {
	tw := table(w)
	fmt.Fprintln(tw, "GROUP\tMODE\tPOLICY MODE\tSET BY\tSINCE")
	for _, m := range ms {
		since := "-"
		if !m.Since.IsZero() {
			since = ago(m.Since, now) + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Group, m.Mode, m.PolicyMode, m.Source, since)
	}
	if def != "" {
		fmt.Fprintf(tw, "(workloads in no group)\t%s\t\t\t\n", def)
	}
	return tw.Flush()
}

// ModeChange prints the answer to "bulkhead mode GROUP MODE".
func ModeChange(w io.Writer, before modes.Mode, e modes.Entry) error {
	var err error
	if before == e.Mode {
		_, err = fmt.Fprintf(w, "%s: already %s\n", e.Group, e.Mode)
	} else {
		_, err = fmt.Fprintf(w, "%s: %s → %s\n", e.Group, before, e.Mode)
	}
	return err
}

// Workloads prints the local workloads.
func Workloads(w io.Writer, ws []api.Workload) error {
	if len(ws) == 0 {
		_, err := fmt.Fprintln(w, "no workloads")
		return err
	}
	tw := table(w)
	fmt.Fprintln(tw, "WORKLOAD\tINTERFACE\tADDRESSES\tMODE\tGROUPS\tNAMED BY")
	for _, x := range ws {
		addrs := make([]string, len(x.Addrs))
		for i, a := range x.Addrs {
			addrs[i] = a.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Name, x.Interface, dash(strings.Join(addrs, ",")),
			dash(x.Mode), dash(strings.Join(x.Groups, ",")), x.Source)
	}
	return tw.Flush()
}

// Event prints one event on one line:
//
//	12:00:00.123 drop      frontend (198.18.0.10:41000) → db (198.18.0.12:6379) tcp redis [FLUSHALL] protect: no rule allows it
func Event(w io.Writer, e events.Event) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-9s", e.Time.UTC().Format("15:04:05.000"), e.Type)
	switch e.Type {
	case events.ModeChange, events.Promotion:
		fmt.Fprintf(&b, " %s: %s → %s", e.Group, e.From, e.Mode)
	case events.EventsLost:
		fmt.Fprintf(&b, " %s lost: this reader was too slow", api.Count(e.Lost, "event"))
	default:
		if e.Src.Workload != "" || e.Dst.Workload != "" {
			fmt.Fprintf(&b, " %s → %s %s", endpoint(e.Src), endpoint(e.Dst), e.Proto)
		}
		if e.App != "" {
			b.WriteString(" " + e.App)
		}
		if l := l7Text(e.L7); l != "" {
			b.WriteString(" [" + l + "]")
		}
		if e.Mode != "" {
			b.WriteString(" " + e.Mode)
			if e.Verdict != "" {
				b.WriteString("/" + e.Verdict)
			}
		}
		if e.Message != "" {
			b.WriteString(" " + e.Message)
		}
	}
	if e.Rule != "" {
		b.WriteString(" rule " + e.Rule)
	}
	if e.Reason != "" {
		b.WriteString(": " + firstLine(e.Reason))
	}
	if e.Evidence != "" {
		b.WriteString(" (evidence " + e.Evidence + ")")
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// l7Text prints the L7 attributes compactly: "GET api /admin", "query x.example A".
func l7Text(l events.L7) string {
	var parts []string
	add := func(s ...string) {
		for _, v := range s {
			if v != "" {
				parts = append(parts, v)
			}
		}
	}
	add(l.Method, l.Host, l.Path)
	if l.Status != 0 {
		add(fmt.Sprint(l.Status))
	}
	if l.GRPCService != "" {
		add(l.GRPCService + "/" + l.GRPCMethod)
	}
	if l.Query != "" {
		add("query", l.Query, l.QType)
	}
	add(l.Command, l.Topic)
	if l.User != "" {
		add("user", l.User)
	}
	if l.Database != "" {
		add("db", l.Database)
	}
	return strings.Join(parts, " ")
}
