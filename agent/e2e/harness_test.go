package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/internal/testbin"
	"bulkhead.dev/bulkhead/testenv"
	"bulkhead.dev/bulkhead/testenv/scenario"
)

// The test bed: frontend .10, api .11, db .12 (redis-server), dns .13 (a
// DNS server), and an "internet" host answering HTTP on three addresses.
var (
	apiIP     = netip.MustParseAddr("198.18.0.11")
	dbIP      = netip.MustParseAddr("198.18.0.12")
	dnsIP     = netip.MustParseAddr("198.18.0.13")
	allowedIP = netip.MustParseAddr("198.19.100.20") // www.allowed.example
	otherIP   = netip.MustParseAddr("198.19.100.30") // cdn.other.example
	unknownIP = netip.MustParseAddr("198.19.100.66") // in no DNS answer
	metricsAt = netip.AddrPortFrom(testenv.NodeIP4, 9447)
)

// dnsZone is what the dns container answers.
var dnsZone = testenv.Zone{
	"www.allowed.example. 60 IN A " + allowedIP.String(),
	"api.allowed.example. 60 IN A " + allowedIP.String(),
	"cdn.other.example. 60 IN A " + otherIP.String(),
}

// bed is a test node with the shop's containers and servers running.
type bed struct {
	t                *testing.T
	n                *testenv.Node
	fe, api, db, dns *testenv.Container
	inet             *testenv.External
	dir              string
}

// apiHandler serves the api's paths.
func apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "user %s\n", r.PathValue("id")) })
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "order taken") })
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

func newBed(t *testing.T, extra ...string) *bed {
	t.Helper()
	return newBedIn(t, testenv.Bridged, extra...)
}

