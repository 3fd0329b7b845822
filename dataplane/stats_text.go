package dataplane

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText writes the snapshot as a short human-readable report.
func (s Stats) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	mode := "fail-closed"
	if s.FailOpen {
		mode = "fail-open"
	}
	fmt.Fprintf(tw, "packets queued\t%d\t(%s, connmark by %s)\n", s.Queued, mode, s.Mechanism)
	fmt.Fprintf(tw, "verdicts\taccept %d  drop %d  allow %d  deny %d  inspect %d  inspect-all %d\n",
		s.Verdicts[Accept], s.Verdicts[Drop], s.Verdicts[Allow], s.Verdicts[Deny], s.Verdicts[Inspect], s.Verdicts[InspectAll])
	fmt.Fprintf(tw, "packets\taccepted %d  dropped %d\n", s.Accepted, s.Dropped)
	fmt.Fprintf(tw, "connections fast-pathed\tallowed %d  denied %d\n", s.Verdicts[Allow], s.Verdicts[Deny])
	fmt.Fprintf(tw, "errors\tdecode %d  bad messages %d  decider panics %d  verdict %d  send %d  receive %d  overruns %d\n",
		s.DecodeErrors, s.BadMessages, s.DeciderPanics, s.VerdictErrors, s.SendErrors, s.RecvErrors, s.Overruns)
	fmt.Fprintf(tw, "verdict messages\t%d\n", s.VerdictMsgs)
	fmt.Fprintln(tw, "queue\tpackets\tbursts\tverdict msgs\twaiting\tkernel dropped\tuser dropped")
	for _, q := range s.Queues {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\n", q.Queue, q.Packets, q.Bursts, q.VerdictMsgs, q.KernelWaiting, q.KernelDropped, q.KernelUserDropped)
	}
	return tw.Flush()
}
