package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/policy/learn"
	"bulkhead.dev/bulkhead/testenv"
)

// rules returns the node's iptables and ip6tables rules without counters
// and comments, for comparisons.
func (b *bed) rules() string {
	b.t.Helper()
	var out strings.Builder
	counters := regexp.MustCompile(`\[\d+:\d+\]`)
	for _, prog := range []string{"iptables-save", "ip6tables-save"} {
		s, err := b.n.Node.Run(context.Background(), prog)
		if err != nil {
			b.t.Fatal(err)
		}
		for _, line := range strings.Split(string(s), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			out.WriteString(counters.ReplaceAllString(line, "[0:0]") + "\n")
		}
	}
	return out.String()
}

// graph returns the agent's learned graph.
func (a *agentProc) graph() learn.Snapshot {
	t := a.b.t
	t.Helper()
	g, err := a.client.Graph(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, err := learn.ReadJSON(strings.NewReader(string(g)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func edgeKeys(s learn.Snapshot) []string {
	var out []string
	for _, e := range s.Edges {
		out = append(out, fmt.Sprintf("%s → %s %s/%d %s", e.Src, e.Dst, e.Proto, e.Port, e.App))
	}
	return out
}

// TestKill9Restart: after kill -9 and a restart the learned graph and the
// modes set at run time are kept (at most the last save interval is lost),
// the rules are the same (none duplicated), and enforcement goes on.
func TestKill9Restart(t *testing.T) {
	b := newBed(t)
	a := b.startAgent()
	if err := b.normalTraffic(); err != nil {
		t.Fatalf("normal traffic in learn mode: %v", err)
	}
	a.loadPolicy("shop.yaml", shopPolicy)
	if code, _, errOut := a.cli("mode", "frontend", "monitor"); code != 0 {
		t.Fatalf("mode frontend monitor: %d %s", code, errOut)
	}
	learnt := edgeKeys(a.graph())
	if len(learnt) < 4 {
		t.Fatalf("only %d edges learnt", len(learnt))
	}
	// Wait for a periodic save (state.interval is 500 ms here).
	graphFile := filepath.Join(a.state, "graph.json")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, err := os.Stat(graphFile); err == nil && time.Since(st.ModTime()) < time.Minute && st.Size() > 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the learned graph was not saved within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // one more interval: the last edges are in
	before := b.rules()
	if !strings.Contains(before, "BULKHEAD-POLICY") {
		t.Fatalf("no Bulkhead rules while the agent runs:\n%s", before)
	}

	a.kill9()
	if left := b.rules(); left != before {
		t.Errorf("kill -9 changed the rules (-before +after):\n%s", cmp.Diff(before, left))
	}
	a.start()
	if after := b.rules(); after != before {
		t.Errorf("rules after the restart differ (-before +after):\n%s", cmp.Diff(before, after))
	}
	for _, jump := range []string{"-A FORWARD -j BULKHEAD-FWD", "-A INPUT -j BULKHEAD-IN", "-A OUTPUT -j BULKHEAD-OUT"} {
		if n := strings.Count(b.rules(), jump+"\n"); n != 2 { // IPv4 and IPv6
			t.Errorf("%q appears %d times, want once per family", jump, n)
		}
	}
	if diff := cmp.Diff(learnt, edgeKeys(a.graph())); diff != "" {
		t.Errorf("learned graph after kill -9 and restart (-before +after):\n%s", diff)
	}
	ms, err := a.client.Modes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]string{}
	for _, m := range ms {
		modes[m.Group] = m.Mode.String() + "/" + string(m.Source)
	}
	want := map[string]string{"frontend": "monitor/operator", "api": "protect/policy", "db": "protect/policy", "dns": "protect/policy"}
	if diff := cmp.Diff(want, modes); diff != "" {
		t.Errorf("modes after restart (-want +got):\n%s", diff)
	}
	if err := b.normalTraffic(); err != nil {
		t.Errorf("normal traffic after restart: %v", err)
	}
	// The operator's mode is in force: frontend's egress (no rule) is
	// reported, not dropped; db stays protected whatever its peer's mode.
	from := len(a.events())
	if _, err := curl(b.fe, "http://"+unknownIP.String()+"/"); err != nil {
		t.Errorf("frontend → the internet in monitor mode: %v, want it let through (reported)", err)
	}
	a.waitEvent("a reported violation", from, func(e events.Event) bool {
		return e.Type == events.Violation && e.Src.Workload == "frontend" && e.Dst.IP == unknownIP && e.Mode == "monitor"
	})
	if out, err := redisCLI(b.fe, "PING"); err == nil {
		t.Errorf("frontend → db (protected) answered %q", out)
	}
	if out, err := redisCLI(b.api, "FLUSHALL"); err == nil {
		t.Errorf("api → db FLUSHALL (not allowed) answered %q", out)
	}
	a.stop()
	if left := b.rules(); strings.Contains(left, "BULKHEAD") {
		t.Errorf("rules left after SIGTERM:\n%s", left)
	}
}

// badPolicy refers to a group it does not define, on line 8.
const badPolicy = `apiVersion: bulkhead.dev/v1alpha1
kind: Policy
metadata: {name: shop}
spec:
  defaultMode: protect
  groups: []
  rules:
    - {name: oops, from: frontend, to: dbb, ports: [tcp/6379]}
`

// TestBadPolicyReload: a policy that fails validation is refused, by the
// CLI and by SIGHUP, with its errors naming file and line; the old policy
// stays in force.
func TestBadPolicyReload(t *testing.T) {
	b := newBed(t)
	a := b.startAgent()
	a.loadPolicy("shop.yaml", shopPolicy)
	a.writePolicy("shop.yaml", badPolicy)
	file := filepath.Join(a.policy, "shop.yaml")
	code, out, errOut := a.cli("policy", "reload")
	if code != 1 || !strings.Contains(errOut, file+`:8: rules[0].from: group "frontend" is not defined`) ||
		!strings.Contains(errOut, file+`:8: rules[0].to: group "dbb" is not defined`) ||
		!strings.Contains(errOut, "the previous policy stays in force") {
		t.Errorf("reload of a bad policy: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	from := len(a.events())
	a.proc.Signal(syscall.SIGHUP)
	failed := a.waitEvent("policy_reload_failed after SIGHUP", from, func(e events.Event) bool { return e.Type == events.PolicyReloadFailed })
	if !strings.Contains(failed.Reason, file+":8:") {
		t.Errorf("policy_reload_failed reason %q does not name %s:8", failed.Reason, file)
	}
	st, err := a.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Policy.Rules != 4 || !strings.Contains(st.Policy.LastError, "dbb") || !st.Ready {
		t.Errorf("policy after refused reloads: %+v", st.Policy)
	}
	// The old policy is enforced: normal traffic passes, an attack does not.
	if err := b.normalTraffic(); err != nil {
		t.Errorf("normal traffic: %v", err)
	}
	if out, err := redisCLI(b.fe, "PING"); err == nil {
		t.Errorf("frontend → db answered %q", out)
	}
	from = len(a.events())
	if _, err := curl(b.fe, "http://"+hostPort(apiIP, 8080)+"/admin"); err == nil {
		t.Error("GET /admin succeeded")
	}
	a.waitEvent("the drop of GET /admin", from, func(e events.Event) bool { return e.Type == events.Drop && e.L7.Path == "/admin" })
}

// TestKill9RestartFailClosed: in fail-closed mode, after kill -9 new
// connections are dropped while no agent runs (they time out: no reset,
// no answer); the agent restarts with its policy file broken, runs the last
// good policy from its state directory (the status says so) with the rules
// of its predecessor replaced, none duplicated; enforcement is the old
// policy's; SIGINT then shuts it down cleanly, removing every rule.
func TestKill9RestartFailClosed(t *testing.T) {
	b := newBed(t)
	if err := os.MkdirAll(filepath.Join(b.dir, "policy"), 0o755); err != nil {
		t.Fatal(err)
	}
	policyFile := filepath.Join(b.dir, "policy", "shop.yaml")
	if err := os.WriteFile(policyFile, []byte(shopPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	a := b.startAgent("--fail-mode", "closed")
	st, err := a.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.FailMode != "closed" || !st.Policy.Loaded || st.Policy.FromState || st.Policy.Rules != 4 {
		t.Fatalf("status at the first start: fail mode %q, policy %+v", st.FailMode, st.Policy)
	}
	if err := b.normalTraffic(); err != nil {
		t.Fatalf("normal traffic under the policy: %v", err)
	}
	before := b.rules()

	a.kill9()
	if left := b.rules(); left != before {
		t.Errorf("kill -9 changed the rules (-before +after):\n%s", cmp.Diff(before, left))
	}
	// No agent: a new connection, allowed by the policy or not, is queued
	// to nobody and dropped; the client hears nothing.
	for _, to := range []string{hostPort(apiIP, 8080), hostPort(dbIP, 6379)} {
		if err := dialTimesOut(b.fe, to); err != nil {
			t.Errorf("no agent, fail-closed: %v", err)
		}
	}
	if ips, err := dig(b.api, "www.allowed.example"); err == nil {
		t.Errorf("no agent, fail-closed: a DNS query was answered %q", ips)
	}

	// The policy file breaks while no agent runs.
	if err := os.WriteFile(policyFile, []byte(badPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	a.start()
	if st, err = a.client.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !st.Ready || !st.Policy.Loaded || !st.Policy.FromState || st.Policy.Rules != 4 ||
		!strings.Contains(st.Policy.LastError, policyFile+`:8: rules[0].to: group "dbb" is not defined`) {
		t.Errorf("status after the restart: ready %v, policy %+v; want the last good policy from the state directory and the file's error", st.Ready, st.Policy)
	}
	code, out, _ := a.cli("status")
	if code != 0 || !strings.Contains(out, "last good copy from the state directory") {
		t.Errorf("bulkhead status: %d\n%s", code, out)
	}
	if after := b.rules(); after != before {
		t.Errorf("rules after the restart differ (-before +after):\n%s", cmp.Diff(before, after))
	}
	for _, jump := range []string{"-A FORWARD -j BULKHEAD-FWD", "-A INPUT -j BULKHEAD-IN", "-A OUTPUT -j BULKHEAD-OUT"} {
		if n := strings.Count(b.rules(), jump+"\n"); n != 2 { // IPv4 and IPv6
			t.Errorf("%q appears %d times, want once per family", jump, n)
		}
	}

	// The old policy is enforced: what it allows works, what it forbids
	// does not.
	if err := b.normalTraffic(); err != nil {
		t.Errorf("normal traffic under the last good policy: %v", err)
	}
	if out, err := redisCLI(b.fe, "PING"); err == nil {
		t.Errorf("frontend → db (no rule) answered %q", out)
	}
	if out, err := redisCLI(b.api, "FLUSHALL"); err == nil {
		t.Errorf("api → db FLUSHALL (not allowed) answered %q", out)
	}
	from := len(a.events())
	if _, err := curl(b.fe, "http://"+hostPort(apiIP, 8080)+"/admin"); err == nil {
		t.Error("GET /admin (not allowed) succeeded")
	}
	a.waitEvent("the drop of GET /admin", from, func(e events.Event) bool {
		return e.Type == events.Drop && e.L7.Path == "/admin" && e.Rule == "frontend-to-api"
	})

	// SIGINT: a clean shutdown, like SIGTERM.
	a.stopWith(syscall.SIGINT)
	if left := b.rules(); strings.Contains(left, "BULKHEAD") {
		t.Errorf("rules left after SIGINT:\n%s", left)
	}
	if _, err := os.Lstat(a.sock); !os.IsNotExist(err) {
		t.Errorf("the API socket is still there after SIGINT: %v", err)
	}
	if evs := a.events(); len(evs) == 0 || evs[len(evs)-1].Type != events.AgentStop {
		t.Errorf("the event log does not end with agent_stop after SIGINT")
	}
}

// dialTimesOut checks that a TCP connection from h to addr gets no answer
// at all (dropped: neither established nor reset) within 2 s.
func dialTimesOut(h *testenv.Container, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := h.DialContext(ctx, "tcp", addr)
	var ne net.Error
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("%s → %s connected, want it dropped", h.Name, addr)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return nil
	}
	return fmt.Errorf("%s → %s: %v, want a timeout (dropped, not refused)", h.Name, addr, err)
}
