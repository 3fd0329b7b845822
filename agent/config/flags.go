package config

import (
	"flag"
	"fmt"
	"strings"
)

// flagFields maps the agent's command-line flags to the fields they set.
// Every field can also be set with --set FIELD=VALUE.
var flagFields = []struct {
	name, field, usage string
	isBool             bool
}{
	{"node", "node", "`NAME` of this node in events and metrics (default: $NODE_NAME, else the host name)", false},
	{"queues", "queues", "`N` NFQUEUE queues (default: number of CPUs)", false},
	{"fail-mode", "failMode", "`open|closed`: what the kernel does with packets the agent cannot answer", false},
	{"default-mode", "defaultMode", "`learn|monitor|protect`: mode of workloads the policy puts in no group", false},
	{"policy", "policy", "policy `FILE|DIR`", false},
	{"policy-watch-interval", "policyWatchInterval", "check the policy for changes every `DURATION` and reload it (0: off)", false},
	{"inspect-responses", "inspect.responses", "see HTTP responses (status classes) in monitor and protect mode too; costs queueing them", true},
	{"state-dir", "stateDir", "state `DIR`", false},
	{"api-socket", "api.socket", "unix socket `PATH` of the API", false},
	{"api-tcp", "api.tcp", "also serve the API on this `HOST:PORT` (no authentication)", false},
	{"metrics-listen", "metrics.listen", "`HOST:PORT` for /metrics, /healthz, /readyz (\"\" to disable)", false},
	{"identity-file", "identity.file", "static identity `FILE`", false},
	{"max-flows", "limits.flows", "`N` flows tracked at most", false},
	{"events-stdout", "events.stdout", "write events as JSON lines to standard output", true},
	{"events-file", "events.file", "event log `FILE` (relative to the state dir; \"\" to disable)", false},
	{"log-level", "log.level", "`debug|info|warn|error`", false},
	{"log-format", "log.format", "`text|json`", false},
}

// Flags collects the agent's command-line configuration: --config, one flag
// per common field, and --set FIELD=VALUE for any field.
type Flags struct {
	path      string
	overrides []Override
}

// Register defines the flags on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.Func("config", "configuration `FILE` (default $BULKHEAD_CONFIG, else "+DefaultPath+"; a missing file there is fine)", func(s string) error {
		if s == "" {
			return fmt.Errorf("empty path")
		}
		f.path = s
		return nil
	})
	for _, ff := range flagFields {
		fs.Var(&fieldFlag{f: f, name: ff.name, field: ff.field, isBool: ff.isBool}, ff.name, ff.usage+" (field "+ff.field+")")
	}
	fs.Func("set", "set any field: `FIELD=VALUE`, VALUE in YAML (e.g. limits.idle.udp=2m); repeatable", func(s string) error {
		field, value, ok := strings.Cut(s, "=")
		if !ok || field == "" {
			return fmt.Errorf("want FIELD=VALUE, got %q", s)
		}
		f.overrides = append(f.overrides, Override{Field: field, Value: value, YAML: true, Origin: "--set " + field})
		return nil
	})
}

// Options returns the load options the flags describe.
func (f *Flags) Options(env Env) Options {
	return Options{
		Path:      f.path,
		Explicit:  f.path != "",
		Env:       env,
		Overrides: append([]Override(nil), f.overrides...),
	}
}

type fieldFlag struct {
	f           *Flags
	name, field string
	isBool      bool
	last        string
}

func (v *fieldFlag) String() string { return v.last }

func (v *fieldFlag) Set(s string) error {
	v.last = s
	v.f.overrides = append(v.f.overrides, Override{Field: v.field, Value: s, Origin: "--" + v.name})
	return nil
}

func (v *fieldFlag) IsBoolFlag() bool { return v.isBool }
