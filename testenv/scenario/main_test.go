package scenario_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"bulkhead.dev/bulkhead/testenv/scenario"
)

// bulkheadBin is the binary under test: $BULKHEAD_BIN (make test builds
// it), else built by TestMain when the root tests will run.
var bulkheadBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "bulkhead-scenario-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Only root runs the tests that need the binary: do not build it for
	// nothing.
	if os.Geteuid() == 0 && !testing.Short() {
		if bulkheadBin, err = scenario.Binary(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
