package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// netnsDir is where named network namespaces are bind-mounted, as
// `ip netns` does, so `ip netns exec NAME` works on them.
const netnsDir = "/run/netns"

// Host is one network namespace of a node: the node itself, a container or
// an external host.
type Host struct {
	// Name is the role of the host within its node ("node", a container's
	// name, an external host's name).
	Name string
	// NS is the network namespace's name under /run/netns.
	NS string

	handle netns.NsHandle
	nl     *netlink.Handle

	mu    sync.Mutex
	procs []*Process
	// closers are run (last first) when the host is closed: servers,
	// captures.
	closers []func() error
	wg      sync.WaitGroup
}

// newHost creates the named network namespace ns and brings its loopback up.
func newHost(role, ns string) (*Host, error) {
	h, err := createNamedNS(ns)
	if err != nil {
		return nil, fmt.Errorf("testenv: create namespace %s: %w", ns, err)
	}
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		h.Close()
		_ = netns.DeleteNamed(ns)
		return nil, fmt.Errorf("testenv: netlink handle in %s: %w", ns, err)
	}
	host := &Host{Name: role, NS: ns, handle: h, nl: nl}
	lo, err := nl.LinkByName("lo")
	if err == nil {
		err = nl.LinkSetUp(lo)
	}
	if err != nil {
		host.destroy()
		return nil, fmt.Errorf("testenv: bring up lo in %s: %w", ns, err)
	}
	return host, nil
}

// createNamedNS creates a new network namespace bind-mounted at
// /run/netns/name without moving the calling goroutine's thread.
func createNamedNS(name string) (netns.NsHandle, error) {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return netns.None(), err
	}
	if _, err := os.Stat(filepath.Join(netnsDir, name)); err == nil {
		return netns.None(), fmt.Errorf("%s already exists", filepath.Join(netnsDir, name))
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return netns.None(), err
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	if rerr := netns.Set(orig); rerr != nil {
		// The thread is stuck in the wrong namespace: keep it locked so
		// the runtime throws it away when this goroutine ends.
		if err == nil {
			h.Close()
		}
		return netns.None(), fmt.Errorf("restore namespace: %w", rerr)
	}
	runtime.UnlockOSThread()
	return h, err
}

// Do runs fn on an OS thread that is inside the host's network namespace.
// Sockets fn creates belong to that namespace for their whole life.
func (h *Host) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("testenv: get current namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(h.handle); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("testenv: enter namespace %s: %w", h.NS, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: the runtime discards it.
		return errors.Join(ferr, fmt.Errorf("testenv: leave namespace %s: %w", h.NS, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Netlink returns a netlink handle that operates inside the host's
// namespace. It is owned by the host; do not close it.
func (h *Host) Netlink() *netlink.Handle { return h.nl }

// NSPath is the path of the namespace's bind mount, e.g. for setns.
func (h *Host) NSPath() string { return filepath.Join(netnsDir, h.NS) }

// Sysctl writes value to the sysctl key (dotted, e.g.
// "net.ipv4.ip_forward") inside the host's namespace.
func (h *Host) Sysctl(key, value string) error {
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	err := h.Do(func() error { return os.WriteFile(p, []byte(value), 0o644) })
	if err != nil {
		return fmt.Errorf("testenv: sysctl %s=%s in %s: %w", key, value, h.NS, err)
	}
	return nil
}

// ReadSysctl reads a sysctl key inside the host's namespace.
func (h *Host) ReadSysctl(key string) (string, error) {
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	var out []byte
	err := h.Do(func() error {
		var err error
		out, err = os.ReadFile(p)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("testenv: read sysctl %s in %s: %w", key, h.NS, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// onClose registers fn to run when the host is closed.
func (h *Host) onClose(fn func() error) {
	h.mu.Lock()
	h.closers = append(h.closers, fn)
	h.mu.Unlock()
}

// stop ends everything running in the host: processes it started, servers,
// captures. It leaves the namespace in place.
func (h *Host) stop() error {
	h.mu.Lock()
	procs := h.procs
	h.procs = nil
	closers := h.closers
	h.closers = nil
	h.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range procs {
		_ = p.Stop() // exit status of a stopped process is not an error here
	}
	h.wg.Wait()
	return errors.Join(errs...)
}

// destroy stops everything and removes the namespace.
func (h *Host) destroy() error {
	err := h.stop()
	if h.nl != nil {
		h.nl.Close()
		h.nl = nil
	}
	if h.handle.IsOpen() {
		h.handle.Close()
	}
	if derr := deleteNS(h.NS); derr != nil {
		err = errors.Join(err, derr)
	}
	return err
}

// deleteNS removes a named namespace; a missing one is not an error.
func deleteNS(name string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := netns.DeleteNamed(name); err != nil {
		return fmt.Errorf("testenv: delete namespace %s: %w", name, err)
	}
	return nil
}
