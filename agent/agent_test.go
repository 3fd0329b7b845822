package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/config"
	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/agent/metrics"
	"bulkhead.dev/bulkhead/agent/modes"
	"bulkhead.dev/bulkhead/agent/state"
	"bulkhead.dev/bulkhead/policy"
)

// fakeLoader reads "group=mode" lines; a file containing "bad" does not
// validate.
type fakeLoader struct{}

func (fakeLoader) Load(path string) (*LoadedPolicy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return fakeLoader{}.FromSources([]state.PolicyFile{{Name: path, Content: string(b)}})
}

func (fakeLoader) FromSources(files []state.PolicyFile) (*LoadedPolicy, error) {
	lp := &LoadedPolicy{Files: files, Groups: map[string]modes.Mode{}}
	for _, f := range files {
		for i, line := range strings.Split(strings.TrimSpace(f.Content), "\n") {
			if strings.Contains(line, "bad") {
				return nil, fmt.Errorf("%s:%d: rules[0].to: group \"dbb\" is not defined: %w", f.Name, i+1, api.ErrInvalid)
			}
			g, m, _ := strings.Cut(line, "=")
			mode, _ := modes.Parse(m)
			lp.Groups[g] = mode
			lp.Rules++
		}
	}
	return lp, nil
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func testConfig(t *testing.T, dir string) config.Config {
	c := config.Default(config.Env{Hostname: "node-1", CPUs: 2})
	c.StateDir = filepath.Join(dir, "state")
	c.Policy = filepath.Join(dir, "policy.txt")
	c.API.Socket = filepath.Join(dir, "run", "bh.sock")
	c.Metrics.Listen = freePort(t)
	c.State.Interval = time.Hour
	c.PolicyWatchInterval = 0 // the watch tests turn it on
	return c
}

func startAgent(t *testing.T, cfg config.Config, loader PolicyLoader) (*Agent, *api.Client) {
	t.Helper()
	a, err := New(fakeOptions(cfg, loader, newFakeDataplane(), newFakeContainers()))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	started = append(started, a)
	c, err := api.NewClient(cfg.API.Socket)
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

func TestAgentLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	os.WriteFile(cfg.Policy, []byte("api=learn\ndb=monitor\n"), 0o644)
	ctx := context.Background()
	a, c := startAgent(t, cfg, fakeLoader{})

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != "node-1" || !st.Policy.Loaded || st.Policy.Rules != 2 || !st.Ready || st.Flows.Limit != 262144 {
		t.Errorf("status = %+v", st)
	}
	wantChecks := []api.Check{
		{Name: "policy", OK: true, Detail: "2 rules from 1 file"},
		{Name: "dataplane", OK: true, Detail: "attached to 0 interfaces (connmark by repeat, fail-open)"},
	}
	if diff := cmp.Diff(wantChecks, st.Checks); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}

	// Metrics address: /healthz, /readyz and /metrics.
	for _, tt := range []struct {
		path   string
		status int
		want   string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "[+]dataplane: attached to 0 interfaces"},
		{"/metrics", 200, "bulkhead_flows_limit 262144"},
	} {
		resp, err := http.Get("http://" + cfg.Metrics.Listen + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
			t.Errorf("GET %s = %d %q, want %d with %q", tt.path, resp.StatusCode, b, tt.status, tt.want)
		}
	}

	// A container appears; a flow between it and the world.
	web := netip.MustParseAddr("198.18.0.10")
	a.ContainerAdded(identity.Container{HostIf: "veth1", NetNS: "bh-demo-web", Addrs: []netip.Addr{web}})
	wl, err := c.Workloads(ctx)
	if err != nil || len(wl) != 1 || wl[0].Name != "bh-demo-web" || wl[0].Mode != "learn" {
		t.Errorf("workloads = %+v, %v", wl, err)
	}
	p := &flowtable.Packet{Tuple: flowtable.Tuple{Src: web, Dst: netip.MustParseAddr("198.19.1.2"), SrcPort: 40000, DstPort: 80, Proto: flowtable.ProtoTCP}, Len: 60, TCPFlags: flowtable.TCPSyn}
	a.Flows().Track(p, func(f *flowtable.Flow, _ flowtable.Dir, created bool) {
		f.Src = a.Resolver().Addr(web)
		f.Dst = a.Resolver().Addr(p.Dst)
		f.App, f.Verdict, f.Rule = 1, flowtable.Allow, "web-out"
	})
	fl, err := c.Flows(ctx, api.FlowFilter{Src: "bh-demo-web"})
	if err != nil || len(fl) != 1 {
		t.Fatalf("flows = %+v, %v", fl, err)
	}
	if f := fl[0]; f.Dst.Workload != "world" || f.App != "http" || f.Verdict != "allow" || f.State != "opening" || f.Dst.Port != 80 || f.Packets != 1 {
		t.Errorf("flow = %+v", f)
	}
	if n := a.ContainerRemoved("veth1"); n != 1 {
		t.Errorf("ContainerRemoved removed %d flows, want 1", n)
	}

	// Modes: unknown group, then a change that is evented and saved.
	if _, err := c.SetMode(ctx, "nope", "protect"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("SetMode(nope) = %v", err)
	}
	if e, err := c.SetMode(ctx, "api", "protect"); err != nil || e.Mode != modes.Protect {
		t.Errorf("SetMode(api) = %+v, %v", e, err)
	}

	// A bad policy is refused; the old one stays.
	os.WriteFile(cfg.Policy, []byte("api=learn\nbad\n"), 0o644)
	_, err = c.ReloadPolicy(ctx)
	if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), `group "dbb" is not defined`) {
		t.Errorf("reload of a bad policy = %v", err)
	}
	pol, _ := c.Policy(ctx)
	if pol.Rules != 2 || pol.Sources[0].Content != "api=learn\ndb=monitor\n" || !strings.Contains(pol.LastError, "dbb") {
		t.Errorf("policy after a refused reload = %+v", pol)
	}
	// A good one goes in (SIGHUP path).
	os.WriteFile(cfg.Policy, []byte("api=learn\ndb=protect\nweb=monitor\n"), 0o644)
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	ms, _ := c.Modes(ctx)
	got := map[string]string{}
	for _, m := range ms {
		got[m.Group] = m.Mode.String() + "/" + string(m.Source)
	}
	if diff := cmp.Diff(map[string]string{"api": "protect/operator", "db": "protect/policy", "web": "monitor/policy"}, got); diff != "" {
		t.Errorf("modes (-want +got):\n%s", diff)
	}
	if g, err := c.Graph(ctx); err != nil || !strings.Contains(string(g), `"edges": []`) {
		t.Errorf("Graph = %s, %v, want the empty graph", g, err)
	}

	// Events are written by their own goroutine: wait until it caught up.
	deadline := time.Now().Add(10 * time.Second)
	for st := a.Events().Stats(); st.Written != st.Emitted && time.Now().Before(deadline); st = a.Events().Stats() {
		time.Sleep(time.Millisecond)
	}
	var types []string
	c.Events(ctx, api.EventsRequest{}, func(e events.Event) error { types = append(types, string(e.Type)); return nil })
	wantTypes := []string{"agent_start", "policy_reload", "mode_change", "policy_reload_failed", "policy_reload", "mode_change"}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(cfg.API.Socket); !os.IsNotExist(err) {
		t.Errorf("socket left after Close: %v", err)
	}
	b, err := os.ReadFile(cfg.EventsFile())
	if err != nil || !strings.Contains(string(b), `"type":"agent_stop"`) {
		t.Errorf("event log: %v\n%s", err, b)
	}

	// A restart keeps the operator's mode.
	os.WriteFile(cfg.Policy, []byte("api=learn\n"), 0o644)
	_, c2 := startAgent(t, cfg, fakeLoader{})
	ms, _ = c2.Modes(ctx)
	if len(ms) != 1 || ms[0].Mode != modes.Protect || ms[0].Source != modes.FromOperator {
		t.Errorf("modes after restart = %+v", ms)
	}
}

