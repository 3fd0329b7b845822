// Package e2e_test drives the real "bulkhead agent" binary inside testenv
// nodes with real clients (curl, redis-cli, dig) and servers: kill -9 and
// restart, bad policy reloads, FQDN rules through DNS, the routed topology
// and IPv6, containers coming and going, a flood of a million flows, and a
// real Prometheus scraping the agent. Learn → generate → protect with the
// attacks of the demo, checked event by event, is testenv/scenario's
// TestScenario; this bed reuses its redis-server and event-log reader.
// Every test needs root (it builds network namespaces) and skips without
// it.
package e2e_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"bulkhead.dev/bulkhead/testenv"
)

// bulkheadBin is the binary under test: $BULKHEAD_BIN (make test builds
// it), else built by TestMain (as root: without root every test skips).
var bulkheadBin string

func TestMain(m *testing.M) {
	if os.Getenv(floodEnv) != "" {
		// Re-executed inside a container as the flood generator.
		os.Exit(runFlood())
	}
	flag.Parse()
	cleanup := func() {}
	if os.Geteuid() == 0 {
		var err error
		if bulkheadBin, cleanup, err = testenv.Binary(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}
