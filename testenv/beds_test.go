package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBeds: named beds are found by their bh-<name>-<host> namespaces;
// test namespaces (bh<pid>x<seq>-…) and others are not beds.
func TestBeds(t *testing.T) {
	dir := t.TempDir()
	for _, ns := range []string{"bh-dev-node", "bh-dev-web", "bh-dev-db-1", "bh-demo-node", "bh123x4-node", "cni-1234", "bh-", "bh-lonely"} {
		if err := os.WriteFile(filepath.Join(dir, ns), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := []Bed{{Name: "demo", Hosts: []string{"node"}}, {Name: "dev", Hosts: []string{"db-1", "node", "web"}}}
	if d := cmp.Diff(want, bedsIn(dir)); d != "" {
		t.Errorf("beds (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"bh-dev-db-1", "bh-dev-node", "bh-dev-web"}, bedNamespacesIn(dir, "dev")); d != "" {
		t.Errorf("namespaces of dev (-want +got):\n%s", d)
	}
	if got := bedNamespacesIn(dir, "nope"); len(got) != 0 {
		t.Errorf("namespaces of a missing bed: %q", got)
	}
	if got := bedsIn(filepath.Join(dir, "missing")); len(got) != 0 {
		t.Errorf("beds in a missing directory: %v", got)
	}
	if got, want := NamespacePath(HostNamespace("dev", "web")), "/run/netns/bh-dev-web"; got != want {
		t.Errorf("NamespacePath = %q, want %q", got, want)
	}
}
