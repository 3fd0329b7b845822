package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/cli"
	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/modes"
)

// The CLI verbs that talk to a running agent over its API.

func init() {
	register(command{name: "status", usage: "[--api ADDR] [--json]", summary: "show the running agent's status", run: runStatus})
	register(command{name: "flows", usage: "[--api ADDR] [--json] [--src S] [--dst D] [--workload W] [--app A] [--verdict V] [--port P] [--limit N]",
		summary: "list the agent's recent flows", run: runFlows})
	register(command{name: "workloads", usage: "[--api ADDR] [--json]", summary: "list the workloads on this node and their identities", run: runWorkloads})
	register(command{name: "mode", usage: "[--api ADDR] [--json] [GROUP [learn|monitor|protect]]",
		summary: "show modes, or set a group's mode", run: runMode})
	register(command{name: "events", usage: "[--api ADDR] [--json] [-f] [--type T,...] [--limit N]",
		summary: "show the agent's recent events; -f follows new ones", run: runEvents})
	registerPolicyVerb("reload", policyVerb{
		usage:   "[--api ADDR] [--json]",
		summary: "make the running agent reload its policy (refused with the errors if it is invalid)",
		run:     runPolicyReload,
	})
}

// clientFlags are the flags every verb has.
type clientFlags struct {
	api     string
	json    bool
	timeout time.Duration
}

func newClientFlags(name string, stderr io.Writer) (*flag.FlagSet, *clientFlags) {
	fs := newFlagSet(name, stderr)
	cf := &clientFlags{}
	cf.addAPIFlags(fs)
	fs.BoolVar(&cf.json, "json", false, "print JSON for scripts")
	return fs, cf
}

// addAPIFlags defines --api (default: env BULKHEAD_API, else the default
// socket) and --timeout on fs: the flags of every command that asks the
// agent.
func (cf *clientFlags) addAPIFlags(fs *flag.FlagSet) {
	def := os.Getenv("BULKHEAD_API")
	if def == "" {
		def = api.DefaultSocket
	}
	fs.StringVar(&cf.api, "api", def, "the agent's API: a unix socket path or host:port (env BULKHEAD_API)")
	fs.DurationVar(&cf.timeout, "timeout", 10*time.Second, "give up on the agent after this long")
}

func (cf *clientFlags) client() (*api.Client, error) {
	c, err := api.NewClient(cf.api)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return c, nil
}

// call runs fn with the client and a timeout.
func (cf *clientFlags) call(ctx context.Context, fn func(context.Context, *api.Client) error) error {
	c, err := cf.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	return fn(ctx, c)
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newClientFlags("status", stderr)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	return cf.call(ctx, func(ctx context.Context, c *api.Client) error {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if cf.json {
			return cli.JSON(stdout, st)
		}
		return cli.Status(stdout, st, time.Now())
	})
}

func runFlows(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newClientFlags("flows", stderr)
	var f api.FlowFilter
	fs.StringVar(&f.Src, "src", "", "client: workload name, IP or CIDR")
	fs.StringVar(&f.Dst, "dst", "", "server: workload name, IP or CIDR")
	fs.StringVar(&f.Workload, "workload", "", "either side, by workload name")
	fs.StringVar(&f.App, "app", "", "application protocol (http, dns, redis…)")
	fs.StringVar(&f.Verdict, "verdict", "", strings.Join(api.FlowVerdicts, ", "))
	port := fs.Uint("port", 0, "server port")
	fs.IntVar(&f.Limit, "limit", api.DefaultFlowLimit, "at most this many, most recently active first")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *port > 65535 {
		return usagef("--port %d: want 1-65535", *port)
	}
	f.Port = uint16(*port)
	f.App, f.Verdict = strings.ToLower(f.App), strings.ToLower(f.Verdict)
	if err := f.Check(); err != nil {
		return usagef("%v", err)
	}
	return cf.call(ctx, func(ctx context.Context, c *api.Client) error {
		fl, err := c.Flows(ctx, f)
		if err != nil {
			return err
		}
		if cf.json {
			return cli.JSON(stdout, fl)
		}
		return cli.Flows(stdout, fl, time.Now())
	})
}

