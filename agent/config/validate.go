package config

import (
	"errors"
	"fmt"
	"math/bits"
	"net"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"bulkhead.dev/bulkhead/agent/modes"
)

// FieldError is a problem with one configuration field.
type FieldError struct {
	Field string // dotted YAML path, e.g. "limits.flows"
	Msg   string
	// File and Line say where the value was set, when it came from the
	// configuration file.
	File string
	Line int
}

func (e *FieldError) Error() string {
	if e.File != "" && e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
	}
	return e.Field + ": " + e.Msg
}

// Limits of validation.
const (
	maxQueues   = 1024
	maxFlows    = 1 << 24
	maxSocket   = 107 // sun_path holds 108 bytes including the NUL
	minInterval = 100 * time.Millisecond
)

type checker struct{ errs []error }

func (c *checker) add(field, format string, a ...any) {
	c.errs = append(c.errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)})
}

func (c *checker) positive(field string, v int) {
	if v <= 0 {
		c.add(field, "must be > 0, got %d", v)
	}
}

func (c *checker) between(field string, v, lo, hi int) {
	if v < lo || v > hi {
		c.add(field, "must be between %d and %d, got %d", lo, hi, v)
	}
}

func (c *checker) sizeAtLeast(field string, v, lo Size) {
	if v < lo {
		c.add(field, "must be at least %s, got %s", lo, v)
	}
}

func (c *checker) duration(field string, v, lo, hi time.Duration) {
	if v < lo || v > hi {
		c.add(field, "must be between %s and %s, got %s", lo, hi, v)
	}
}

func (c *checker) enum(field string, err error) {
	if err != nil {
		c.add(field, "%v", err)
	}
}

func (c *checker) hostPort(field, v string) {
	if v == "" {
		return
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		c.add(field, "must be host:port (e.g. 127.0.0.1:9448 or :9448), got %q", v)
		return
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		c.add(field, "bad port %q in %q (want 1-65535)", port, v)
	}
}

func (c *checker) absPath(field, v string) {
	switch {
	case v == "":
		c.add(field, "must not be empty")
	case !filepath.IsAbs(v):
		c.add(field, "must be an absolute path, got %q", v)
	}
}

