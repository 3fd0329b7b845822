package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/testenv"
	"bulkhead.dev/bulkhead/testenv/scenario"
)

// The demo: a small shop on a throw-away container node, the real agent
// learning its traffic, the policy generated from what it learned, then
// attacks that must be blocked and reported while the shop keeps working.
// The world and every step live in testenv/scenario; this file narrates.

func init() {
	register(command{
		name:    "demo",
		usage:   "[--name NAME] [--keep]",
		summary: "walk through learn → policy → protect on a throw-away test bed: a shop, the agent, and attacks it must block",
		run:     runDemo,
	})
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	name := fs.String("name", "demo", "name of the demo's test bed (namespaces bh-NAME-*)")
	keep := fs.Bool("keep", false, "after the attacks, keep the test bed and the agent running until Ctrl-C, to explore")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if strings.Contains(*name, "-") {
		return usagef("bad test bed name %q: use letters and digits only", *name)
	}
	if demoEUID() != 0 {
		return errors.New("the demo builds network namespaces and runs the agent, which manages iptables rules inside them: run it as root (sudo make demo)")
	}
	if existing := testenv.BedNamespaces(*name); len(existing) > 0 {
		return fmt.Errorf("a test bed %q already exists (%s); remove it with: bulkhead testenv down --name %s", *name, strings.Join(existing, ", "), *name)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the bulkhead binary: %w", err)
	}
	d := &demo{out: stdout, name: *name, keep: *keep, bin: self, start: time.Now()}
	return d.run(ctx)
}

// demoEUID is os.Geteuid; tests replace it.
var demoEUID = os.Geteuid

// demo narrates one run. Each check that does not hold is recorded in
// failures; the command exits non-zero when there is any.
type demo struct {
	out   io.Writer
	name  string
	keep  bool
	bin   string
	start time.Time

	step     int
	w        *scenario.World
	loaded   scenario.Generated
	outcomes []scenario.Outcome
	failures []string
}

func (d *demo) run(ctx context.Context) (err error) {
	d.say("Bulkhead demo: the agent learns how a small shop talks, turns that into a policy,")
	d.say("then blocks and reports attacks while the shop keeps working. It takes well under a minute.")

	d.title("Build a container node from network namespaces (test bed %q, bridged like Docker)", d.name)
	d.w, err = scenario.Build(ctx, scenario.Config{Name: d.name, Bin: d.bin})
	if err != nil {
		return err
	}
	defer func() {
		// Whatever happened, nothing stays behind (teardown already did
		// it on the normal path; Close is then a no-op).
		err = errors.Join(err, d.w.Close())
	}()
	d.describeWorld()

	d.title("Without Bulkhead, every attack works (attack: what the attacker got)")
	for _, a := range d.w.Attacks() {
		o, err := d.w.RunAttack(ctx, a)
		if err != nil {
			return err
		}
		if o.Blocked {
			d.fail("%s: the attack does not even work without Bulkhead (%s): the demo would prove nothing", a.ID, o.Client)
		}
		d.say("   %-42s %s", a.Short+":", o.Client)
	}

	if err := d.learn(ctx); err != nil {
		return err
	}
	if err := d.protect(ctx); err != nil {
		return err
	}
	d.attacks(ctx)
	d.graph(ctx)
	if d.keep {
		d.explore(ctx)
	}
	d.teardown()
	d.summary()
	if len(d.failures) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%s failed:\n  %s", api.Count(len(d.failures), "check"), strings.Join(d.failures, "\n  "))}
	}
	return nil
}

func (d *demo) describeWorld() {
	w := d.w
	roles := map[string]string{
		"frontend":    "the web tier: makes the HTTP requests",
		"api":         fmt.Sprintf("Go HTTP server on :%d; uses redis on db, DNS, and https://%s", scenario.APIPort, scenario.PaymentsName),
		"db":          fmt.Sprintf("a real redis-server on :%d (no persistence)", scenario.RedisPort),
		"dns":         fmt.Sprintf("DNS server on :%d: %s → %s", scenario.DNSPort, scenario.PaymentsName, scenario.PaymentsIP),
		"compromised": "a forgotten debugging container; an attacker got into it",
	}
	for _, c := range w.Node.Containers() {
		d.say("   %-12s %-13s %s", c.Name, c.IP4, roles[c.Name])
	}
	d.say("   %-12s %-13s outside the node: %s is %s; %s is an address no DNS answer names",
		"internet", w.Internet.IP4, scenario.PaymentsName, scenario.PaymentsIP, scenario.UnknownIP)
	d.check("   check: ", w.Check(context.Background()), "the shop without Bulkhead")
}

