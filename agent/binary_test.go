package agent_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/internal/testbin"
	"bulkhead.dev/bulkhead/testenv"
)

// bulkheadBin is the binary under test: $BULKHEAD_BIN (make test builds
// it), else built by TestMain.
var bulkheadBin string

func TestMain(m *testing.M) {
	flag.Parse()
	bin, cleanup, err := testenv.Binary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent tests:", err)
		os.Exit(1)
	}
	bulkheadBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// run runs the binary to completion and returns its exit code and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	code, stdout, stderr, err := testbin.Run(bulkheadBin, time.Minute, args...)
	if err != nil {
		t.Fatal(err)
	}
	return code, stdout, stderr
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAgentBinary runs the real "bulkhead agent" with no configuration file
// in a test node's network namespace (it installs its iptables rules
// there), talks to it with the CLI verbs, reloads it with SIGHUP and stops
// it with SIGTERM. $BULKHEAD_CONFIG points the default configuration path
// at a file that does not exist, whatever /etc/bulkhead/agent.yaml holds
// on this machine.
func TestAgentBinary(t *testing.T) {
	testenv.RequireRoot(t)
	node := testenv.New(t, testenv.Config{Containers: []string{"web"}})
	httpc := node.Node.HTTPClient()
	dir := t.TempDir()
	noConfig := filepath.Join(dir, "agent.yaml") // never written
	sock := filepath.Join(dir, "run", "bulkhead.sock")
	stateDir := filepath.Join(dir, "state")
	metricsAddr := "127.0.0.1:9447" // the node namespace's loopback
	var stdout, stderr testenv.Buffer
	cmd := exec.Command(bulkheadBin, "agent", "--state-dir", stateDir, "--api-socket", sock,
		"--metrics-listen", metricsAddr, "--node", "test-node", "--policy", filepath.Join(dir, "no-policy"), "--events-stdout",
		"--set", "identity.netns.stripPrefixes=["+node.Prefix()+"-]")
	cmd.Env = append(os.Environ(), "BULKHEAD_CONFIG="+noConfig)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	proc, err := node.Node.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proc.Kill()
		if t.Failed() {
			t.Logf("agent stderr:\n%s", stderr.String())
		}
	})

	healthz := func() bool {
		resp, err := httpc.Get("http://" + metricsAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	waitFor(t, "/healthz", healthz)
	st, err := os.Stat(sock)
	if err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("API socket: %v %v", err, st)
	}
	if !strings.Contains(stderr.String(), "no configuration file") || !strings.Contains(stderr.String(), "looked_for="+noConfig) {
		t.Errorf("the agent did not say it runs without a configuration file:\n%s", stderr.String())
	}
	resp, err := httpc.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "bulkhead_build_info") {
		t.Errorf("/metrics lacks bulkhead_build_info")
	}

	// The CLI verbs.
	code, out, errOut := run(t, "status", "--api", sock)
	if code != 0 || !strings.Contains(out, "test-node") || !strings.Contains(out, "[+] dataplane  attached to 1 interface ") {
		t.Errorf("status: %d\n%s%s", code, out, errOut)
	}
	if code, out, _ = run(t, "workloads", "--api", sock); code != 0 || !strings.Contains(out, "web ") {
		t.Errorf("workloads: %d %q", code, out)
	}
	code, out, _ = run(t, "status", "--api", sock, "--json")
	var status api.Status
	if err := json.Unmarshal([]byte(out), &status); code != 0 || err != nil || status.Node != "test-node" || status.DefaultMode != "learn" {
		t.Errorf("status --json: %d %v %+v", code, err, status)
	}
	if code, out, _ = run(t, "flows", "--api", sock); code != 0 || out != "no flows\n" {
		t.Errorf("flows: %d %q", code, out)
	}
	if code, out, _ = run(t, "mode", "--api", sock); code != 0 || !strings.Contains(out, "(workloads in no group)  learn") {
		t.Errorf("mode: %d %q", code, out)
	}
	if code, _, errOut = run(t, "mode", "--api", sock, "ghost", "protect"); code != 1 || !strings.Contains(errOut, `unknown group "ghost"`) {
		t.Errorf("mode ghost protect: %d %q", code, errOut)
	}
	if code, _, errOut = run(t, "mode", "--api", sock, "ghost", "enforce"); code != 2 || !strings.Contains(errOut, `unknown mode "enforce"`) {
		t.Errorf("mode ghost enforce: %d %q", code, errOut)
	}
	// A policy path that does not exist keeps the empty policy on reload
	// (with a policy in force it would be refused: TestEmptyPolicyDirectory).
	if code, out, errOut = run(t, "policy", "reload", "--api", sock); code != 0 ||
		out != "no policy at "+filepath.Join(dir, "no-policy")+": the empty policy in the default mode stays in force\n" {
		t.Errorf("policy reload: %d %q %q", code, out, errOut)
	}
	waitFor(t, "the agent_start event", func() bool {
		code, out, _ = run(t, "events", "--api", sock, "--json")
		return code == 0 && strings.Contains(out, `"type":"agent_start"`)
	})

	// events -f follows until interrupted.
	follow := exec.Command(bulkheadBin, "events", "-f", "--api", sock)
	fout, _ := follow.StdoutPipe()
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the event stream", func() bool {
		var s api.Status
		_, out, _ := run(t, "status", "--api", sock, "--json")
		json.Unmarshal([]byte(out), &s)
		return s.Events.Subscribers == 1
	})
	follow.Process.Signal(syscall.SIGINT)
	io.Copy(io.Discard, bufio.NewReader(fout))
	if err := follow.Wait(); err != nil {
		t.Errorf("events -f after SIGINT: %v", err)
	}

	// SIGHUP reloads and keeps running.
	proc.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(stderr.String(), "SIGHUP") })
	if !healthz() {
		t.Fatal("the agent stopped serving after SIGHUP")
	}

	// SIGTERM: a clean exit that removes the socket and the rules and saves
	// the state.
	proc.Signal(syscall.SIGTERM)
	select {
	case <-proc.Done():
		if err := proc.Wait(); err != nil {
			t.Fatalf("the agent exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not exit within 20s of SIGTERM")
	}
	if rules, err := node.Node.Run(context.Background(), "iptables-save"); err != nil || strings.Contains(string(rules), "BULKHEAD") {
		t.Errorf("rules left after SIGTERM (%v):\n%s", err, rules)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "modes.json")); err != nil {
		t.Errorf("state not saved: %v", err)
	}
	if !strings.Contains(stdout.String(), `"type":"agent_stop"`) {
		t.Errorf("no agent_stop event on stdout:\n%s", stdout.String())
	}
	if code, _, errOut = run(t, "status", "--api", sock); code != 1 || !strings.Contains(errOut, "cannot reach the agent at "+sock+": is it running?") {
		t.Errorf("status with no agent: %d %q", code, errOut)
	}
}

func TestAgentConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "agent.yaml")
	os.WriteFile(bad, []byte("limits:\n  flowz: 3\n"), 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "--max-flows", "-1"}, "limits.flows: must be > 0, got -1 (set by --max-flows)"},
		{[]string{"agent", "--config", bad}, "line 2: limits.flowz: unknown field"},
		{[]string{"agent", "--config", filepath.Join(dir, "missing.yaml")}, "missing.yaml: no such file or directory"},
		{[]string{"agent", "--set", "nope"}, `want FIELD=VALUE, got "nope"`},
		{[]string{"agent", "extra"}, `unexpected argument "extra"`},
	} {
		code, _, errOut := run(t, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
	code, out, _ := run(t, "agent", "--print-config", "--node", "x", "--set", "limits.idle.udp=2m")
	if code != 0 || !strings.Contains(out, "node: x\n") || !strings.Contains(out, "udp: 2m0s") {
		t.Errorf("--print-config: %d\n%s", code, out)
	}
}

// TestAgentNodeName: the node's name comes from --node, else $NODE_NAME
// (the Kubernetes DaemonSet sets it from spec.nodeName), else the host
// name.
func TestAgentNodeName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Fatalf("no host name to compare with: %q, %v", host, err)
	}
	for _, tt := range []struct {
		env  string
		args []string
		want string
	}{
		{"", nil, host},
		{"k8s-node-7", nil, "k8s-node-7"},
		{"k8s-node-7", []string{"--node", "fromflag"}, "fromflag"},
	} {
		t.Setenv("NODE_NAME", tt.env)
		code, out, errOut := run(t, append([]string{"agent", "--print-config"}, tt.args...)...)
		if code != 0 || !strings.Contains(out, "\nnode: "+tt.want+"\n") && !strings.HasPrefix(out, "node: "+tt.want+"\n") {
			t.Errorf("NODE_NAME=%q agent --print-config %v: exit %d, want node %q\n%s%s", tt.env, tt.args, code, tt.want, out, errOut)
		}
	}
}
