package scenario

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/agent/config"
	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/internal/golden"
)

// TestAgentFiles renders the agent's configuration and identity file,
// compares them with the golden files, and loads them with the agent's own
// loaders: the demo's files must be valid for the agent it runs.
func TestAgentFiles(t *testing.T) {
	dir := t.TempDir()
	f := AgentFiles{
		Node:         "demo-node",
		PolicyDir:    "/tmp/bulkhead-demo-x/agent/policy",
		StateDir:     "/tmp/bulkhead-demo-x/agent/state",
		Socket:       "/tmp/bulkhead-demo-x/agent/bulkhead.sock",
		IdentityFile: "/tmp/bulkhead-demo-x/agent/identities.yaml",
		NetnsPrefix:  "bh-demo-",
	}
	conf, err := RenderConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/agent.yaml.golden", conf)
	ids, err := RenderIdentities("bh-demo")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/identities.yaml.golden", ids)

	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(config.Options{Path: path, Explicit: true, Env: config.Env{Hostname: "h", CPUs: 2}})
	if err != nil {
		t.Fatalf("the agent refuses the demo's configuration: %v", err)
	}
	c := loaded.Config
	got := []string{c.Node, c.Policy, c.StateDir, c.API.Socket, c.Identity.File, c.DefaultMode.String()}
	want := []string{f.Node, f.PolicyDir, f.StateDir, f.Socket, f.IdentityFile, "learn"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("loaded configuration (-want +got):\n%s", d)
	}

	st, err := identity.ParseStatic("identities.yaml", ids)
	if err != nil {
		t.Fatalf("the agent refuses the demo's identity file: %v", err)
	}
	if st.Len() != len(Containers) {
		t.Errorf("the identity file names %d workloads, want %d (%v)", st.Len(), len(Containers), Containers)
	}
	for _, name := range Containers {
		wl, ok := st.Workload(identity.Container{NetNS: "bh-demo-" + name})
		if !ok || wl.Name != name || wl.Labels["app"] == "" {
			t.Errorf("namespace bh-demo-%s: got %+v, %v; want workload %q with an app label", name, wl, ok, name)
		}
	}
}
