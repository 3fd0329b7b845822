package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/testenv"
)

// Agent is the real "bulkhead agent" running in the node namespace, and the
// CLI that talks to it.
type Agent struct {
	// Bin is the bulkhead binary.
	Bin string
	// Dir holds everything below.
	Dir          string
	ConfigFile   string
	IdentityFile string
	PolicyDir    string
	StateDir     string
	Socket       string
	// LogFile receives the agent's standard output and error.
	LogFile string
	// Events reads the agent's event log.
	Events *EventLog
	// Client talks to the agent's API.
	Client *api.Client

	node    *testenv.Host
	proc    *testenv.Process
	logFile *os.File
	log     *slog.Logger
}

// Started is what StartAgent saw once the agent was ready.
type Started struct {
	Status    api.Status
	Workloads []api.Workload
	// Rules is the number of iptables and ip6tables rules (-A lines) of the
	// agent's chains in the node.
	Rules int
}

// StartAgent writes the agent's configuration and identity file, starts
// "bulkhead agent --config FILE" in the node namespace and waits until it
// is ready (policy loaded, dataplane attached) and names every container.
func (w *World) StartAgent(ctx context.Context) (Started, error) {
	if w.Agent != nil {
		return Started{}, errors.New("scenario: the agent is already started")
	}
	a, err := w.writeAgentFiles()
	if err != nil {
		return Started{}, err
	}
	if a.logFile, err = os.Create(a.LogFile); err != nil {
		return Started{}, fmt.Errorf("scenario: agent log: %w", err)
	}
	cmd := exec.Command(a.Bin, "agent", "--config", a.ConfigFile)
	cmd.Stdout, cmd.Stderr = a.logFile, a.logFile
	w.log.Debug("scenario: start the agent", "cmd", cmd.String(), "netns", w.Node.Node.NS)
	if a.proc, err = w.Node.Node.Start(cmd); err != nil {
		a.logFile.Close()
		return Started{}, fmt.Errorf("scenario: start the agent: %w", err)
	}
	w.Agent = a
	return a.waitReady(ctx, 20*time.Second)
}

// writeAgentFiles lays out the agent's directory and renders its
// configuration and identity file.
func (w *World) writeAgentFiles() (*Agent, error) {
	dir := filepath.Join(w.Dir, "agent")
	a := &Agent{
		Bin:          w.cfg.Bin,
		Dir:          dir,
		ConfigFile:   filepath.Join(dir, "agent.yaml"),
		IdentityFile: filepath.Join(dir, "identities.yaml"),
		PolicyDir:    filepath.Join(dir, "policy"),
		StateDir:     filepath.Join(dir, "state"),
		Socket:       filepath.Join(dir, "bulkhead.sock"),
		LogFile:      filepath.Join(dir, "agent.log"),
		node:         w.Node.Node,
		log:          w.log,
	}
	// The policy directory starts empty: the agent runs the empty policy
	// in the default mode (learn) until the generated policy goes in.
	if err := os.MkdirAll(a.PolicyDir, 0o700); err != nil {
		return nil, fmt.Errorf("scenario: agent directory: %w", err)
	}
	files := AgentFiles{
		Node:         "demo-node",
		PolicyDir:    a.PolicyDir,
		StateDir:     a.StateDir,
		Socket:       a.Socket,
		IdentityFile: a.IdentityFile,
		NetnsPrefix:  w.Node.Prefix() + "-",
	}
	conf, err := RenderConfig(files)
	if err != nil {
		return nil, err
	}
	ids, err := RenderIdentities(w.Node.Prefix())
	if err != nil {
		return nil, err
	}
	for path, b := range map[string][]byte{a.ConfigFile: conf, a.IdentityFile: ids} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("scenario: write %s: %w", path, err)
		}
	}
	a.Events = NewEventLog(filepath.Join(a.StateDir, "events", "events.jsonl"))
	c, err := api.NewClient(a.Socket)
	if err != nil {
		return nil, fmt.Errorf("scenario: agent API client: %w", err)
	}
	a.Client = c
	return a, nil
}

