package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"

	"bulkhead.dev/bulkhead/testenv"
)

func init() {
	register(command{
		name:    "testenv",
		usage:   "up|down|exec|list [flags]",
		summary: "build a container node from network namespaces, for trying Bulkhead out",
		run:     runTestenv,
	})
}

func runTestenv(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("missing verb: up, down, exec or list")
	}
	switch args[0] {
	case "up":
		return testenvUp(args[1:], stdout, stderr)
	case "down":
		return testenvDown(ctx, args[1:], stdout, stderr)
	case "exec":
		return testenvExec(ctx, args[1:], stderr)
	case "list":
		return testenvList(args[1:], stdout, stderr)
	}
	return usagef("unknown verb %q: want up, down, exec or list", args[0])
}

func testenvUp(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("testenv up", stderr)
	name := fs.String("name", "dev", "name of the test bed; its namespaces are bh-NAME-HOST")
	topo := fs.String("topology", "bridged", "bridged (Docker bridge) or routed (Calico style)")
	containers := fs.String("containers", "client,server", "comma-separated container names")
	externals := fs.String("external", "internet", "comma-separated external hosts reached through the node; NAME=ADDR+ADDR gives extra addresses")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if strings.Contains(*name, "-") {
		return fmt.Errorf("bad test bed name %q: use letters and digits only (host names may contain '-')", *name)
	}
	t, err := testenv.ParseTopology(*topo)
	if err != nil {
		return err
	}
	cfg := testenv.Config{Name: *name, Topology: t, Containers: splitList(*containers)}
	for _, e := range splitList(*externals) {
		spec := testenv.ExternalSpec{Name: e}
		if n, addrs, ok := strings.Cut(e, "="); ok {
			spec.Name = n
			for _, a := range strings.Split(addrs, "+") {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					return fmt.Errorf("external host %s: bad address %q: %w", n, a, err)
				}
				spec.Addrs = append(spec.Addrs, ip)
			}
		}
		cfg.Externals = append(cfg.Externals, spec)
	}
	if existing := testenv.BedNamespaces(*name); len(existing) > 0 {
		return fmt.Errorf("test bed %q already exists (%s); run: bulkhead testenv down --name %s", *name, strings.Join(existing, ", "), *name)
	}
	// Build leaves the namespaces in place when this process exits: they
	// are bind-mounted under /run/netns. "down" removes them.
	n, err := testenv.Build(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "test bed %q is up (%s topology)\n\n", *name, t)
	printTestbed(stdout, n)
	fmt.Fprintf(stdout, "\nrun a command in a host:  bulkhead testenv exec --name %s HOST -- COMMAND...\n", *name)
	fmt.Fprintf(stdout, "remove everything:        bulkhead testenv down --name %s\n", *name)
	return nil
}

func printTestbed(w io.Writer, n *testenv.Node) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tNAMESPACE\tNODE-SIDE LINK\tIPV4\tIPV6")
	fmt.Fprintf(tw, "node\t%s\t-\t%s\t-\n", n.Node.NS, testenv.NodeIP4)
	for _, c := range n.Containers() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Name, c.NS, c.HostIf, c.IP4, c.IP6)
	}
	for _, e := range n.Externals() {
		ip4 := e.IP4.String()
		for _, a := range e.Addrs {
			ip4 += "," + a.String()
		}
		fmt.Fprintf(tw, "%s (external)\t%s\t%s\t%s\t%s\n", e.Name, e.NS, e.NodeIf, ip4, e.IP6)
	}
	tw.Flush()
}

func testenvDown(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("testenv down", stderr)
	name := fs.String("name", "dev", "name of the test bed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	nss := testenv.BedNamespaces(*name)
	if len(nss) == 0 {
		return fmt.Errorf("no test bed named %q", *name)
	}
	var errs []error
	for _, ns := range nss {
		// Programs people started in the test bed with "exec" go with it.
		if out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				_ = exec.CommandContext(ctx, "kill", "-KILL", pid).Run()
			}
		}
		if out, err := exec.CommandContext(ctx, "ip", "netns", "delete", ns).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("delete namespace %s: %v: %s", ns, err, strings.TrimSpace(string(out))))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fmt.Fprintf(stdout, "test bed %q removed (%d namespaces)\n", *name, len(nss))
	return nil
}

func testenvExec(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("testenv exec", stderr)
	name := fs.String("name", "dev", "name of the test bed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	if len(rest) < 2 {
		return usagef("want HOST -- COMMAND [ARGS...]")
	}
	host, argv := rest[0], rest[1:]
	if argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return usagef("missing command to run in %s", host)
	}
	ns := testenv.HostNamespace(*name, host)
	if _, err := os.Stat(testenv.NamespacePath(ns)); err != nil {
		return fmt.Errorf("no host %q in test bed %q (namespace %s): %w", host, *name, ns, err)
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &exitError{code: ee.ExitCode()}
		}
		return err
	}
	return nil
}

func testenvList(args []string, stdout, stderr io.Writer) error {
	if err := parseNoArgs(newFlagSet("testenv list", stderr), args); err != nil {
		return err
	}
	beds := testenv.Beds()
	if len(beds) == 0 {
		fmt.Fprintln(stdout, "no test beds")
		return nil
	}
	for _, b := range beds {
		fmt.Fprintf(stdout, "%s: %s\n", b.Name, strings.Join(b.Hosts, " "))
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