// Validate checks every field and returns one *FieldError per problem
// (joined with errors.Join), or nil.
func (cfg *Config) Validate() error {
	var c checker
	switch n := cfg.Node; {
	case n == "":
		c.add("node", "must not be empty (neither NODE_NAME nor the host name is known: set it)")
	case len(n) > 253 || strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		c.add("node", "must be at most 253 characters without spaces or control characters, got %q", n)
	}
	c.between("queues", cfg.Queues, 1, maxQueues)
	c.between("queueFirst", cfg.QueueFirst, 0, 65535)
	if cfg.Queues >= 1 && cfg.QueueFirst >= 0 && cfg.QueueFirst+cfg.Queues-1 > 65535 {
		c.add("queueFirst", "queues %d to %d go past 65535", cfg.QueueFirst, cfg.QueueFirst+cfg.Queues-1)
	}
	if run := uint32(cfg.MarkMask) >> bits.TrailingZeros32(uint32(cfg.MarkMask)); bits.OnesCount32(run) < 3 || run&(run+1) != 0 {
		c.add("markMask", "must be one run of at least 3 contiguous bits (e.g. 0x00f00000), got %s", cfg.MarkMask)
	}
	c.enum("failMode", oneOf(cfg.FailMode, FailOpen, FailClosed))
	if cfg.DefaultMode == modes.Unset || cfg.DefaultMode > modes.Protect {
		c.add("defaultMode", "must be one of learn, monitor, protect, got %q", cfg.DefaultMode.String())
	}
	if cfg.Policy == "" {
		c.add("policy", "must not be empty")
	}
	if w := cfg.PolicyWatchInterval; w != 0 {
		c.duration("policyWatchInterval", w, minInterval, 24*time.Hour)
	}
	c.absPath("stateDir", cfg.StateDir)

	c.absPath("api.socket", cfg.API.Socket)
	if len(cfg.API.Socket) > maxSocket {
		c.add("api.socket", "must be at most %d bytes (unix socket path limit), got %d", maxSocket, len(cfg.API.Socket))
	}
	c.hostPort("api.tcp", cfg.API.TCP)
	c.hostPort("metrics.listen", cfg.Metrics.Listen)
	c.positive("metrics.graphSeries", cfg.Metrics.GraphSeries)

	for i, p := range cfg.Identity.NetNS.StripPrefixes {
		if p == "" {
			c.add(fmt.Sprintf("identity.netns.stripPrefixes[%d]", i), "must not be empty")
		}
	}
	for i, p := range cfg.Identity.NetNS.StripSuffixes {
		if p == "" {
			c.add(fmt.Sprintf("identity.netns.stripSuffixes[%d]", i), "must not be empty")
		}
	}
	for i, p := range cfg.Identity.NetNS.Ignore {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			c.add(fmt.Sprintf("identity.netns.ignore[%d]", i), "bad glob pattern %q", p)
		}
	}

	l := &cfg.Limits
	if c.positive("limits.flows", l.Flows); l.Flows > maxFlows {
		c.add("limits.flows", "must be at most %d, got %d", maxFlows, l.Flows)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"tcpOpening", l.Idle.TCPOpening}, {"tcpEstablished", l.Idle.TCPEstablished},
		{"tcpClosing", l.Idle.TCPClosing}, {"udp", l.Idle.UDP}, {"icmp", l.Idle.ICMP}, {"other", l.Idle.Other},
	} {
		c.duration("limits.idle."+d.name, d.v, time.Second, 7*24*time.Hour)
	}
	c.between("limits.inspections", l.Inspections, 1, 1<<24)
	if l.Memory != 0 && l.Memory < 32*MiB {
		c.add("limits.memory", "must be 0 (automatic) or at least 32MiB, got %s", l.Memory)
	}
	c.between("limits.l7Wait.packets", l.L7Wait.Packets, 1, 1000)
	c.sizeAtLeast("limits.l7Wait.bytes", l.L7Wait.Bytes, 1)
	c.duration("limits.l7Wait.time", l.L7Wait.Time, time.Millisecond, time.Minute)
	c.enum("limits.l7Wait.verdict", oneOf(l.L7Wait.Verdict, VerdictAllow, VerdictDeny))
	if l.Reassembly < KiB || l.Reassembly > 16*MiB {
		c.add("limits.reassembly", "must be between 1KiB and 16MiB, got %s", l.Reassembly)
	}
	if l.L7Wait.Bytes > l.Reassembly && l.Reassembly >= KiB {
		c.add("limits.l7Wait.bytes", "must not exceed limits.reassembly (%s), got %s", l.Reassembly, l.L7Wait.Bytes)
	}

	e := &cfg.Events
	c.sizeAtLeast("events.maxSize", e.MaxSize, 4*KiB)
	c.between("events.keep", e.Keep, 0, 1000)
	c.between("events.queue", e.Queue, 1, 1<<20)
	c.between("events.recent", e.Recent, 0, 1<<20)
	c.between("events.subscriber", e.Subscriber, 1, 1<<20)
	if e.Evidence.Enabled && e.Evidence.Dir == "" {
		c.add("events.evidence.dir", "must not be empty when evidence is enabled")
	}
	c.between("events.evidence.maxFiles", e.Evidence.MaxFiles, 1, 1<<20)
	c.sizeAtLeast("events.evidence.maxFileSize", e.Evidence.MaxFileSize, KiB)
	c.between("events.evidence.packets", e.Evidence.Packets, 1, 64)

	c.duration("dns.ttlFloor", cfg.DNS.TTLFloor, 0, 24*time.Hour)
	c.between("dns.maxEntries", cfg.DNS.MaxEntries, 1, 1<<24)
	c.duration("state.interval", cfg.State.Interval, minInterval, 24*time.Hour)
	c.enum("log.level", oneOf(cfg.Log.Level, LogDebug, LogInfo, LogWarn, LogError))
	c.enum("log.format", oneOf(cfg.Log.Format, LogText, LogJSON))
	return errors.Join(c.errs...)
}
