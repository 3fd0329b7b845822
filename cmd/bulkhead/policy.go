package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/policy/diff"
	"bulkhead.dev/bulkhead/policy/export"
	"bulkhead.dev/bulkhead/policy/learn"
)

// policyVerb is one "bulkhead policy VERB" sub-command.
type policyVerb struct {
	usage   string // arguments after the verb
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// policyVerbs is the dispatch table of "bulkhead policy". Files other than
// this one add their verbs (e.g. "reload", which talks to the agent) from
// their init with registerPolicyVerb.
var policyVerbs = map[string]policyVerb{}

// registerPolicyVerb adds a verb; it panics on duplicates.
func registerPolicyVerb(name string, v policyVerb) {
	if _, dup := policyVerbs[name]; dup {
		panic("bulkhead: duplicate policy verb " + name)
	}
	policyVerbs[name] = v
}

func init() {
	registerPolicyVerb("check", policyVerb{
		usage:   "FILE|DIR...",
		summary: "validate policy files; list every error as FILE:LINE: field: message and exit 1",
		run:     policyCheck,
	})
	registerPolicyVerb("generate", policyVerb{
		usage:   "[flags] GRAPH.json...",
		summary: "turn learned graphs (merged) into a readable policy",
		run:     policyGenerate,
	})
	registerPolicyVerb("export", policyVerb{
		usage:   "--format kubernetes|cilium [--namespace NS] [--prefix P] [-o FILE] FILE|DIR...",
		summary: "write the policy as Kubernetes NetworkPolicy or CiliumNetworkPolicy YAML",
		run:     policyExport,
	})
	registerPolicyVerb("diff", policyVerb{
		usage:   "OLD NEW",
		summary: "say what changed between two policies (each a file or directory); exit 0 unless one is invalid",
		run:     policyDiff,
	})
	register(command{
		name:    "policy",
		usage:   "VERB [args]   (\"bulkhead policy help\" lists the verbs)",
		summary: "check, generate, export and compare policies",
		run:     runPolicy,
	})
}

func policyVerbNames() []string { return slices.Sorted(maps.Keys(policyVerbs)) }

func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("missing verb (one of %s)", strings.Join(policyVerbNames(), ", "))
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		for _, n := range policyVerbNames() {
			v := policyVerbs[n]
			fmt.Fprintf(stdout, "bulkhead policy %s %s\n    %s\n", n, v.usage, v.summary)
		}
		return nil
	}
	v, ok := policyVerbs[args[0]]
	if !ok {
		return usagef("unknown verb %q (one of %s)", args[0], strings.Join(policyVerbNames(), ", "))
	}
	return v.run(ctx, args[1:], stdout, stderr)
}

// policyFlags returns a flag set for a verb, printing to stderr; its usage
// names the verb's operands.
func policyFlags(verb string, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("policy "+verb, stderr)
	setSynopsis(fs, policyVerbs[verb].usage)
	return fs
}

// loadPolicy loads a policy, or returns an exit-1 error listing every
// problem.
func loadPolicy(paths []string, stdout io.Writer) (*policy.Policy, error) {
	pol, err := policy.Load(paths...)
	var list policy.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(stdout, e)
		}
		return nil, &exitError{code: 1, err: fmt.Errorf("%d error(s) in %s", len(list), strings.Join(paths, " "))}
	}
	if err != nil {
		return nil, &exitError{code: 1, err: err}
	}
	return pol, nil
}

func policyCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := policyFlags("check", stderr)
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("policy check: no file or directory given")
	}
	pol, err := loadPolicy(paths, stdout)
	if err != nil {
		return err
	}
	if _, err := policy.Compile(pol); err != nil {
		return &exitError{code: 1, err: err}
	}
	fmt.Fprintf(stdout, "ok: %d groups, %d rules in %d files\n", len(pol.Groups), len(pol.Rules), len(pol.Files))
	return nil
}

