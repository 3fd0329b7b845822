package deploy_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"bulkhead.dev/bulkhead/agent/config"
	"bulkhead.dev/bulkhead/policy"
)

// TestShippedConfigLoads loads the agent configuration and the policy that
// the Kubernetes ConfigMaps ship with the agent's own loaders: a field the
// agent does not know, or a policy that does not validate, fails here
// rather than in a crash-looping DaemonSet.
func TestShippedConfigLoads(t *testing.T) {
	objs := loadKustomization(t, "kubernetes")
	agentCM := find[*corev1.ConfigMap](t, objs, "ConfigMap", "bulkhead-agent")
	data, ok := agentCM.Data["agent.yaml"]
	if !ok {
		t.Fatal("ConfigMap bulkhead-agent has no agent.yaml")
	}
	cfg, err := config.Load(config.Options{
		Path:     config.DefaultPath,
		Explicit: true,
		Env:      config.Env{NodeName: "k8s-node-1", Hostname: "bulkhead-x7k2p", CPUs: 2},
		ReadFile: func(string) ([]byte, error) { return []byte(data), nil },
	})
	if err != nil {
		t.Fatalf("the shipped agent.yaml does not load: %v", err)
	}
	for _, c := range []struct{ field, got, want string }{
		{"metrics.listen", cfg.Metrics.Listen, ":9447"},
		{"api.socket", cfg.API.Socket, config.DefaultAPISocket},
		{"stateDir", cfg.StateDir, config.DefaultStateDir},
		{"policy", cfg.Policy, config.DefaultPolicyPath},
	} {
		if c.got != c.want {
			t.Errorf("agent.yaml %s = %q, want %q (the DaemonSet's mounts and probes use it)", c.field, c.got, c.want)
		}
	}
	// The node is named by the DaemonSet's NODE_NAME, not fixed in the
	// ConfigMap, and the mounted policy ConfigMap is watched.
	if cfg.Node != "k8s-node-1" {
		t.Errorf("agent.yaml gives node %q, want NODE_NAME's %q", cfg.Node, "k8s-node-1")
	}
	if cfg.PolicyWatchInterval <= 0 {
		t.Errorf("agent.yaml turns the policy watch off (%v): ConfigMap updates would not be reloaded", cfg.PolicyWatchInterval)
	}

	policyCM := find[*corev1.ConfigMap](t, objs, "ConfigMap", "bulkhead-policy")
	if len(policyCM.Data) == 0 {
		t.Fatal("ConfigMap bulkhead-policy is empty")
	}
	for name, doc := range policyCM.Data {
		if _, err := policy.Parse(name, []byte(doc)); err != nil {
			t.Errorf("the shipped policy %s does not load: %v", name, err)
		}
	}
}
