package netns

import (
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Watcher. Zero values are sane defaults.
type Config struct {
	// NetNS is the path of the node's network namespace (the namespace whose
	// veths are watched). "" means the calling process's namespace (read
	// from the calling thread, so a caller on a locked thread moved into
	// another namespace gets that one).
	NetNS string
	// NamedDirs are directories of bind-mounted named namespaces used to map
	// a peer nsid to a name; default ["/run/netns", "/var/run/docker/netns"].
	// A non-nil empty slice means none: every namespace is found by the
	// process scan.
	NamedDirs []string
	// ProcRoot is the /proc to scan for unnamed namespaces; default "/proc".
	// An agent in a container that mounts the host's /proc elsewhere points
	// it there.
	ProcRoot string
	// Resync is the period of a full re-list (safety net for missed
	// notifications); default 5s, at least 100ms.
	Resync time.Duration
	// Filter, if set, selects which node-side links count as containers
	// (default: every veth whose peer is in another namespace, except
	// uplinks: veths whose node side holds a global address with a subnet
	// prefix, like a router port). Filter replaces the uplink rule; only
	// veths whose peer is in another namespace are ever offered to it.
	Filter func(hostIf string) bool
	// Logger receives the watcher's logs; nil discards them.
	Logger *slog.Logger
}

// DefaultNamedDirs are the directories searched for named namespaces when
// Config.NamedDirs is nil: iproute2, CNI runtimes (containerd, CRI-O,
// Podman) and Docker.
var DefaultNamedDirs = []string{"/run/netns", "/var/run/docker/netns"}

const (
	defaultProcRoot = "/proc"
	defaultResync   = 5 * time.Second
	minResync       = 100 * time.Millisecond
)

// withDefaults fills in the defaults and checks the values.
func (c Config) withDefaults() (Config, error) {
	if c.NamedDirs == nil {
		c.NamedDirs = DefaultNamedDirs
	}
	c.NamedDirs = append([]string(nil), c.NamedDirs...)
	for _, d := range c.NamedDirs {
		if d == "" {
			return c, fmt.Errorf("netns: config: empty named namespace directory in %q", c.NamedDirs)
		}
	}
	if c.ProcRoot == "" {
		c.ProcRoot = defaultProcRoot
	}
	switch {
	case c.Resync == 0:
		c.Resync = defaultResync
	case c.Resync < minResync:
		return c, fmt.Errorf("netns: config: resync period %v is below %v", c.Resync, minResync)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