func TestStartupPolicy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Metrics.Listen = ""
	cfg.FailMode = config.FailClosed

	// No policy file: the empty policy, ready as far as policy goes.
	_, c := startAgent(t, cfg, fakeLoader{})
	st, _ := c.Status(ctx)
	if st.Policy.Loaded || !st.Checks[0].OK || !strings.Contains(st.Checks[0].Detail, "empty policy in the default mode") {
		t.Errorf("no policy: %+v", st.Checks[0])
	}
	closeAll(t)

	// A good policy is saved as the last good one.
	os.WriteFile(cfg.Policy, []byte("api=protect\n"), 0o644)
	startAgent(t, cfg, fakeLoader{})
	closeAll(t)

	// The configured policy breaks: fail-closed runs the last good one.
	os.WriteFile(cfg.Policy, []byte("bad\n"), 0o644)
	a, c := startAgent(t, cfg, fakeLoader{})
	st, _ = c.Status(ctx)
	if !st.Policy.Loaded || !st.Policy.FromState || !st.Checks[0].OK || st.Policy.LastError == "" {
		t.Errorf("last good policy not in force: %+v", st.Policy)
	}
	if m, ok := a.Modes().Mode("api"); !ok || m != modes.Protect {
		t.Errorf("api mode %v, %v", m, ok)
	}
	closeAll(t)

	// Without a last good policy, fail-closed refuses to start.
	os.Remove(filepath.Join(cfg.StateDir, "policy.json"))
	dp := newFakeDataplane()
	a, err := New(fakeOptions(cfg, fakeLoader{}, dp, newFakeContainers()))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err == nil || !strings.Contains(err.Error(), "fail-closed and no usable policy") {
		t.Errorf("Start = %v", err)
	}
	a.Close()
	if _, err := os.Lstat(cfg.API.Socket); !os.IsNotExist(err) {
		t.Errorf("socket exists after a failed start: %v", err)
	}
	if dp.started {
		t.Error("the dataplane started without a usable policy (fail-closed)")
	}

	// Fail-open with a broken policy: the empty policy, not ready.
	cfg.FailMode = config.FailOpen
	_, c = startAgent(t, cfg, fakeLoader{})
	st, _ = c.Status(ctx)
	if st.Policy.Loaded || st.Checks[0].OK || !strings.Contains(st.Checks[0].Detail, "dbb") {
		t.Errorf("fail-open with a broken policy: %+v", st.Checks[0])
	}
	closeAll(t)

	// The default engine reads YAML policies: this file is none.
	_, c = startAgent(t, cfg, nil)
	if _, err := c.ReloadPolicy(ctx); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), cfg.Policy) {
		t.Errorf("reload of a file that is no policy = %v", err)
	}
}

