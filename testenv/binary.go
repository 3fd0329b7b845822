package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BinaryEnv names the environment variable that points tests at a built
// bulkhead binary ("make test" builds it once and sets it).
const BinaryEnv = "BULKHEAD_BIN"

// Binary returns the bulkhead executable for tests that run it, and a
// function that removes what Binary made: $BULKHEAD_BIN when it is set
// (nothing to remove), else a fresh "go build" of
// bulkhead.dev/bulkhead/cmd/bulkhead in a new temporary directory. Call it
// once per test binary, from TestMain (or from one test, removing the
// build with t.Cleanup); the error carries the compiler's output.
func Binary() (bin string, cleanup func(), err error) {
	if bin = os.Getenv(BinaryEnv); bin != "" {
		return bin, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "bulkhead-bin-")
	if err != nil {
		return "", nil, fmt.Errorf("testenv: build bulkhead: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	bin = filepath.Join(dir, "bulkhead")
	cmd := exec.Command("go", "build", "-o", bin, "bulkhead.dev/bulkhead/cmd/bulkhead")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("testenv: build bulkhead (set %s to use a built binary): %w\n%s", BinaryEnv, err, out.Bytes())
	}
	return bin, cleanup, nil
}