// learn starts the agent and runs the normal traffic.
func (d *demo) learn(ctx context.Context) error {
	w := d.w
	d.title("Start the agent in the node's namespace, in learn mode (no policy yet)")
	st, err := w.StartAgent(ctx)
	if w.Agent != nil {
		d.say("   $ ip netns exec %s bulkhead agent --config %s", w.Node.Node.NS, w.Agent.ConfigFile)
	}
	if err != nil {
		if w.Agent != nil {
			d.say("   the agent's log ends with:\n%s", indent(w.Agent.LogTail(20), "     | "))
		}
		return err
	}
	for _, c := range st.Status.Checks {
		d.say("   ready: %s: %s", c.Name, c.Detail)
	}
	d.say("   %s in its BULKHEAD chains: first packets of every connection go to the agent", api.Count(st.Rules, "iptables and ip6tables rule"))
	for _, wl := range st.Workloads {
		d.say("   workload %-12s %-28s on %s (named by %s)", wl.Name, labelString(wl.Labels), wl.Interface, wl.Source)
	}
	d.say("   the CLI talks to it through its socket: export BULKHEAD_API=%s", w.Agent.Socket)

	d.title("Learn: the shop's normal traffic")
	results := w.Learn(ctx, 3)
	ok := 0
	for _, r := range results {
		if r.OK {
			ok++
		} else {
			d.fail("learn mode: %s", r)
		}
	}
	d.say("   %d of %d requests from frontend to api succeeded; the agent inspected every request, e.g.:", ok, len(results))
	for _, r := range results[:min(4, len(results))] {
		d.say("     %s", r)
	}
	learned, err := w.FetchGraph(ctx)
	if err != nil {
		return err
	}
	d.say("   the agent learned %s (%s in its log):", api.Count(len(learned.Graph.Edges), "edge"), api.Count(len(learned.Events), `"learned" event`))
	d.learnedTable(learned.Graph.Edges)

	d.title("Generate a policy from the learned graph")
	d.say("   graph saved from the agent (GET /v1/graph) to %s", learned.File)
	gen, err := w.GeneratePolicy(ctx, learned)
	d.say("   $ %s", gen.Command)
	if err != nil {
		return err
	}
	d.say("%s", indent(strings.TrimRight(gen.YAML, "\n"), "     "))
	d.loaded = gen
	return nil
}

// protect loads the generated policy and switches every group to protect.
func (d *demo) protect(ctx context.Context) error {
	w := d.w
	d.title("Load the policy and switch every group to protect")
	r, err := w.LoadPolicy(ctx, d.loaded)
	d.say("   $ %s   → %s", r.Command, strings.TrimSpace(r.Output))
	if err != nil {
		return err
	}
	switched, err := w.Protect(ctx)
	for _, r := range switched {
		d.say("   $ %-32s → %s", r.Command, strings.TrimSpace(r.Output))
	}
	if err != nil {
		return err
	}
	d.check("   check: ", w.Check(ctx), "normal traffic under protect")
	return nil
}

