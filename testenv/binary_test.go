package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBinaryFromEnv(t *testing.T) {
	t.Setenv(BinaryEnv, "/opt/bulkhead/bin/bulkhead")
	bin, cleanup, err := Binary()
	if err != nil || bin != "/opt/bulkhead/bin/bulkhead" {
		t.Fatalf("Binary() = %q, %v; want $%s", bin, err, BinaryEnv)
	}
	cleanup()
}

// TestBinaryBuilds: without $BULKHEAD_BIN, Binary builds the command, and
// cleanup removes the build.
func TestBinaryBuilds(t *testing.T) {
	t.Setenv(BinaryEnv, "")
	bin, cleanup, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "bulkhead") {
		t.Errorf("%s version: %v %q", bin, err, out)
	}
	cleanup()
	if _, err := os.Stat(filepath.Dir(bin)); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s: %v", filepath.Dir(bin), err)
	}
}