// newBedIn builds the bed in the given topology.
func newBedIn(t *testing.T, topo testenv.Topology, extra ...string) *bed {
	t.Helper()
	testenv.RequireRoot(t)
	if bulkheadBin == "" {
		t.Fatal("no bulkhead binary (set BULKHEAD_BIN)")
	}
	n := testenv.New(t, testenv.Config{
		Topology:   topo,
		Containers: append([]string{"frontend", "api", "db", "dns"}, extra...),
		Externals:  []testenv.ExternalSpec{{Name: "internet", Addrs: []netip.Addr{allowedIP, otherIP, unknownIP}}},
	})
	b := &bed{t: t, n: n, fe: n.Container("frontend"), api: n.Container("api"), db: n.Container("db"), dns: n.Container("dns"),
		inet: n.External("internet"), dir: t.TempDir()}
	if _, err := b.api.ServeHTTP(":8080", apiHandler()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.dns.ServeDNS(":53", dnsZone); err != nil {
		t.Fatal(err)
	}
	if _, err := b.inet.ServeHTTP(":80", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := scenario.StartRedis(context.Background(), b.db, filepath.Join(b.dir, "redis")); err != nil {
		t.Fatal(err)
	}
	return b
}

// agentProc is "bulkhead agent" running in the bed's node namespace.
type agentProc struct {
	b              *bed
	proc           *testenv.Process
	stdout, stderr *testenv.Buffer
	state, sock    string
	policy         string
	client         *api.Client
	log            *scenario.EventLog
	args           []string
}

// startAgent runs the agent with its state, socket and policy under the
// bed's directory; extra are more flags.
func (b *bed) startAgent(extra ...string) *agentProc {
	b.t.Helper()
	a := &agentProc{b: b, state: filepath.Join(b.dir, "state"), sock: filepath.Join(b.dir, "run", "bh.sock"),
		policy: filepath.Join(b.dir, "policy")}
	a.log = scenario.NewEventLog(filepath.Join(a.state, "events", "events.jsonl"))
	a.args = append([]string{"agent", "--node", "e2e", "--state-dir", a.state, "--api-socket", a.sock,
		"--metrics-listen", metricsAt.String(), "--policy", a.policy, "--queues", "2",
		"--set", "identity.netns.stripPrefixes=[" + b.n.Prefix() + "-]", "--set", "state.interval=500ms"}, extra...)
	a.start()
	b.t.Cleanup(func() {
		if a.proc != nil && !a.proc.Exited() {
			a.stop()
		}
		if b.t.Failed() {
			b.t.Logf("agent log:\n%s", a.stderr.String())
		}
	})
	return a
}

func (a *agentProc) start() {
	t := a.b.t
	t.Helper()
	a.stdout, a.stderr = &testenv.Buffer{}, &testenv.Buffer{}
	cmd := exec.Command(bulkheadBin, a.args...)
	// Never the machine's /etc/bulkhead/agent.yaml: a file that does not
	// exist is the default configuration path.
	cmd.Env = append(os.Environ(), "BULKHEAD_CONFIG="+filepath.Join(a.b.dir, "agent.yaml"))
	cmd.Stdout, cmd.Stderr = a.stdout, a.stderr
	p, err := a.b.n.Node.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	a.proc = p
	if a.client, err = api.NewClient(a.sock); err != nil {
		t.Fatal(err)
	}
	a.waitReady()
}

// waitReady waits until the agent answers and reports itself ready.
func (a *agentProc) waitReady() {
	t := a.b.t
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := a.client.Status(ctx)
		cancel()
		if err == nil && st.Ready {
			return
		}
		if a.proc.Exited() {
			t.Fatalf("the agent exited: %v\n%s", a.proc.Wait(), a.stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent is not ready after 20 s (status %+v, %v)\n%s", st, err, a.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (a *agentProc) stop() { a.b.t.Helper(); a.stopWith(syscall.SIGTERM) }

// stopWith sends sig (SIGTERM or SIGINT) and waits for a clean exit.
func (a *agentProc) stopWith(sig syscall.Signal) {
	t := a.b.t
	t.Helper()
	a.proc.Signal(sig)
	select {
	case <-a.proc.Done():
		if err := a.proc.Wait(); err != nil {
			t.Errorf("the agent exited with %v after %v\n%s", err, sig, a.stderr.String())
		}
	case <-time.After(20 * time.Second):
		a.proc.Kill()
		t.Errorf("the agent did not stop within 20 s of %v", sig)
	}
}

// kill9 kills the agent without letting it clean up.
func (a *agentProc) kill9() {
	a.proc.Signal(syscall.SIGKILL)
	<-a.proc.Done()
}

// cli runs a CLI verb against the agent ("mode", "api", "protect"; the
// --api flag goes after the verb, before its arguments).
func (a *agentProc) cli(args ...string) (code int, stdout, stderr string) {
	a.b.t.Helper()
	verb := 1
	if args[0] == "policy" {
		verb = 2
	}
	full := append(append(append([]string{}, args[:verb]...), "--api", a.sock), args[verb:]...)
	return run(a.b.t, full...)
}

// run runs the binary to completion.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	code, stdout, stderr, err := testbin.Run(bulkheadBin, 30*time.Second, args...)
	if err != nil {
		t.Fatal(err)
	}
	return code, stdout, stderr
}

// events reads the agent's event log: every event since the first start.
func (a *agentProc) events() []events.Event {
	a.b.t.Helper()
	evs, err := a.log.Since(0)
	if err != nil {
		a.b.t.Fatal(err)
	}
	return evs
}

// waitEvent waits for an event matching ok (written after the index from)
// and returns the first.
func (a *agentProc) waitEvent(what string, from int, ok func(e events.Event) bool) events.Event {
	t := a.b.t
	t.Helper()
	evs, err := a.log.Wait(context.Background(), scenario.Mark(from), 10*time.Second, func(e *events.Event) bool { return ok(*e) })
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		var lines []string
		for _, e := range a.events()[min(from, len(a.events())):] {
			b, _ := json.Marshal(e)
			lines = append(lines, string(b))
		}
		t.Fatalf("no event for %s within 10 s; events since:\n%s", what, strings.Join(lines, "\n"))
	}
	return evs[0]
}

// loadPolicy writes the agent's policy file and makes it reload it.
func (a *agentProc) loadPolicy(name, content string) {
	t := a.b.t
	t.Helper()
	a.writePolicy(name, content)
	if code, _, errOut := a.cli("policy", "reload"); code != 0 {
		t.Fatalf("policy reload: %d %s", code, errOut)
	}
}

// writePolicy writes the agent's policy file.
func (a *agentProc) writePolicy(name, content string) {
	t := a.b.t
	t.Helper()
	if err := os.MkdirAll(a.policy, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a.policy, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Clients.

const clientTimeout = 3 * time.Second

// curl fetches url from h; it returns the body, or an error naming curl's
// failure.
func curl(h *testenv.Container, url string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout+2*time.Second)
	defer cancel()
	out, err := h.Command(ctx, "curl", append([]string{"-sS", "--fail", "--max-time", "3", url}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("curl %s from %s: %w: %s", url, h.Name, err, out)
	}
	return string(out), nil
}

// redisCLI runs a redis-cli command from h against db.
func redisCLI(h *testenv.Container, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout+2*time.Second)
	defer cancel()
	out, err := h.Command(ctx, "redis-cli", append([]string{"-h", dbIP.String(), "-p", "6379"}, args...)...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil || strings.Contains(s, "Could not connect") || strings.Contains(s, "Connection reset") || strings.HasPrefix(s, "Error") {
		return s, fmt.Errorf("redis-cli %v from %s: %v: %s", args, h.Name, err, s)
	}
	return s, nil
}

// dig resolves name through the dns container from h; it returns the
// addresses, or an error when no answer came.
func dig(h *testenv.Container, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout+2*time.Second)
	defer cancel()
	out, err := h.Command(ctx, "dig", "+short", "+time=2", "+tries=1", "@"+dnsIP.String(), name).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("dig %s from %s: %w: %s", name, h.Name, err, out)
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}

// dialRefused reports whether a TCP connection from h to addr is refused
// (a reset) or times out, rather than established.
func dialBlocked(h *testenv.Container, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := h.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s → %s connected, want it blocked", h.Name, addr)
	}
	return nil
}

// httpGet runs a Go HTTP client in h (keep-alive, one connection).
func httpGet(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func hostPort(a netip.Addr, port uint16) string { return netip.AddrPortFrom(a, port).String() }
