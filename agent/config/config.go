package config

import (
	"fmt"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"bulkhead.dev/bulkhead/agent/modes"
)

// Default locations.
const (
	DefaultPath       = "/etc/bulkhead/agent.yaml"
	DefaultPolicyPath = "/etc/bulkhead/policy/"
	DefaultStateDir   = "/var/lib/bulkhead"
	DefaultAPISocket  = "/run/bulkhead/bulkhead.sock"
	DefaultMetrics    = ":9447"
	DefaultMarkMask   = 0x00f00000
)

// Config is the agent's configuration. YAML field names are camelCase.
type Config struct {
	// Node names this node in events, metrics and the learned graph.
	// Default: the environment variable NODE_NAME (the Kubernetes
	// DaemonSet sets it to the node's name), else the host name.
	Node string `yaml:"node"`
	// Queues is the number of NFQUEUE queues (one reader each). Default: the
	// number of CPUs.
	Queues int `yaml:"queues"`
	// QueueFirst is the number of the first queue; the agent uses
	// QueueFirst … QueueFirst+Queues-1.
	QueueFirst int `yaml:"queueFirst"`
	// MarkMask is the bits of the packet mark and connmark Bulkhead owns.
	MarkMask Hex `yaml:"markMask"`
	// FailMode says what the kernel does with packets when the agent cannot
	// answer (not running, queue full): open lets them through, closed drops
	// them.
	FailMode FailMode `yaml:"failMode"`
	// DefaultMode is the mode of workloads in no group when the policy sets
	// no default (and of everything when there is no policy).
	DefaultMode modes.Mode `yaml:"defaultMode"`
	// Policy is a policy file or a directory of them. A missing path means
	// an empty policy in the default mode.
	Policy string `yaml:"policy"`
	// PolicyWatchInterval is how often the agent checks the policy path
	// for changes (the files' content, or a Kubernetes ConfigMap's
	// "..data" link moving to a new version) and reloads it when it
	// changed, as SIGHUP does. 0 turns the watch off.
	PolicyWatchInterval time.Duration `yaml:"policyWatchInterval"`
	// StateDir holds the learned graph, modes, last good policy, events and
	// evidence.
	StateDir string `yaml:"stateDir"`

	API      API      `yaml:"api"`
	Metrics  Metrics  `yaml:"metrics"`
	Identity Identity `yaml:"identity"`
	Inspect  Inspect  `yaml:"inspect"`
	Learn    Learn    `yaml:"learn"`
	Limits   Limits   `yaml:"limits"`
	Events   Events   `yaml:"events"`
	DNS      DNS      `yaml:"dns"`
	State    State    `yaml:"state"`
	Log      Log      `yaml:"log"`
}

// API configures the agent's HTTP API.
type API struct {
	// Socket is the unix socket (mode 0600; its directory is created 0755).
	Socket string `yaml:"socket"`
	// TCP is an optional host:port to serve the API on as well; "" is off.
	// The TCP listener has no authentication: bind it to loopback or a
	// trusted network only.
	TCP string `yaml:"tcp"`
}

// Metrics configures the metrics listener.
type Metrics struct {
	// Listen is the host:port serving /metrics, /healthz and /readyz; "" is
	// off.
	Listen string `yaml:"listen"`
	// GraphSeries caps the number of distinct communication-graph series;
	// beyond it new label combinations fold into "other".
	GraphSeries int `yaml:"graphSeries"`
}

// Identity configures how workloads are named.
type Identity struct {
	// File is a static identity file ("" for none): workloads by network
	// namespace, interface, IP or CIDR, remote peers and external ranges.
	File  string      `yaml:"file"`
	NetNS NetNSSource `yaml:"netns"`
}

// NetNSSource names a workload after its network namespace.
type NetNSSource struct {
	Enabled bool `yaml:"enabled"`
	// StripPrefixes are removed from the namespace name; the longest
	// matching one wins ("bh-demo-frontend" → "frontend").
	StripPrefixes []string `yaml:"stripPrefixes"`
	// StripSuffixes likewise, after the prefix.
	StripSuffixes []string `yaml:"stripSuffixes"`
	// Ignore lists glob patterns (path.Match syntax) of namespace names that
	// do not name a workload, e.g. the random names CNI plugins use.
	Ignore []string `yaml:"ignore"`
}

