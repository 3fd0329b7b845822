package testenv

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Capture is a running tcpdump.
type Capture struct {
	proc *Process
	Path string
}

// Capture records packets on iface inside the host's namespace into the
// pcap file path, with an optional BPF filter, until Stop. It returns once
// tcpdump is listening. Needs tcpdump (Debian package tcpdump).
func (h *Host) Capture(iface, path, filter string) (*Capture, error) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		return nil, fmt.Errorf("testenv: capture needs tcpdump (apt-get install tcpdump): %w", err)
	}
	args := []string{"-i", iface, "-w", path, "-U", "-n", "-s", "0", "-Z", "root", "--immediate-mode"}
	if filter != "" {
		args = append(args, filter)
	}
	cmd := exec.CommandContext(context.Background(), "tcpdump", args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p, err := h.Start(cmd)
	if err != nil {
		return nil, err
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var lines []string
		for sc.Scan() {
			line := sc.Text()
			lines = append(lines, line)
			if strings.Contains(line, "listening on") {
				ready <- ""
				break
			}
		}
		if len(lines) > 0 && !strings.Contains(lines[len(lines)-1], "listening on") {
			ready <- strings.Join(lines, "; ")
		}
		// Drain the rest so tcpdump never blocks on a full pipe.
		for sc.Scan() {
		}
	}()
	select {
	case msg := <-ready:
		if msg != "" {
			_ = p.Kill()
			return nil, fmt.Errorf("testenv: tcpdump on %s in %s: %s", iface, h.Name, msg)
		}
	case <-p.Done():
		return nil, fmt.Errorf("testenv: tcpdump on %s in %s exited: %v", iface, h.Name, p.Wait())
	case <-time.After(10 * time.Second):
		_ = p.Kill()
		return nil, fmt.Errorf("testenv: tcpdump on %s in %s did not start listening", iface, h.Name)
	}
	return &Capture{proc: p, Path: path}, nil
}

// Stop ends the capture after giving in-flight packets a moment to be
// written, and waits until the file is complete.
func (c *Capture) Stop() error {
	time.Sleep(200 * time.Millisecond)
	if err := c.proc.Signal(syscall.SIGINT); err != nil {
		return err
	}
	select {
	case <-c.proc.Done():
	case <-time.After(10 * time.Second):
		_ = c.proc.Kill()
		return fmt.Errorf("testenv: tcpdump writing %s did not stop", c.Path)
	}
	return nil
}
