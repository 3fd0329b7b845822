package config

import (
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/internal/yamlstrict"
	"bulkhead.dev/bulkhead/agent/modes"
	"bulkhead.dev/bulkhead/internal/golden"
)

var testEnv = Env{Hostname: "node-1", CPUs: 4}

// files is a fake file system for Load.
func files(m map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		s, ok := m[p]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
}

func TestDefaults(t *testing.T) {
	l, err := Load(Options{Env: testEnv, ReadFile: files(nil)})
	if err != nil {
		t.Fatalf("Load with no file: %v", err)
	}
	if l.File != "" {
		t.Errorf("File = %q, want none", l.File)
	}
	b, err := l.YAML()
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/default.yaml", b)

	// The printed defaults load back to the same configuration.
	back, err := Load(Options{Path: "/x.yaml", Explicit: true, Env: Env{}, ReadFile: files(map[string]string{"/x.yaml": string(b)})})
	if err != nil {
		t.Fatalf("loading the printed defaults: %v", err)
	}
	if diff := cmp.Diff(l.Config, back.Config); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got, want := back.EventsFile(), "/var/lib/bulkhead/events/events.jsonl"; got != want {
		t.Errorf("EventsFile = %q, want %q", got, want)
	}
	if got, want := back.EvidenceDir(), "/var/lib/bulkhead/evidence"; got != want {
		t.Errorf("EvidenceDir = %q, want %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		args    []string
		env     Env
		want    func(c *Config)
		wantErr string
	}{
		{
			name: "no file at the default path",
			want: func(c *Config) {},
		},
		{
			name:  "file at the default path",
			files: map[string]string{DefaultPath: "node: n2\nlimits:\n  flows: 1000\n"},
			want:  func(c *Config) { c.Node = "n2"; c.Limits.Flows = 1000 },
		},
		{
			name:    "explicit missing file",
			args:    []string{"--config", "/etc/nope.yaml"},
			wantErr: "config: read /etc/nope.yaml: open /etc/nope.yaml: file does not exist",
		},
		{
			name:  "explicit file",
			files: map[string]string{"/c.yaml": "failMode: closed\ndefaultMode: protect\nevents: {stdout: true}\n"},
			args:  []string{"--config", "/c.yaml"},
			want: func(c *Config) {
				c.FailMode = FailClosed
				c.DefaultMode = modes.Protect
				c.Events.Stdout = true
			},
		},
		{
			name:  "flags override the file, in order",
			files: map[string]string{"/c.yaml": "node: fromfile\nqueues: 2\n"},
			args: []string{"--config", "/c.yaml", "--node", "fromflag", "--queues=8", "--events-stdout",
				"--set", "limits.idle.udp=2m", "--set", "identity.netns.stripPrefixes=[bh-demo-, k8s_]",
				"--events-file", "", "--set", "queues=3", "--metrics-listen", "127.0.0.1:9999"},
			want: func(c *Config) {
				c.Node = "fromflag"
				c.Queues = 3
				c.Events.Stdout = true
				c.Limits.Idle.UDP = 2 * time.Minute
				c.Identity.NetNS.StripPrefixes = []string{"bh-demo-", "k8s_"}
				c.Events.File = ""
				c.Metrics.Listen = "127.0.0.1:9999"
			},
		},
		{
			name: "every other flag",
			args: []string{"--fail-mode", "closed", "--default-mode", "monitor", "--policy", "/p", "--state-dir", "/s",
				"--api-socket", "/run/x.sock", "--api-tcp", "127.0.0.1:9448", "--identity-file", "/id.yaml",
				"--max-flows", "77", "--log-level", "debug", "--log-format", "json", "--events-stdout=false",
				"--policy-watch-interval", "0s", "--inspect-responses"},
			want: func(c *Config) {
				c.FailMode = FailClosed
				c.PolicyWatchInterval = 0
				c.Inspect.Responses = true
				c.DefaultMode = modes.Monitor
				c.Policy = "/p"
				c.StateDir = "/s"
				c.API = API{Socket: "/run/x.sock", TCP: "127.0.0.1:9448"}
				c.Identity.File = "/id.yaml"
				c.Limits.Flows = 77
				c.Log = Log{Level: LogDebug, Format: LogJSON}
			},
		},
		{
			name: "no host name",
			env:  Env{CPUs: 1},
			args: []string{"--node", "x"},
			want: func(c *Config) { c.Node = "x"; c.Queues = 1 },
		},
		{
			name: "NODE_NAME names the node",
			env:  Env{NodeName: "k8s-node-7", Hostname: "bulkhead-x2f9q", CPUs: 1},
			want: func(c *Config) { c.Node = "k8s-node-7"; c.Queues = 1 },
		},
		{
			name:  "node in the file wins over NODE_NAME",
			env:   Env{NodeName: "k8s-node-7", Hostname: "h", CPUs: 1},
			files: map[string]string{DefaultPath: "node: fromfile\n"},
			want:  func(c *Config) { c.Node = "fromfile"; c.Queues = 1 },
		},
		{
			name:  "policy watch interval from the file",
			files: map[string]string{DefaultPath: "policyWatchInterval: 2s\ninspect: {responses: true}\n"},
			want:  func(c *Config) { c.PolicyWatchInterval = 2 * time.Second; c.Inspect.Responses = true },
		},
		{
			name:  "BULKHEAD_CONFIG replaces the default path",
			env:   Env{Hostname: "node-1", CPUs: 4, ConfigFile: "/run/agent.yaml"},
			files: map[string]string{"/run/agent.yaml": "queues: 3\n", DefaultPath: "queues: 9\n"},
			want:  func(c *Config) { c.Queues = 3 },
		},
		{
			name:  "a missing file at BULKHEAD_CONFIG is no file, as at the default path",
			env:   Env{Hostname: "node-1", CPUs: 4, ConfigFile: "/run/none.yaml"},
			files: map[string]string{DefaultPath: "queues: 9\n"},
			want:  func(c *Config) {},
		},
		{
			name:  "--config wins over BULKHEAD_CONFIG",
			env:   Env{Hostname: "node-1", CPUs: 4, ConfigFile: "/run/agent.yaml"},
			files: map[string]string{"/run/agent.yaml": "queues: 3\n", "/c.yaml": "queues: 5\n"},
			args:  []string{"--config", "/c.yaml"},
			want:  func(c *Config) { c.Queues = 5 },
		},
		{
			name:  "learn mode fast-paths connections after their first request",
			files: map[string]string{DefaultPath: "learn: {everyRequest: false}\n"},
			want:  func(c *Config) { c.Learn.EveryRequest = false },
		},
		{
			name:    "no host name and no node",
			env:     Env{CPUs: 1},
			wantErr: "config: node: must not be empty (neither NODE_NAME nor the host name is known: set it)",
		},
		{
			name:    "unknown field names its line",
			files:   map[string]string{"/c.yaml": "node: a\nlimits:\n  flowz: 3\n"},
			args:    []string{"--config", "/c.yaml"},
			wantErr: "config: /c.yaml: line 3: limits.flowz: unknown field (known fields: flows, idle, inspections, l7Wait, memory, reassembly)",
		},
		{
			name:    "bad value type names its line",
			files:   map[string]string{"/c.yaml": "defaultMode: enforce\n"},
			args:    []string{"--config", "/c.yaml"},
			wantErr: `config: /c.yaml: line 1: defaultMode: unknown mode "enforce" (want learn, monitor or protect)`,
		},
		{
			name:    "invalid value in the file names file and line",
			files:   map[string]string{"/c.yaml": "# flows\nlimits:\n  flows: -1\n"},
			args:    []string{"--config", "/c.yaml"},
			wantErr: "config: /c.yaml:3: limits.flows: must be > 0, got -1",
		},
		{
			name:    "invalid value from a flag names the flag",
			files:   map[string]string{"/c.yaml": "limits:\n  flows: 5\n"},
			args:    []string{"--config", "/c.yaml", "--max-flows", "0"},
			wantErr: "config: limits.flows: must be > 0, got 0 (set by --max-flows)",
		},
		{
			name:    "bad flag value",
			args:    []string{"--queues", "many"},
			wantErr: `config: --queues: queues: cannot use "many" as an integer`,
		},
		{
			name:    "bad --set field",
			args:    []string{"--set", "limits.nope=1"},
			wantErr: "config: --set limits.nope: limits.nope: unknown field (known fields: flows, idle, inspections, l7Wait, memory, reassembly)",
		},
		{
			name:    "several errors at once",
			args:    []string{"--set", "queues=0", "--set", "log.level=loud"},
			wantErr: "config: queues: must be between 1 and 1024, got 0 (set by --set queues)\nlog.level: must be one of debug, info, warn, error, got \"loud\" (set by --set log.level)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Flags
			fs := flag.NewFlagSet("agent", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f.Register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatalf("parse %q: %v", tt.args, err)
			}
			env := tt.env
			if env == (Env{}) {
				env = testEnv
			}
			opts := f.Options(env)
			opts.ReadFile = files(tt.files)
			got, err := Load(opts)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Load succeeded, want error %q", tt.wantErr)
				}
				if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := Default(env)
			tt.want(&want)
			if diff := cmp.Diff(want, got.Config); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidate has one case per validation error.
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(c *Config)
		want string
	}{
		{"node empty", func(c *Config) { c.Node = "" }, "node: must not be empty (neither NODE_NAME nor the host name is known: set it)"},
		{"node spaces", func(c *Config) { c.Node = "a b" }, `node: must be at most 253 characters without spaces or control characters, got "a b"`},
		{"node long", func(c *Config) { c.Node = strings.Repeat("n", 254) }, "node: must be at most 253 characters"},
		{"queues zero", func(c *Config) { c.Queues = 0 }, "queues: must be between 1 and 1024, got 0"},
		{"queues many", func(c *Config) { c.Queues = 1025 }, "queues: must be between 1 and 1024, got 1025"},
		{"queueFirst negative", func(c *Config) { c.QueueFirst = -1 }, "queueFirst: must be between 0 and 65535, got -1"},
		{"queues past 65535", func(c *Config) { c.QueueFirst = 65535; c.Queues = 2 }, "queueFirst: queues 65535 to 65536 go past 65535"},
		{"markMask zero", func(c *Config) { c.MarkMask = 0 }, "markMask: must be one run of at least 3 contiguous bits (e.g. 0x00f00000), got 0x00000000"},
		{"markMask two bits", func(c *Config) { c.MarkMask = 0x300 }, "markMask: must be one run of at least 3 contiguous bits"},
		{"markMask holes", func(c *Config) { c.MarkMask = 0x00b00000 }, "markMask: must be one run of at least 3 contiguous bits"},
		{"inspections zero", func(c *Config) { c.Limits.Inspections = 0 }, "limits.inspections: must be between 1 and 16777216, got 0"},
		{"memory too small", func(c *Config) { c.Limits.Memory = MiB }, "limits.memory: must be 0 (automatic) or at least 32MiB, got 1MiB"},
		{"failMode", func(c *Config) { c.FailMode = "half" }, `failMode: must be one of open, closed, got "half"`},
		{"defaultMode", func(c *Config) { c.DefaultMode = modes.Unset }, `defaultMode: must be one of learn, monitor, protect, got ""`},
		{"policy", func(c *Config) { c.Policy = "" }, "policy: must not be empty"},
		{"stateDir empty", func(c *Config) { c.StateDir = "" }, "stateDir: must not be empty"},
		{"stateDir relative", func(c *Config) { c.StateDir = "state" }, `stateDir: must be an absolute path, got "state"`},
		{"api.socket relative", func(c *Config) { c.API.Socket = "b.sock" }, `api.socket: must be an absolute path, got "b.sock"`},
		{"api.socket long", func(c *Config) { c.API.Socket = "/" + strings.Repeat("s", 107) }, "api.socket: must be at most 107 bytes (unix socket path limit), got 108"},
		{"api.tcp", func(c *Config) { c.API.TCP = "localhost" }, `api.tcp: must be host:port (e.g. 127.0.0.1:9448 or :9448), got "localhost"`},
		{"api.tcp port", func(c *Config) { c.API.TCP = "127.0.0.1:http" }, `api.tcp: bad port "http" in "127.0.0.1:http" (want 1-65535)`},
		{"metrics.listen", func(c *Config) { c.Metrics.Listen = ":0" }, `metrics.listen: bad port "0" in ":0" (want 1-65535)`},
		{"metrics.graphSeries", func(c *Config) { c.Metrics.GraphSeries = 0 }, "metrics.graphSeries: must be > 0, got 0"},
		{"stripPrefixes", func(c *Config) { c.Identity.NetNS.StripPrefixes = []string{"a", ""} }, "identity.netns.stripPrefixes[1]: must not be empty"},
		{"stripSuffixes", func(c *Config) { c.Identity.NetNS.StripSuffixes = []string{""} }, "identity.netns.stripSuffixes[0]: must not be empty"},
		{"ignore", func(c *Config) { c.Identity.NetNS.Ignore = []string{"cni-[", "ok"} }, `identity.netns.ignore[0]: bad glob pattern "cni-["`},
		{"limits.flows", func(c *Config) { c.Limits.Flows = -1 }, "limits.flows: must be > 0, got -1"},
		{"limits.flows max", func(c *Config) { c.Limits.Flows = 1<<24 + 1 }, "limits.flows: must be at most 16777216, got 16777217"},
		{"idle tcpOpening", func(c *Config) { c.Limits.Idle.TCPOpening = 0 }, "limits.idle.tcpOpening: must be between 1s and 168h0m0s, got 0s"},
		{"idle tcpEstablished", func(c *Config) { c.Limits.Idle.TCPEstablished = 8 * 24 * time.Hour }, "limits.idle.tcpEstablished: must be between 1s and 168h0m0s, got 192h0m0s"},
		{"idle tcpClosing", func(c *Config) { c.Limits.Idle.TCPClosing = time.Millisecond }, "limits.idle.tcpClosing: must be between 1s and 168h0m0s, got 1ms"},
		{"idle udp", func(c *Config) { c.Limits.Idle.UDP = -time.Second }, "limits.idle.udp: must be between 1s and 168h0m0s, got -1s"},
		{"idle icmp", func(c *Config) { c.Limits.Idle.ICMP = 0 }, "limits.idle.icmp: must be between"},
		{"idle other", func(c *Config) { c.Limits.Idle.Other = 0 }, "limits.idle.other: must be between"},
		{"l7Wait.packets", func(c *Config) { c.Limits.L7Wait.Packets = 0 }, "limits.l7Wait.packets: must be between 1 and 1000, got 0"},
		{"l7Wait.bytes", func(c *Config) { c.Limits.L7Wait.Bytes = 0 }, "limits.l7Wait.bytes: must be at least 1, got 0"},
		{"l7Wait.bytes over reassembly", func(c *Config) { c.Limits.L7Wait.Bytes = 32 * KiB }, "limits.l7Wait.bytes: must not exceed limits.reassembly (16KiB), got 32KiB"},
		{"l7Wait.time", func(c *Config) { c.Limits.L7Wait.Time = 2 * time.Minute }, "limits.l7Wait.time: must be between 1ms and 1m0s, got 2m0s"},
		{"l7Wait.verdict", func(c *Config) { c.Limits.L7Wait.Verdict = "drop" }, `limits.l7Wait.verdict: must be one of allow, deny, got "drop"`},
		{"reassembly", func(c *Config) { c.Limits.Reassembly = 100 }, "limits.reassembly: must be between 1KiB and 16MiB, got 100"},
		{"events.maxSize", func(c *Config) { c.Events.MaxSize = KiB }, "events.maxSize: must be at least 4KiB, got 1KiB"},
		{"events.keep", func(c *Config) { c.Events.Keep = -1 }, "events.keep: must be between 0 and 1000, got -1"},
		{"events.queue", func(c *Config) { c.Events.Queue = 0 }, "events.queue: must be between 1 and 1048576, got 0"},
		{"events.recent", func(c *Config) { c.Events.Recent = -5 }, "events.recent: must be between 0 and 1048576, got -5"},
		{"events.subscriber", func(c *Config) { c.Events.Subscriber = 0 }, "events.subscriber: must be between 1 and 1048576, got 0"},
		{"evidence.dir", func(c *Config) { c.Events.Evidence.Dir = "" }, "events.evidence.dir: must not be empty when evidence is enabled"},
		{"evidence.maxFiles", func(c *Config) { c.Events.Evidence.MaxFiles = 0 }, "events.evidence.maxFiles: must be between 1 and 1048576, got 0"},
		{"evidence.maxFileSize", func(c *Config) { c.Events.Evidence.MaxFileSize = 10 }, "events.evidence.maxFileSize: must be at least 1KiB, got 10"},
		{"evidence.packets", func(c *Config) { c.Events.Evidence.Packets = 65 }, "events.evidence.packets: must be between 1 and 64, got 65"},
		{"dns.ttlFloor", func(c *Config) { c.DNS.TTLFloor = -time.Second }, "dns.ttlFloor: must be between 0s and 24h0m0s, got -1s"},
		{"dns.maxEntries", func(c *Config) { c.DNS.MaxEntries = 0 }, "dns.maxEntries: must be between 1 and 16777216, got 0"},
		{"state.interval", func(c *Config) { c.State.Interval = time.Millisecond }, "state.interval: must be between 100ms and 24h0m0s, got 1ms"},
		{"policyWatchInterval", func(c *Config) { c.PolicyWatchInterval = 10 * time.Millisecond }, "policyWatchInterval: must be between 100ms and 24h0m0s, got 10ms"},
		{"policyWatchInterval negative", func(c *Config) { c.PolicyWatchInterval = -time.Second }, "policyWatchInterval: must be between 100ms and 24h0m0s, got -1s"},
		{"log.level", func(c *Config) { c.Log.Level = "trace" }, `log.level: must be one of debug, info, warn, error, got "trace"`},
		{"log.format", func(c *Config) { c.Log.Format = "xml" }, `log.format: must be one of text, json, got "xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default(testEnv)
			tt.mod(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate succeeded, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Validate = %q, want exactly one error starting %q", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %v is not a *FieldError", err)
			}
		})
	}
	// Evidence off: its directory may be empty.
	c := Default(testEnv)
	c.Events.Evidence.Enabled, c.Events.Evidence.Dir = false, ""
	if err := c.Validate(); err != nil {
		t.Errorf("evidence off with no dir: %v", err)
	}
}

// TestExample loads docs/examples/agent.yaml, which must be valid and set
// every field.
func TestExample(t *testing.T) {
	p := filepath.Join("..", "..", "docs", "examples", "agent.yaml")
	l, err := Load(Options{Path: p, Explicit: true, Env: testEnv})
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	c := Default(testEnv)
	pos, err := yamlstrict.Decode(data, &c)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range yamlstrict.Fields(&l.Config) {
		if _, ok := pos[f]; !ok {
			t.Errorf("docs/examples/agent.yaml does not set %s", f)
		}
	}
}

// TestDocs checks that docs/agent.md documents every field and every flag.
func TestDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "agent.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, f := range yamlstrict.Fields(&Config{}) {
		if !strings.Contains(doc, "`"+f+"`") {
			t.Errorf("docs/agent.md does not document the field `%s`", f)
		}
	}
	var fl Flags
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fl.Register(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(doc, "`--"+f.Name) {
			t.Errorf("docs/agent.md does not document the flag `--%s`", f.Name)
		}
	})
}