// Inspect says what the agent inspects beyond what its policy needs.
type Inspect struct {
	// Responses queues HTTP, HTTP/2 and gRPC connections checked request by
	// request whole (both directions) in monitor and protect mode too, so
	// that their responses are seen and bulkhead_http_requests_total counts
	// them by status class. Learn mode always does. It costs queueing every
	// response segment and ACK of those connections: about four times the
	// packets, and a lower request rate through the agent.
	Responses bool `yaml:"responses"`
}

// Learn configures learn mode.
type Learn struct {
	// EveryRequest keeps a learn-mode connection of an application with L7
	// attributes (HTTP paths, Redis commands…) inspected for its whole
	// life, so that every distinct request of a keep-alive connection is
	// learned. False fast-paths it once its first request is recorded:
	// cheaper, but requests made later on such connections are missing
	// from the learned graph (and from a policy generated from it, which
	// then drops them in protect mode).
	EveryRequest bool `yaml:"everyRequest"`
}

// Limits bound what the agent tracks.
type Limits struct {
	// Flows is the maximum number of tracked flows; beyond it the least
	// recently used flow is evicted.
	Flows int         `yaml:"flows"`
	Idle  IdleTimeout `yaml:"idle"`
	// Memory is the soft memory limit of the agent's Go runtime (what
	// GOMEMLIMIT sets): the garbage collector works harder to stay under
	// it. 0 means 64 MiB plus 512 bytes per tracked flow.
	Memory Size `yaml:"memory"`
	// Inspections is the most flows inspected at once (waiting for L7
	// attributes, or checked request by request); past it a flow that
	// needs inspection is decided without it, as when its L7 wait ends.
	Inspections int `yaml:"inspections"`
	// L7Wait bounds how long a connection stays queued while a rule waits
	// for its L7 attributes.
	L7Wait L7Wait `yaml:"l7Wait"`
	// Reassembly is the most TCP payload buffered per direction of a flow
	// for L7 parsing.
	Reassembly Size `yaml:"reassembly"`
}

// IdleTimeout is how long a flow may stay without packets before it is
// forgotten, per protocol and TCP state.
type IdleTimeout struct {
	TCPOpening     time.Duration `yaml:"tcpOpening"`
	TCPEstablished time.Duration `yaml:"tcpEstablished"`
	TCPClosing     time.Duration `yaml:"tcpClosing"`
	UDP            time.Duration `yaml:"udp"`
	ICMP           time.Duration `yaml:"icmp"`
	Other          time.Duration `yaml:"other"`
}

// L7Wait bounds the wait for L7 attributes; the first bound reached ends it.
type L7Wait struct {
	Packets int           `yaml:"packets"`
	Bytes   Size          `yaml:"bytes"`
	Time    time.Duration `yaml:"time"`
	// Verdict applies in protect mode when the wait ends without the
	// attributes (always reported; learn allows, monitor reports).
	Verdict Verdict `yaml:"verdict"`
}

// Events configures event outputs.
type Events struct {
	// Stdout writes every event as a JSON line to standard output.
	Stdout bool `yaml:"stdout"`
	// File is the event log ("" is off); a relative path is inside StateDir.
	File string `yaml:"file"`
	// MaxSize is the size at which the event log rotates.
	MaxSize Size `yaml:"maxSize"`
	// Keep is how many rotated event logs are kept besides the current one.
	Keep int `yaml:"keep"`
	// Queue is the capacity of the queue between the packet path and the
	// event writer; events beyond it are dropped and counted.
	Queue int `yaml:"queue"`
	// Recent is how many recent events the API returns without follow.
	Recent int `yaml:"recent"`
	// Subscriber is the buffer of each API event stream; a slower reader
	// loses events and is told how many.
	Subscriber int      `yaml:"subscriber"`
	Evidence   Evidence `yaml:"evidence"`
}

// Evidence configures pcapng evidence files for drop and violation events.
type Evidence struct {
	Enabled bool `yaml:"enabled"`
	// Dir holds the files; a relative path is inside StateDir.
	Dir string `yaml:"dir"`
	// MaxFiles caps the number of files; the oldest go first.
	MaxFiles int `yaml:"maxFiles"`
	// MaxFileSize caps each file; packets beyond it are left out.
	MaxFileSize Size `yaml:"maxFileSize"`
	// Packets is how many first packets of a connection are kept.
	Packets int `yaml:"packets"`
}

// DNS configures the FQDN map fed by DNS answers.
type DNS struct {
	// TTLFloor is the least time an answer is remembered, whatever its TTL.
	TTLFloor time.Duration `yaml:"ttlFloor"`
	// MaxEntries caps the (name, address) pairs remembered; the least
	// recently refreshed go first.
	MaxEntries int `yaml:"maxEntries"`
}

