package agent

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/config"
	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/internal/fakeclock"
)

// policySeries scrapes the agent's /metrics and returns the policy reload,
// rules and group-mode series as "name{labels} value" lines, sorted.
func policySeries(t *testing.T, addr string) []string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	var out []string
	for name, mf := range mfs {
		switch name {
		case "bulkhead_policy_reloads_total", "bulkhead_policy_last_reload_successful",
			"bulkhead_policy_last_reload_success_timestamp_seconds", "bulkhead_policy_rules", "bulkhead_policy_group_mode":
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			out = append(out, fmt.Sprintf("%s{%s} %v", name, strings.Join(labels, ","), v))
		}
	}
	slices.Sort(out)
	return out
}

// reloadSeries are the series policySeries returns for these reload
// counts, timestamp of the last success, rules and group modes.
func reloadSeries(success, failure int, lastOK bool, okAt time.Time, rules int, groupModes ...string) []string {
	ok := 0
	if lastOK {
		ok = 1
	}
	out := []string{
		fmt.Sprintf("bulkhead_policy_last_reload_success_timestamp_seconds{} %v", float64(okAt.Unix())),
		fmt.Sprintf("bulkhead_policy_last_reload_successful{} %d", ok),
		fmt.Sprintf("bulkhead_policy_reloads_total{result=failure} %d", failure),
		fmt.Sprintf("bulkhead_policy_reloads_total{result=success} %d", success),
		fmt.Sprintf("bulkhead_policy_rules{} %d", rules),
	}
	for _, gm := range groupModes {
		g, m, _ := strings.Cut(gm, "=")
		out = append(out, fmt.Sprintf("bulkhead_policy_group_mode{group=%s,mode=%s} 1", g, m))
	}
	slices.Sort(out)
	return out
}