func policyGenerate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := policyFlags("generate", stderr)
	var opt learn.Options
	def := learn.DefaultOptions
	name := fs.String("name", def.Name, "metadata.name of the generated policy")
	mode := fs.String("mode", def.Mode.String(), "defaultMode of the generated policy: learn, monitor or protect")
	promote := fs.String("auto-promote", "", "add autoPromote {after: DURATION, to: protect} to every workload group (e.g. 24h, 7d)")
	out := fs.String("o", "", "write the policy to this file instead of standard output")
	thresholds := []struct {
		flag string
		v    *int
		def  int
		help string
	}{
		{"port-threshold", &opt.PortThreshold, def.PortThreshold, "more distinct ports than this to one peer collapse into a range"},
		{"path-threshold", &opt.PathThreshold, def.PathThreshold, "more distinct last path segments than this become {param}"},
		{"dns-threshold", &opt.DNSThreshold, def.DNSThreshold, "this many names under one domain become *.domain"},
		{"addr-threshold", &opt.AddrThreshold, def.AddrThreshold, "this many addresses in one /24 (/64) become one CIDR group"},
	}
	for _, th := range thresholds {
		fs.IntVar(th.v, th.flag, th.def, th.help)
	}
	graphs, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(graphs) == 0 {
		return usagef("policy generate: no graph file given")
	}
	// learn.Generate reads a zero or negative threshold as "the default":
	// on the command line that would silently ignore what was asked.
	for _, th := range thresholds {
		if *th.v < 1 {
			return usagef("--%s %d: must be at least 1", th.flag, *th.v)
		}
	}
	m, err := policy.ParseMode(*mode)
	if err != nil {
		return usagef("--mode: %v", err)
	}
	opt.Name, opt.Mode = *name, m
	if *promote != "" {
		d, err := policy.ParseDuration(*promote)
		if err != nil {
			return usagef("--auto-promote: %v", err)
		}
		opt.AutoPromote = &policy.AutoPromote{After: d, To: policy.ModeProtect}
	}
	var snaps []learn.Snapshot
	for _, path := range graphs {
		s, err := readFile(path, "graph", learn.ReadJSON)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		snaps = append(snaps, s)
	}
	pol, err := learn.Generate(learn.Merge(learn.DefaultLimits.MaxValues, snaps...), opt)
	if err != nil {
		return err
	}
	data, err := policy.Marshal(pol, opt.Name)
	if err != nil {
		return err
	}
	head := fmt.Sprintf("# Generated by bulkhead policy generate from %s.\n# Review it, then check it with: bulkhead policy check FILE\n",
		strings.Join(graphs, ", "))
	return writeOutput(*out, stdout, append([]byte(head), data...))
}

func policyExport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := policyFlags("export", stderr)
	format := fs.String("format", "", "kubernetes or cilium")
	var opt export.Options
	fs.StringVar(&opt.Namespace, "namespace", "default", "namespace of the exported objects")
	fs.StringVar(&opt.Prefix, "prefix", "bulkhead-", "prefix of the exported object names")
	out := fs.String("o", "", "write to this file instead of standard output")
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch *format {
	case string(export.Kubernetes), string(export.Cilium):
	case "":
		return usagef("--format is required: kubernetes or cilium")
	default:
		return usagef("--format %q: want kubernetes or cilium", *format)
	}
	var oe *export.OptionError
	if err := opt.Check(); errors.As(err, &oe) {
		return usagef("--%s %q: %s", oe.Field, oe.Value, oe.Reason)
	}
	if len(paths) == 0 {
		return usagef("policy export: no file or directory given")
	}
	pol, err := loadPolicy(paths, stderr)
	if err != nil {
		return err
	}
	data, err := export.Write(export.Format(*format), pol, opt)
	if err != nil {
		return err
	}
	return writeOutput(*out, stdout, data)
}

func policyDiff(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := policyFlags("diff", stderr)
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 2 {
		return usagef("policy diff: want OLD and NEW")
	}
	old, err := loadPolicy(paths[:1], stderr)
	if err != nil {
		return err
	}
	new, err := loadPolicy(paths[1:], stderr)
	if err != nil {
		return err
	}
	return diff.Write(stdout, diff.Diff(old, new))
}
