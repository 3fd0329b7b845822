package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadBrNetfilterPresent(t *testing.T) {
	old := bridgeSysctlDir
	t.Cleanup(func() { bridgeSysctlDir = old })
	bridgeSysctlDir = t.TempDir()
	if err := loadBrNetfilter(); err != nil {
		t.Fatalf("with the sysctl directory present: %v", err)
	}
}

// The helper test below builds a node, records its namespace names in a
// file, then fails or panics. TestCleanupAfterFailure runs it in a child
// process and checks the namespaces are gone afterwards.
const helperEnv = "BULKHEAD_TESTENV_HELPER"

func TestHelperBuildsThenDies(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process for TestCleanupAfterFailure, not a test of its own")
	}
	out, mode, _ := strings.Cut(mode, ":")
	n := New(t, Config{Containers: []string{"a"}})
	names := n.Node.NS + "\n" + n.Container("a").NS + "\n"
	if err := os.WriteFile(out, []byte(names), 0o644); err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "fatal":
		t.Fatal("failing on purpose")
	case "panic":
		panic("panicking on purpose")
	}
}

func TestCleanupAfterFailure(t *testing.T) {
	RequireRoot(t)
	for _, mode := range []string{"fatal", "panic"} {
		t.Run(mode, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "names")
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBuildsThenDies$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"="+out+":"+mode)
			b, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("helper test passed, want it to %s:\n%s", mode, b)
			}
			data, rerr := os.ReadFile(out)
			if rerr != nil {
				t.Fatalf("helper did not build its node: %v\n%s", rerr, b)
			}
			for _, ns := range strings.Fields(string(data)) {
				if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
					t.Errorf("namespace %s left behind after the test %s", ns, mode)
					_ = deleteNS(ns)
				}
			}
		})
	}
}