// closeAll closes the agents started so far (Close is safe to repeat at
// cleanup).
func closeAll(t *testing.T) {
	t.Helper()
	for _, a := range started {
		a.Close()
	}
	started = nil
}

var started []*Agent

func TestEvictReasonsMatchMetrics(t *testing.T) {
	for _, r := range flowtable.Reasons() {
		if got := metrics.EvictReason(r).String(); got != r.String() {
			t.Errorf("flowtable reason %d is %q, metrics calls it %q", r, r, got)
		}
	}
}

func TestFlowsMostRecentFirst(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Metrics.Listen = ""
	a, c := startAgent(t, cfg, nil)
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	for i := range 50 {
		p := &flowtable.Packet{
			Tuple: flowtable.Tuple{Src: netip.MustParseAddr("198.18.0.10"), Dst: netip.MustParseAddr("198.18.0.11"),
				SrcPort: uint16(40000 + i), DstPort: uint16(80 + i%2), Proto: flowtable.ProtoTCP},
			Len: 60, TCPFlags: flowtable.TCPSyn,
			// Out of order on purpose; two flows share each time.
			Time: base + int64((i*7)%25)*int64(time.Second),
		}
		a.Flows().Track(p, func(*flowtable.Flow, flowtable.Dir, bool) {})
	}
	ctx := context.Background()
	fl, err := c.Flows(ctx, api.FlowFilter{Limit: 5, Port: 81})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fl {
		got = append(got, fmt.Sprintf("%d@%d", f.Src.Port, f.LastSeen.Unix()-base/1e9))
	}
	// Port 81 is every odd i, last seen at i*7%25 s: the five latest, ties
	// broken by creation order.
	var want []string
	type fs struct{ port, t int }
	var all []fs
	for i := 1; i < 50; i += 2 {
		all = append(all, fs{40000 + i, (i * 7) % 25})
	}
	for n := 0; n < 5; n++ {
		best := -1
		for j, x := range all {
			if best < 0 || x.t > all[best].t || (x.t == all[best].t && x.port < all[best].port) {
				best = j
			}
		}
		want = append(want, fmt.Sprintf("%d@%d", all[best].port, all[best].t))
		all = append(all[:best], all[best+1:]...)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flows (-want +got):\n%s", diff)
	}
}