// policyEvents returns the agent's recent policy and mode events as
// "type group from→mode reason" lines.
func policyEvents(t *testing.T, c *api.Client) []string {
	t.Helper()
	var out []string
	err := c.Events(context.Background(), api.EventsRequest{Types: []string{string(events.PolicyReload), string(events.PolicyReloadFailed), string(events.ModeChange)}},
		func(e events.Event) error {
			s := string(e.Type)
			if e.Group != "" {
				s += " " + e.Group + " " + e.From + "→" + e.Mode
			}
			if e.Type == events.PolicyReloadFailed && strings.Contains(e.Reason, `group "dbb" is not defined`) {
				s += " (dbb)"
			}
			out = append(out, s)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPolicyReloadMetrics: the reload counters, the last-success gauge and
// timestamp, the rule count and each group's mode take the values a good
// reload, a bad reload and a mode change give them.
func TestPolicyReloadMetrics(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	os.WriteFile(cfg.Policy, []byte("api=learn\ndb=monitor\n"), 0o644)
	_, c, clk := startClocked(t, cfg, fakeLoader{})
	start := clk.Now()
	check := func(step string, want []string) {
		t.Helper()
		if diff := cmp.Diff(want, policySeries(t, cfg.Metrics.Listen)); diff != "" {
			t.Errorf("%s: policy metrics (-want +got):\n%s", step, diff)
		}
	}
	check("start", reloadSeries(1, 0, true, start, 2, "api=learn", "db=monitor"))

	// A good reload: new modes, a new group, one more rule.
	clk.Advance(time.Minute)
	os.WriteFile(cfg.Policy, []byte("api=monitor\ndb=protect\nweb=learn\n"), 0o644)
	if _, err := c.ReloadPolicy(ctx); err != nil {
		t.Fatal(err)
	}
	good := clk.Now()
	check("good reload", reloadSeries(2, 0, true, good, 3, "api=monitor", "db=protect", "web=learn"))

	// A bad reload: refused; the old policy and its modes stay.
	clk.Advance(time.Minute)
	os.WriteFile(cfg.Policy, []byte("api=protect\nbad\n"), 0o644)
	if _, err := c.ReloadPolicy(ctx); err == nil {
		t.Fatal("a bad policy reloaded without error")
	}
	check("bad reload", reloadSeries(2, 1, false, good, 3, "api=monitor", "db=protect", "web=learn"))

	// A mode change through the API moves the group's series.
	if _, err := c.SetMode(ctx, "api", "protect"); err != nil {
		t.Fatal(err)
	}
	check("mode change", reloadSeries(2, 1, false, good, 3, "api=protect", "db=protect", "web=learn"))

	// The policy repaired: the failure gauge clears.
	clk.Advance(time.Minute)
	os.WriteFile(cfg.Policy, []byte("api=protect\ndb=protect\n"), 0o644)
	if _, err := c.ReloadPolicy(ctx); err != nil {
		t.Fatal(err)
	}
	check("repaired", reloadSeries(3, 1, true, clk.Now(), 2, "api=protect", "db=protect"))
}

// startClocked starts an agent around fakes with a fake clock (closed at
// the end of the test) and returns it with an API client and the clock.
func startClocked(t *testing.T, cfg config.Config, loader PolicyLoader) (*Agent, *api.Client, *fakeclock.Clock) {
	t.Helper()
	clk := fakeclock.New()
	opts := fakeOptions(cfg, loader, newFakeDataplane(), newFakeContainers())
	opts.Now = clk.Now
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	c, err := api.NewClient(cfg.API.Socket)
	if err != nil {
		t.Fatal(err)
	}
	return a, c, clk
}

// watchConfig is a test configuration whose policy watch polls every
// 100 ms (the least allowed).
func watchConfig(t *testing.T, dir string) config.Config {
	cfg := testConfig(t, dir)
	cfg.PolicyWatchInterval = 100 * time.Millisecond
	return cfg
}

// waitSeries waits until the policy metrics are want.
func waitSeries(t *testing.T, what, addr string, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := policySeries(t, addr)
		diff := cmp.Diff(want, got)
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: policy metrics after 10 s (-want +got):\n%s", what, diff)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPolicyWatch: a policy file changed on disk is reloaded without a
// signal; a bad one is refused once (the old policy stays, the failure is
// counted and reported) and not retried until it changes again.
func TestPolicyWatch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := watchConfig(t, dir)
	os.WriteFile(cfg.Policy, []byte("api=learn\n"), 0o644)
	a, c, clk := startClocked(t, cfg, fakeLoader{})
	// Unchanged: nothing is reloaded.
	if a.checkPolicy(ctx) {
		t.Error("checkPolicy reloaded an unchanged policy")
	}

	clk.Advance(time.Minute)
	os.WriteFile(cfg.Policy, []byte("api=protect\ndb=monitor\n"), 0o644)
	waitSeries(t, "changed file", cfg.Metrics.Listen, reloadSeries(2, 0, true, clk.Now(), 2, "api=protect", "db=monitor"))
	good := clk.Now()

	os.WriteFile(cfg.Policy, []byte("api=learn\nbad\n"), 0o644)
	waitSeries(t, "bad file", cfg.Metrics.Listen, reloadSeries(2, 1, false, good, 2, "api=protect", "db=monitor"))
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Policy.Rules != 2 || !strings.Contains(st.Policy.LastError, `group "dbb" is not defined`) {
		t.Errorf("after the bad file: policy %+v, want the old 2 rules and the error", st.Policy)
	}
	// Refused once, not again while the file stays the same.
	if a.checkPolicy(ctx) {
		t.Error("checkPolicy reloaded the same bad policy again")
	}
	want := []string{
		"policy_reload",                                  // start
		"policy_reload", "mode_change api learn→protect", // db is a new group
		"policy_reload_failed (dbb)",
	}
	if diff := cmp.Diff(want, policyEvents(t, c)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	// A manual reload records what it loaded: the watch does not load it
	// again.
	os.WriteFile(cfg.Policy, []byte("api=monitor\n"), 0o644)
	if _, err := c.ReloadPolicy(ctx); err != nil {
		t.Fatal(err)
	}
	if a.checkPolicy(ctx) {
		t.Error("checkPolicy reloaded what the API had just reloaded")
	}
}

// configMapVersion writes a ConfigMap volume's version directory (as the
// kubelet does: a hidden directory holding the files).
func configMapVersion(t *testing.T, dir, version, content string) {
	t.Helper()
	v := filepath.Join(dir, version)
	if err := os.MkdirAll(v, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v, "policy.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// swapConfigMap publishes a version the way the kubelet does: a new
// "..data" link renamed over the old one (atomic), then the old version
// removed.
func swapConfigMap(t *testing.T, dir, version, old string) {
	t.Helper()
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, configMapLink)); err != nil {
		t.Fatal(err)
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

// configMapPolicy is a policy with group api in mode.
func configMapPolicy(mode string) string {
	return `apiVersion: bulkhead.dev/v1alpha1
kind: Policy
metadata: {name: cm}
spec:
  groups:
    - {name: api, selector: {matchLabels: {bulkhead.dev/workload: api}}, mode: ` + mode + `}
    - {name: db, selector: {matchLabels: {bulkhead.dev/workload: db}}, mode: learn}
  rules:
    - {name: api-to-db, from: api, to: db, ports: [tcp/6379]}
`
}

// TestPolicyWatchConfigMap: a policy directory laid out like a mounted
// ConfigMap (policy.yaml → ..data/policy.yaml, ..data → a hidden version
// directory) is reloaded when the kubelet swaps ..data to a new version,
// with the real policy engine.
func TestPolicyWatchConfigMap(t *testing.T) {
	dir := t.TempDir()
	cfg := watchConfig(t, dir)
	pol := filepath.Join(dir, "policy")
	cfg.Policy = pol + "/"
	configMapVersion(t, pol, "..2025_03_01_12_00_00.1", configMapPolicy("monitor"))
	swapConfigMap(t, pol, "..2025_03_01_12_00_00.1", "")
	if err := os.Symlink(filepath.Join(configMapLink, "policy.yaml"), filepath.Join(pol, "policy.yaml")); err != nil {
		t.Fatal(err)
	}
	a, _, clk := startClocked(t, cfg, nil)
	check := func(what string, want ...string) {
		t.Helper()
		var got []string
		for _, e := range a.Modes().List() {
			got = append(got, e.Group+"="+e.Mode.String())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: modes (-want +got):\n%s", what, diff)
		}
	}
	check("start", "api=monitor", "db=learn")

	clk.Advance(time.Minute)
	configMapVersion(t, pol, "..2025_03_01_12_01_00.2", configMapPolicy("protect"))
	swapConfigMap(t, pol, "..2025_03_01_12_01_00.2", "..2025_03_01_12_00_00.1")
	waitSeries(t, "new ConfigMap version", cfg.Metrics.Listen, reloadSeries(2, 0, true, clk.Now(), 1, "api=protect", "db=learn"))
	check("after the swap", "api=protect", "db=learn")

	// A version that does not validate is refused; the old one stays.
	good := clk.Now()
	clk.Advance(time.Minute)
	configMapVersion(t, pol, "..2025_03_01_12_02_00.3", configMapPolicy("enforce"))
	swapConfigMap(t, pol, "..2025_03_01_12_02_00.3", "..2025_03_01_12_01_00.2")
	waitSeries(t, "bad ConfigMap version", cfg.Metrics.Listen, reloadSeries(2, 1, false, good, 1, "api=protect", "db=learn"))
	check("after the bad version", "api=protect", "db=learn")
}

// TestPolicyDigest: the digest changes with a file's content, a file added
// or removed, and the ConfigMap link moving, and only then.
func TestPolicyDigest(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "one")
	seen := map[policyDigest]string{}
	step := func(what string, changed bool) {
		t.Helper()
		d := digestPolicy(dir)
		prev, dup := seen[d]
		switch {
		case changed && dup:
			t.Errorf("%s: digest equals that of %q", what, prev)
		case !changed && !dup:
			t.Errorf("%s: digest changed", what)
		}
		if !dup {
			seen[d] = what
		}
	}
	step("start", true)
	step("nothing changed", false)
	write("notes.txt", "not a policy file")
	step("a file the loader does not read", false)
	write("a.yaml", "two")
	step("content changed", true)
	write("b.yml", "three")
	step("file added", true)
	os.Remove(filepath.Join(dir, "b.yml"))
	step("file removed (back to an earlier state)", false)
	os.Mkdir(filepath.Join(dir, "..v1"), 0o755)
	os.Symlink("..v1", filepath.Join(dir, configMapLink))
	step("..data link", true)
	os.Remove(filepath.Join(dir, configMapLink))
	os.Symlink("..v2", filepath.Join(dir, configMapLink))
	step("..data link moved", true)
	if d := digestPolicy(filepath.Join(dir, "missing")); d == digestPolicy(filepath.Join(dir, "gone")) {
		t.Error("two missing paths digest the same (their errors name them)")
	}
}
