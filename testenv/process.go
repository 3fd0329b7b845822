package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// Command returns a command that runs name inside the host's namespace
// through `ip netns exec`. Use it for short commands whose output you want
// (Output, CombinedOutput); use Start for programs that keep running.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Run runs name inside the namespace and returns its combined output. The
// error names the command and includes its output.
func (h *Host) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := h.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("testenv: %s in %s: %s %v: %w: %s", name, h.Name, name, args, err, out)
	}
	return out, nil
}

// Process is a program the host started. The host stops it when it closes.
type Process struct {
	Cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts cmd inside the host's namespace (it forks from a thread in
// that namespace, so the program needs no `ip netns exec`) in its own
// process group, and tracks it: closing the host stops it. Set cmd.Stdout,
// cmd.Stderr and cmd.Env before calling.
func (h *Host) Start(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	// If the test binary dies, the child must not outlive it.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := h.Do(cmd.Start); err != nil {
		return nil, fmt.Errorf("testenv: start %s in %s: %w", cmd.Path, h.Name, err)
	}
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		p.err = cmd.Wait()
		close(p.done)
	}()
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	return p, nil
}

// StartProgram is Start for a program name and arguments, with stdout and
// stderr going to the given writers (nil discards).
func (h *Host) StartProgram(ctx context.Context, stdout, stderr io.Writer, name string, args ...string) (*Process, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	return h.Start(cmd)
}

// PID is the process id.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns its exit error.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := syscall.Kill(p.PID(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("testenv: signal %v to pid %d: %w", sig, p.PID(), err)
	}
	return nil
}

// Kill sends SIGKILL to the process and its process group (its children)
// and waits for it to exit.
func (p *Process) Kill() error {
	if !p.Exited() {
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		_ = syscall.Kill(p.PID(), syscall.SIGKILL)
	}
	<-p.done
	return nil
}

// Stop sends SIGTERM, waits up to 10 s for the process to exit, then kills
// its process group. It returns the process's exit error.
func (p *Process) Stop() error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.Kill()
	}
	// Children the program left behind in its group go too.
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	return p.err
}
