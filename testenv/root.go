package testenv

import (
	"os"
	"testing"
)

// RequireRoot skips t, printing the reason, when the test cannot build
// network namespaces because it does not run as root. CI runs as root, so
// there every test that calls it runs.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("skipping: needs root to build network namespaces (running as uid %d); CI runs the tests as root", os.Geteuid())
	}
}
