// Package testbin gives the agent's tests that run the real binary the
// bulkhead executable: $BULKHEAD_BIN (make test builds it), else one built
// into a temporary directory; and a buffer that collects a process's
// output while the test reads it.
package testbin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// Build returns the binary to test and a function that removes what Build
// made. With $BULKHEAD_BIN set it builds nothing.
func Build() (bin string, cleanup func(), err error) {
	if bin = os.Getenv("BULKHEAD_BIN"); bin != "" {
		return bin, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "bulkhead-test")
	if err != nil {
		return "", nil, fmt.Errorf("testbin: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	bin = filepath.Join(dir, "bulkhead")
	cmd := exec.Command("go", "build", "-o", bin, "bulkhead.dev/bulkhead/cmd/bulkhead")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("testbin: build bulkhead: %w", err)
	}
	return bin, cleanup, nil
}

// Buffer is a bytes.Buffer that a process writes while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Run runs bin with args to completion (at most timeout) and returns its
// exit code and output; err is set only when it could not run at all.
func Run(bin string, timeout time.Duration, args ...string) (code int, stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), o.String(), e.String(), nil
	}
	if err != nil {
		return 0, o.String(), e.String(), fmt.Errorf("testbin: run %s %v: %w", bin, args, err)
	}
	return 0, o.String(), e.String(), nil
}