func runWorkloads(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newClientFlags("workloads", stderr)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	return cf.call(ctx, func(ctx context.Context, c *api.Client) error {
		ws, err := c.Workloads(ctx)
		if err != nil {
			return err
		}
		if cf.json {
			return cli.JSON(stdout, ws)
		}
		return cli.Workloads(stdout, ws)
	})
}

func runMode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newClientFlags("mode", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) > 2 {
		return usagef("unexpected argument %q", rest[2])
	}
	if len(rest) == 2 {
		if _, err := modes.Parse(rest[1]); err != nil {
			return usagef("%v", err)
		}
	}
	return cf.call(ctx, func(ctx context.Context, c *api.Client) error {
		all, err := c.Modes(ctx)
		if err != nil {
			return err
		}
		if len(rest) == 0 {
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			if cf.json {
				return cli.JSON(stdout, all)
			}
			return cli.Modes(stdout, all, st.DefaultMode, time.Now())
		}
		var cur *modes.Entry
		names := make([]string, 0, len(all))
		for i := range all {
			names = append(names, all[i].Group)
			if all[i].Group == rest[0] {
				cur = &all[i]
			}
		}
		if cur == nil {
			if len(names) == 0 {
				return fmt.Errorf("unknown group %q: the policy in force has no groups", rest[0])
			}
			return fmt.Errorf("unknown group %q (the policy's groups: %s)", rest[0], strings.Join(names, ", "))
		}
		if len(rest) == 1 {
			if cf.json {
				return cli.JSON(stdout, cur)
			}
			return cli.Modes(stdout, []modes.Entry{*cur}, "", time.Now())
		}
		e, err := c.SetMode(ctx, rest[0], rest[1])
		if err != nil {
			return err
		}
		if cf.json {
			return cli.JSON(stdout, e)
		}
		return cli.ModeChange(stdout, cur.Mode, e)
	})
}

func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newClientFlags("events", stderr)
	follow := fs.Bool("f", false, "follow: print new events as they happen, until interrupted (--timeout does not apply)")
	types := fs.String("type", "", "only these event types, comma-separated (drop, violation, learned…)")
	limit := fs.Int("limit", 100, "how many recent events (without -f)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	if *limit < 0 {
		return usagef("--limit %d: want a number ≥ 0 (0: every recent event)", *limit)
	}
	req := api.EventsRequest{Follow: *follow, Limit: *limit}
	if *types != "" {
		req.Types = strings.Split(*types, ",")
		for _, t := range req.Types {
			if err := api.CheckEventType(t); err != nil {
				return usagef("--type: %v", err)
			}
		}
	}
	if !*follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cf.timeout)
		defer cancel()
	}
	err = c.Events(ctx, req, func(e events.Event) error {
		if cf.json {
			return writeJSONLine(stdout, e)
		}
		return cli.Event(stdout, e)
	})
	if errors.Is(err, context.Canceled) {
		return nil // interrupted
	}
	return err
}

// writeJSONLine prints an event as the agent logs it: one JSON line.
func writeJSONLine(w io.Writer, e events.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func runPolicyReload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newClientFlags("policy reload", stderr)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	return cf.call(ctx, func(ctx context.Context, c *api.Client) error {
		info, err := c.ReloadPolicy(ctx)
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status == 422 {
			fmt.Fprintln(stderr, ae.Message) // file:line: field: message, one per line
			return &exitError{code: 1, err: errors.New("the agent refused the policy; the previous policy stays in force")}
		}
		if err != nil {
			return err
		}
		if cf.json {
			return cli.JSON(stdout, info)
		}
		if !info.Loaded && info.Absent != "" {
			_, err = fmt.Fprintf(stdout, "%s: the empty policy in the default mode stays in force\n", info.Absent)
			return err
		}
		_, err = fmt.Fprintf(stdout, "policy reloaded: %s\n", info.Summary())
		return err
	})
}
