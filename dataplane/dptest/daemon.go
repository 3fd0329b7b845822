// Package dptest runs the real `bulkhead dataplane` command inside a
// testenv node and talks to it: wait until it attached the containers, read
// its counters (SIGUSR1, JSON), stop it (SIGTERM) or kill it (SIGKILL). The
// dataplane's integration tests, its benchmark and the demo use it.
package dptest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/testenv"
)

// Daemon is `bulkhead dataplane` running in a node's namespace.
type Daemon struct {
	Proc   *testenv.Process
	Stdout *testenv.Buffer // counters, one JSON object per line
	Stderr *testenv.Buffer // the log
}

// Start runs `BIN dataplane --stats-format json ARGS...` in the node and
// waits (up to 15 s) until it has started and attached every container the
// node has.
func Start(n *testenv.Node, bin string, args ...string) (*Daemon, error) {
	d := &Daemon{Stdout: &testenv.Buffer{}, Stderr: &testenv.Buffer{}}
	cmd := exec.Command(bin, append([]string{"dataplane", "--stats-format", "json"}, args...)...)
	cmd.Stdout, cmd.Stderr = d.Stdout, d.Stderr
	p, err := n.Node.Start(cmd)
	if err != nil {
		return nil, err
	}
	d.Proc = p
	for _, c := range n.Containers() {
		if err := d.WaitAttached(c.HostIf, 15*time.Second); err != nil {
			_ = p.Kill()
			return nil, err
		}
	}
	return d, nil
}

// WaitAttached waits until the daemon has started and logged veth as
// attached (rules a killed predecessor left may mention it already, so the
// rules alone do not tell).
func (d *Daemon) WaitAttached(veth string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		log := d.Stderr.String()
		if strings.Contains(log, `msg="dataplane: started"`) && strings.Contains(log, "veth="+veth+" ") {
			return nil
		}
		if d.Proc.Exited() {
			return fmt.Errorf("dptest: bulkhead dataplane exited (%v):\n%s", d.Proc.Wait(), log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dptest: bulkhead dataplane did not attach %s within %v:\n%s", veth, timeout, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Snapshot is one line of the daemon's counters: the dataplane's and its
// static decider's.
type Snapshot struct {
	dataplane.Stats
	// StatsError is the error Dataplane.Stats returned with the counters
	// (e.g. the kernel's queue counters could not be read); Snapshot
	// returns it as an error.
	StatsError string `json:",omitempty"`
	Decider    dataplane.StaticStats
}

// Stats asks for the counters (SIGUSR1) and returns the dataplane's.
func (d *Daemon) Stats() (dataplane.Stats, error) {
	s, err := d.Snapshot()
	return s.Stats, err
}

// Snapshot asks for the counters (SIGUSR1) and returns them. When the
// daemon could not read all of them (Dataplane.Stats failed) it returns
// what it got and an error saying why.
func (d *Daemon) Snapshot() (Snapshot, error) {
	var s Snapshot
	before := strings.Count(d.Stdout.String(), "\n")
	if err := d.Proc.Signal(syscall.SIGUSR1); err != nil {
		return s, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(d.Stdout.String(), "\n") <= before {
		if time.Now().After(deadline) {
			return s, fmt.Errorf("dptest: no counters from bulkhead dataplane within 5s:\n%s", d.Stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(d.Stdout.String()), "\n")
	last := lines[len(lines)-1]
	if err := json.Unmarshal([]byte(last), &s); err != nil {
		return s, fmt.Errorf("dptest: parse counters %q: %w", last, err)
	}
	if s.StatsError != "" {
		return s, fmt.Errorf("dptest: bulkhead dataplane counters incomplete: %s", s.StatsError)
	}
	return s, nil
}

// Stop sends SIGTERM and waits (up to 15 s) for a clean exit.
func (d *Daemon) Stop() error {
	if err := d.Proc.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-d.Proc.Done():
	case <-time.After(15 * time.Second):
		_ = d.Proc.Kill()
		return errors.New("dptest: bulkhead dataplane did not stop within 15s of SIGTERM:\n" + d.Stderr.String())
	}
	if err := d.Proc.Wait(); err != nil {
		return fmt.Errorf("dptest: bulkhead dataplane exit: %w\n%s", err, d.Stderr.String())
	}
	return nil
}

// Kill sends SIGKILL (no clean-up runs) and waits for the process to end.
func (d *Daemon) Kill() {
	_ = d.Proc.Signal(syscall.SIGKILL)
	<-d.Proc.Done()
}

// CPUTime returns the CPU time the daemon's threads have used so far
// (/proc/PID/task/*/schedstat, nanoseconds).
func (d *Daemon) CPUTime() (time.Duration, error) {
	return ProcessCPU(d.Proc.PID())
}

// ProcessCPU returns the CPU time the threads of process pid have used so
// far, from /proc/PID/task/*/schedstat (threads that already exited are not
// counted).
func ProcessCPU(pid int) (time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("dptest: cpu time of pid %d: %w", pid, err)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("dptest: cpu time of pid %d: empty %s/schedstat", pid, t.Name())
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("dptest: cpu time of pid %d: %s/schedstat %q: %w", pid, t.Name(), b, err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}
