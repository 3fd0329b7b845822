package scenario

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Binary returns the bulkhead binary for tests: $BULKHEAD_BIN when set
// ("make test" builds it once), else a fresh build of
// bulkhead.dev/bulkhead/cmd/bulkhead written into dir.
func Binary(dir string) (string, error) {
	if bin := os.Getenv("BULKHEAD_BIN"); bin != "" {
		return bin, nil
	}
	bin := filepath.Join(dir, "bulkhead")
	out, err := exec.Command("go", "build", "-o", bin, "bulkhead.dev/bulkhead/cmd/bulkhead").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("scenario: build bulkhead: %w\n%s", err, out)
	}
	return bin, nil
}