// State configures persistence.
type State struct {
	// Interval is how often the learned graph and modes are saved (and
	// always at shutdown).
	Interval time.Duration `yaml:"interval"`
}

// Log configures the agent's own log (standard error).
type Log struct {
	Level  LogLevel  `yaml:"level"`
	Format LogFormat `yaml:"format"`
}

// Env is what defaults depend on in the environment.
type Env struct {
	// NodeName is the environment variable NODE_NAME: the node's name when
	// the orchestrator provides it (the Kubernetes DaemonSet sets it from
	// spec.nodeName). It wins over Hostname.
	NodeName string
	Hostname string // "" when unknown (validation then asks for node)
	CPUs     int
	// ConfigFile is the environment variable BULKHEAD_CONFIG: the
	// configuration file read when none is given explicitly, instead of
	// DefaultPath (a missing file there is fine too).
	ConfigFile string
}

// ConfigPath returns the configuration file read when none is given
// explicitly: ConfigFile, else DefaultPath.
func (e Env) ConfigPath() string {
	if e.ConfigFile != "" {
		return e.ConfigFile
	}
	return DefaultPath
}

// Default returns the configuration used when nothing is set.
func Default(env Env) Config {
	node := env.NodeName
	if node == "" {
		node = env.Hostname
	}
	return Config{
		Node:        node,
		Queues:      max(env.CPUs, 1),
		MarkMask:    DefaultMarkMask,
		FailMode:    FailOpen,
		DefaultMode: modes.Learn,
		Policy:      DefaultPolicyPath,
		// Kubernetes refreshes a mounted ConfigMap within about a minute;
		// 10 s adds little to that, and a poll costs reading the policy
		// files once.
		PolicyWatchInterval: 10 * time.Second,
		StateDir:            DefaultStateDir,
		API:                 API{Socket: DefaultAPISocket},
		Metrics:             Metrics{Listen: DefaultMetrics, GraphSeries: 5000},
		Identity: Identity{NetNS: NetNSSource{
			Enabled:       true,
			StripPrefixes: []string{},
			StripSuffixes: []string{},
			Ignore:        []string{"cni-*"},
		}},
		Learn: Learn{EveryRequest: true},
		Limits: Limits{
			Flows: 262144,
			Idle: IdleTimeout{
				TCPOpening:     30 * time.Second,
				TCPEstablished: 30 * time.Minute,
				TCPClosing:     30 * time.Second,
				UDP:            60 * time.Second,
				ICMP:           30 * time.Second,
				Other:          60 * time.Second,
			},
			Inspections: 16384,
			L7Wait:      L7Wait{Packets: 8, Bytes: 16 * KiB, Time: 2 * time.Second, Verdict: VerdictDeny},
			Reassembly:  16 * KiB,
		},
		Events: Events{
			File:       "events/events.jsonl",
			MaxSize:    50 * MiB,
			Keep:       5,
			Queue:      4096,
			Recent:     1000,
			Subscriber: 1024,
			Evidence: Evidence{
				Enabled:     true,
				Dir:         "evidence",
				MaxFiles:    1000,
				MaxFileSize: 1 * MiB,
				Packets:     8,
			},
		},
		DNS:   DNS{TTLFloor: 30 * time.Second, MaxEntries: 65536},
		State: State{Interval: 10 * time.Second},
		Log:   Log{Level: LogInfo, Format: LogText},
	}
}

// MemoryLimit returns the soft memory limit in bytes: limits.memory, or
// 64 MiB plus 512 bytes per flow of limits.flows when it is 0 (192 MiB for
// the default 262,144 flows).
func (c *Config) MemoryLimit() int64 {
	if c.Limits.Memory > 0 {
		return int64(c.Limits.Memory)
	}
	return 64<<20 + 512*int64(c.Limits.Flows)
}

// EventsFile returns the event log path ("" when off), resolved against
// StateDir.
func (c *Config) EventsFile() string { return c.inState(c.Events.File) }

// EvidenceDir returns the evidence directory, resolved against StateDir.
func (c *Config) EvidenceDir() string { return c.inState(c.Events.Evidence.Dir) }

func (c *Config) inState(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.StateDir, p)
}

// YAML returns the configuration as a YAML document, every field included
// (what "bulkhead agent --print-config" prints).
func (c *Config) YAML() ([]byte, error) {
	b, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return b, nil
}