func TestNewLogger(t *testing.T) {
	for _, tt := range []struct {
		log  Log
		want string
	}{
		{Log{Level: LogWarn, Format: LogJSON}, `{"level":"WARN","msg":"w"}`},
		{Log{Level: LogDebug, Format: LogText}, "level=DEBUG msg=d\nlevel=WARN msg=w"},
		{Log{Level: LogError, Format: LogText}, ""},
		{Log{Level: LogInfo, Format: LogText}, "level=WARN msg=w"},
	} {
		var b strings.Builder
		l := tt.log.NewLogger(&b)
		l.Debug("d")
		l.Warn("w")
		got := stripTime(b.String())
		if got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.log, got, tt.want)
		}
	}
}

// stripTime removes the time attribute slog writes.
func stripTime(s string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "{") {
			_, rest, _ := strings.Cut(line, `","`)
			line = `{"` + rest
		} else {
			_, rest, _ := strings.Cut(line, " ")
			line = rest
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func TestMemoryLimit(t *testing.T) {
	c := Default(Env{Hostname: "n", CPUs: 1})
	if got := c.MemoryLimit(); got != 192<<20 {
		t.Errorf("default memory limit %d, want 192 MiB", got)
	}
	c.Limits.Flows = 1000
	if got := c.MemoryLimit(); got != 64<<20+512000 {
		t.Errorf("memory limit for 1000 flows %d", got)
	}
	c.Limits.Memory = 100 * MiB
	if got := c.MemoryLimit(); got != 100<<20 {
		t.Errorf("set memory limit %d, want 100 MiB", got)
	}
}
