// Package modes holds the agent's mode per policy group: learn, monitor or
// protect. The policy file gives each group a mode; an operator (the API,
// "bulkhead mode GROUP MODE") or auto-promotion may change it at run time,
// and those changes persist across restarts in the state directory.
//
// A run-time change overrides the policy's mode for that group until the
// policy itself changes the group's mode: a reload in which the group's mode
// in the file is the same as when the override was made keeps the override;
// a reload that gives the group a different mode drops it (the newer written
// intent wins). A group that disappears from the policy loses its override.
package modes

import "fmt"

// Mode is how the agent treats a group's flows. Modes are ordered by how
// much they enforce (Learn < Monitor < Protect) and numbered like
// policy.Mode, so converting between the two is a type conversion.
type Mode uint8

const (
	// Unset means "not given".
	Unset Mode = iota
	// Learn allows everything and records it in the learned graph.
	Learn
	// Monitor allows everything and reports violations.
	Monitor
	// Protect drops violations.
	Protect
)

var names = [...]string{Unset: "", Learn: "learn", Monitor: "monitor", Protect: "protect"}

// String returns "learn", "monitor", "protect" ("" for Unset).
func (m Mode) String() string {
	if int(m) < len(names) {
		return names[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// Parse returns the mode named s.
func Parse(s string) (Mode, error) {
	for i, n := range names {
		if i != int(Unset) && n == s {
			return Mode(i), nil
		}
	}
	return Unset, fmt.Errorf("unknown mode %q (want learn, monitor or protect)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Strictest returns the more enforcing of a and b: the effective mode of a
// flow is the strictest mode among the groups of its local endpoints.
func Strictest(a, b Mode) Mode { return max(a, b) }