// TestEmptyPolicyDirectory: a policy directory without a policy file is
// the empty policy in the default mode, ready, like a path that does not
// exist; it stays so on reload until a policy file appears; once a policy
// is in force, emptying the directory does not switch enforcement off.
func TestEmptyPolicyDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Metrics.Listen = ""
	cfg.Policy = filepath.Join(dir, "policy")
	// Nothing the policy package would read: no *.yaml or *.yml file.
	for _, p := range []string{"README.txt", ".hidden.yaml", "old.yaml/keep"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(cfg.Policy, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg.Policy, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, c := startAgent(t, cfg, nil)
	want := api.Check{Name: "policy", OK: true, Detail: "no policy file (*.yaml, *.yml) in " + cfg.Policy + ": empty policy in the default mode"}
	check := func(what string) {
		t.Helper()
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, st.Checks[0]); diff != "" || !st.Ready {
			t.Errorf("%s: policy check (-want +got):\n%s(ready %v)", what, diff, st.Ready)
		}
	}
	check("start")
	if _, err := c.ReloadPolicy(ctx); err != nil {
		t.Errorf("reload of the still empty directory: %v", err)
	}
	check("reload")

	file := filepath.Join(cfg.Policy, "shop.yaml")
	pol := "apiVersion: bulkhead.dev/v1alpha1\nkind: Policy\nmetadata: {name: shop}\nspec:\n  groups:\n    - {name: api, selector: {matchLabels: {app: api}}}\n"
	if err := os.WriteFile(file, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := c.ReloadPolicy(ctx)
	if err != nil || !info.Loaded || info.Groups != 1 {
		t.Fatalf("reload with a policy file: %+v, %v", info, err)
	}
	want.Detail = "0 rules from 1 file"
	check("policy loaded")

	os.Remove(file)
	if _, err := c.ReloadPolicy(ctx); err == nil {
		t.Error("reload of an emptied directory took the empty policy in place of the one in force")
	}
	st, _ := c.Status(ctx)
	if !st.Policy.Loaded || st.Policy.Groups != 1 {
		t.Errorf("policy in force after the refused reload: %+v", st.Policy)
	}
}

// TestAbsentPolicyMatchesLoader: the agent calls a directory empty exactly
// when the policy package finds no policy file in it.
func TestAbsentPolicyMatchesLoader(t *testing.T) {
	tests := map[string][]string{
		"empty":             nil,
		"other files":       {"README.md", "policy.json"},
		"hidden":            {".shop.yaml", ".x.yml"},
		"directories":       {"shop.yaml/", "x.yml/"},
		"a yaml file":       {"shop.yaml"},
		"a yml file":        {"shop.yml"},
		"mixed":             {"README.md", ".hidden.yaml", "b.yml"},
		"upper-case suffix": {"SHOP.YAML"},
	}
	for name, files := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range files {
				p := filepath.Join(dir, f)
				if strings.HasSuffix(f, "/") {
					if err := os.Mkdir(p, 0o755); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := policy.ReadSources(dir)
			loaderEmpty := err != nil && strings.Contains(err.Error(), "no *.yaml or *.yml file")
			if agentEmpty := absentPolicy(dir) != ""; agentEmpty != loaderEmpty {
				t.Errorf("absentPolicy says empty %v; policy.ReadSources: %v", agentEmpty, err)
			}
		})
	}
}