// attacks runs every attack against the protected shop.
func (d *demo) attacks(ctx context.Context) {
	d.title("Attack the protected shop")
	for i, a := range d.w.Attacks() {
		d.say("\n   %c. %s: %s", 'a'+i, a.Kind, a.Title)
		o, err := d.w.RunAttack(ctx, a)
		if err != nil {
			d.fail("%s: %v", a.ID, err)
			continue
		}
		d.outcomes = append(d.outcomes, o)
		d.say("      client saw:  %s", o.Client)
		verdict := "BLOCKED"
		if !o.Blocked {
			verdict = "NOT BLOCKED"
			d.fail("%s: %d of %s reached the target (%s)", a.ID, o.Reached, api.Count(o.Probes, "probe"), o.Client)
		}
		d.say("      target got:  %d of %s → %s", o.Reached, api.Count(o.Probes, "probe"), verdict)
		if o.Reported {
			more := ""
			if n := len(o.Events); n > 1 {
				more = fmt.Sprintf("   (+%d more)", n-1)
			}
			d.say("      agent event: %s%s", scenario.Summarize(&o.Events[0]), more)
		} else {
			d.say("      agent event: none → NOT REPORTED")
			d.fail("%s: no drop or violation event in the agent's log", a.ID)
		}
		d.check("      normal:      ", o.After, "normal traffic after "+a.ID)
	}
}

// graph prints the agent's graph, with what it decided on each edge.
func (d *demo) graph(ctx context.Context) {
	d.title("The communication graph, with the agent's verdicts")
	if _, ok := commands["graph"]; !ok {
		d.say("   (this build has no \"bulkhead graph\" command; the learned edges are listed above)")
		return
	}
	g, r, err := d.w.Graph(ctx)
	d.say("   $ %s   (a picture: --format svg -o graph.svg, or --format mermaid)", r.Command)
	if err != nil {
		d.fail("graph: %v", err)
		return
	}
	d.graphTable(g)
}

// explore waits until Ctrl-C, printing what to try meanwhile.
func (d *demo) explore(ctx context.Context) {
	w := d.w
	exec := "bulkhead testenv exec --name " + d.name
	api := fmt.Sprintf("http://%s:%d", w.API.IP4, scenario.APIPort)
	d.title("Explore (--keep): the test bed and the agent stay up")
	d.say("   In another terminal, as root:")
	d.say("   export BULKHEAD_API=%s", w.Agent.Socket)
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	for _, l := range [][2]string{
		{"bulkhead events -f", "follow the agent's events"},
		{"bulkhead flows --verdict deny", "what it denied"},
		{"bulkhead status; bulkhead mode; bulkhead workloads", "its state, modes, containers"},
		{"bulkhead graph --format svg -o /tmp/bulkhead-graph.svg", "the graph as a picture"},
		{fmt.Sprintf("%s frontend -- curl -s %s/api/orders", exec, api), "allowed"},
		{fmt.Sprintf("%s frontend -- curl -s --path-as-is %s/admin", exec, api), "blocked"},
		{fmt.Sprintf("%s compromised -- redis-cli -h %s ping", exec, w.DB.IP4), "blocked"},
		{fmt.Sprintf("%s api -- dig +short @%s %s", exec, w.DNS.IP4, scenario.PaymentsName), "allowed"},
		{fmt.Sprintf("tcpdump -nn -r %s/evidence/FILE.pcapng", w.Agent.StateDir), "the first packets of a drop"},
	} {
		fmt.Fprintf(tw, "   %s\t# %s\n", l[0], l[1])
	}
	tw.Flush()
	d.say("   Press Ctrl-C here to stop the agent and remove everything.")
	<-ctx.Done()
}

// teardown stops the agent and removes the test bed.
func (d *demo) teardown() {
	d.title("Stop the agent (SIGTERM) and remove the test bed")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := d.w.StopAgent(ctx)
	if err != nil {
		d.fail("stop the agent: %v", err)
	} else {
		d.say("   the agent exited with status %d in %v", s.ExitCode, s.Took.Round(time.Millisecond))
		d.say("   BULKHEAD rules left in the node: %d; API socket left: %v", len(s.RulesLeft), s.SocketLeft)
		if s.ExitCode != 0 || len(s.RulesLeft) > 0 || s.SocketLeft {
			d.fail("the agent did not shut down cleanly: exit %d, rules left %q, socket left %v", s.ExitCode, s.RulesLeft, s.SocketLeft)
		}
	}
	if err := d.w.Close(); err != nil {
		d.fail("remove the test bed: %v", err)
		return
	}
	d.say("   removed the namespaces bh-%s-* and the working directory", d.name)
}
