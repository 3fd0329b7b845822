// Package testbin helps the agent's tests that run the real bulkhead
// binary (testenv.Binary gives it): a runner of one command. (The buffer
// that collects a running process's output is testenv.Buffer.)
package testbin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"
)

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
