package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"bulkhead.dev/bulkhead/netns"
)

func init() {
	register(command{
		name:    "containers",
		usage:   "[--netns PATH] [--watch] [--json]",
		summary: "list the containers (veths and their namespaces) that Bulkhead would attach to",
		run:     runContainers,
	})
}

func runContainers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("containers", stderr)
	nsPath := fs.String("netns", "", "path of the node's network namespace (default: this process's)")
	watch := fs.Bool("watch", false, "keep running and print containers as they appear and disappear")
	asJSON := fs.Bool("json", false, "print JSON (one object per line with --watch)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	cfg := netns.Config{NetNS: *nsPath}
	if !*watch {
		cs, err := netns.List(ctx, cfg)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if cs == nil {
				cs = []netns.Container{}
			}
			return enc.Encode(cs)
		}
		printContainers(stdout, cs)
		return nil
	}
	w, err := netns.NewWatcher(cfg)
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Start(ctx); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events():
			if !ok {
				return nil
			}
			if *asJSON {
				if err := enc.Encode(struct {
					Type      string          `json:"type"`
					Container netns.Container `json:"container"`
				}{ev.Type.String(), ev.Container}); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(stdout, "%-8s %s\n", ev.Type, ev.Container)
		}
	}
}

func printContainers(w io.Writer, cs []netns.Container) {
	if len(cs) == 0 {
		fmt.Fprintln(w, "no containers found")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST-IF\tBRIDGE\tNETNS\tPEER-IF\tADDRESSES")
	for _, c := range cs {
		addrs := make([]string, len(c.Addrs))
		for i, a := range c.Addrs {
			addrs[i] = a.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.HostIf, dash(c.Bridge), dash(c.NetNS), dash(c.PeerIf), strings.Join(addrs, ","))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