// waitReady polls the agent's status until it is ready and names every
// container of the shop, the process exits, or the time is up.
func (a *Agent) waitReady(ctx context.Context, limit time.Duration) (Started, error) {
	deadline := time.Now().Add(limit)
	var (
		st   api.Status
		wls  []api.Workload
		last error
	)
	for {
		if a.proc.Exited() {
			return Started{}, fmt.Errorf("scenario: the agent exited at start (%v); its log:\n%s", a.proc.Wait(), a.LogTail(30))
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, last = a.Client.Status(cctx)
		if last == nil {
			wls, last = a.Client.Workloads(cctx)
		}
		cancel()
		if last == nil {
			last = readiness(st, wls)
		}
		if last == nil {
			break
		}
		if time.Now().After(deadline) {
			return Started{Status: st, Workloads: wls}, fmt.Errorf("scenario: the agent is not ready after %v: %w", limit, last)
		}
		select {
		case <-ctx.Done():
			return Started{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	rules, err := a.Rules(ctx)
	if err != nil {
		return Started{}, err
	}
	s := Started{Status: st, Workloads: wls}
	for _, r := range rules {
		if strings.Contains(r, " -A ") {
			s.Rules++
		}
	}
	slices.SortFunc(s.Workloads, func(a, b api.Workload) int { return compareAddrs(a.Addrs, b.Addrs) })
	return s, nil
}

// readiness says what the agent still lacks: a failed readiness check, or
// a container of the shop it does not name.
func readiness(st api.Status, wls []api.Workload) error {
	if !st.Ready {
		var failed []string
		for _, c := range st.Checks {
			if !c.OK {
				failed = append(failed, fmt.Sprintf("[-]%s: %s", c.Name, c.Detail))
			}
		}
		return fmt.Errorf("readiness: %s", strings.Join(failed, "; "))
	}
	var names []string
	for _, w := range wls {
		names = append(names, w.Name)
	}
	for _, c := range Containers {
		if !slices.Contains(names, c) {
			return fmt.Errorf("the agent names the workloads %v, not yet %q", names, c)
		}
	}
	return nil
}

// CLIResult is one run of a CLI verb.
type CLIResult struct {
	// Command is the command line as a person would type it, with
	// BULKHEAD_API set to the agent's socket: "bulkhead mode api protect".
	Command string
	// Output is what it printed (standard output and error).
	Output   string
	ExitCode int
}

// CLI runs "bulkhead ARGS..." with BULKHEAD_API set to the agent's socket.
// A non-zero exit status is an error that quotes the output.
func (a *Agent) CLI(ctx context.Context, args ...string) (CLIResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.Bin, args...)
	cmd.Env = append(os.Environ(), "BULKHEAD_API="+a.Socket)
	a.log.Debug("scenario: run", "cmd", cmd.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := CLIResult{Command: "bulkhead " + strings.Join(args, " "), Output: out.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.ExitCode = ee.ExitCode()
		return r, fmt.Errorf("scenario: %s: exit status %d: %s", r.Command, r.ExitCode, strings.TrimSpace(r.Output))
	case err != nil:
		return r, fmt.Errorf("scenario: %s: %w", r.Command, err)
	}
	return r, nil
}

// Rules returns the rules of the agent's chains (BULKHEAD-*) in the node,
// IPv4 and IPv6, as iptables-save prints them.
func (a *Agent) Rules(ctx context.Context) ([]string, error) {
	var rules []string
	for _, prog := range []string{"iptables-save", "ip6tables-save"} {
		out, err := a.node.Run(ctx, prog)
		if err != nil {
			return nil, fmt.Errorf("scenario: list the node's rules: %w", err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "BULKHEAD") && (strings.HasPrefix(l, "-A") || strings.HasPrefix(l, ":")) {
				rules = append(rules, prog+": "+l)
			}
		}
	}
	return rules, nil
}

// Stopped is how the agent ended.
type Stopped struct {
	// ExitCode is the agent's exit status after SIGTERM (-1: killed).
	ExitCode int
	Took     time.Duration
	// RulesLeft are the agent's rules still in the node afterwards.
	RulesLeft []string
	// SocketLeft is true when the API socket is still there.
	SocketLeft bool
}

// StopAgent sends SIGTERM to the agent, waits for it to exit (20 s, then
// it is killed) and lists what it left behind.
func (w *World) StopAgent(ctx context.Context) (Stopped, error) {
	a := w.Agent
	if a == nil || a.proc == nil {
		return Stopped{}, errors.New("scenario: the agent is not running")
	}
	start := time.Now()
	if err := a.proc.Signal(syscall.SIGTERM); err != nil {
		return Stopped{}, err
	}
	s := Stopped{ExitCode: -1}
	select {
	case <-a.proc.Done():
		s.ExitCode = a.proc.Cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		_ = a.proc.Kill()
	}
	s.Took = time.Since(start)
	a.proc = nil
	a.logFile.Close()
	var err error
	if s.RulesLeft, err = a.Rules(ctx); err != nil {
		return s, err
	}
	if _, err := os.Lstat(a.Socket); err == nil {
		s.SocketLeft = true
	}
	return s, nil
}

// kill ends the agent at once if it still runs (Close).
func (a *Agent) kill() error {
	if a.proc == nil {
		return nil
	}
	err := a.proc.Kill()
	a.proc = nil
	a.logFile.Close()
	return err
}

// Running reports whether the agent process is running.
func (a *Agent) Running() bool { return a.proc != nil && !a.proc.Exited() }

// LogTail returns the last n lines of the agent's log.
func (a *Agent) LogTail(n int) string {
	b, err := os.ReadFile(a.LogFile)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", a.LogFile, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// compareAddrs orders address lists by their first address (empty first).
func compareAddrs(a, b []netip.Addr) int {
	switch {
	case len(a) == 0 || len(b) == 0:
		return len(a) - len(b)
	}
	return a[0].Compare(b[0])
}
