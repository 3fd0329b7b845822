package scenario_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"bulkhead.dev/bulkhead/testenv"
)

// bulkheadBin is the binary under test: $BULKHEAD_BIN (make test builds
// it), else built by TestMain when the root tests will run.
var bulkheadBin string

func TestMain(m *testing.M) {
	flag.Parse()
	cleanup := func() {}
	// Only root runs the tests that need the binary: do not build it for
	// nothing.
	if os.Geteuid() == 0 {
		var err error
		if bulkheadBin, cleanup, err = testenv.Binary(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}
