package config

import (
	"fmt"
	"strconv"
	"strings"
)

// FailMode is what happens to packets the agent cannot answer.
type FailMode string

// The fail modes.
const (
	FailOpen   FailMode = "open"
	FailClosed FailMode = "closed"
)

// Verdict is a default verdict.
type Verdict string

// The verdicts.
const (
	VerdictAllow Verdict = "allow"
	VerdictDeny  Verdict = "deny"
)

// LogLevel is the least severe log level written.
type LogLevel string

// The log levels.
const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// LogFormat is the log line format.
type LogFormat string

// The log formats.
const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

// oneOf returns an error unless v is one of allowed.
func oneOf[T ~string](v T, allowed ...T) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	s := make([]string, len(allowed))
	for i, a := range allowed {
		s[i] = string(a)
	}
	return fmt.Errorf("must be one of %s, got %q", strings.Join(s, ", "), string(v))
}

// Hex is an unsigned number written in hexadecimal in YAML ("0x00f00000");
// decimal is accepted too.
type Hex uint32

// String returns the number as 0x%08x.
func (h Hex) String() string { return fmt.Sprintf("0x%08x", uint32(h)) }

// MarshalText implements encoding.TextMarshaler.
func (h Hex) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hex) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 0, 32)
	if err != nil {
		return fmt.Errorf("bad 32-bit number %q (want e.g. 0x00f00000)", b)
	}
	*h = Hex(v)
	return nil
}
