package policy

import "fmt"

// Mode is how the agent treats the flows of a workload group. Modes are
// ordered by how much they enforce: Learn < Monitor < Protect.
type Mode uint8

const (
	// ModeUnset means "not given": a group without a mode takes the policy's
	// default mode.
	ModeUnset Mode = iota
	// ModeLearn allows everything and records it in the learned graph.
	ModeLearn
	// ModeMonitor allows everything and reports violations.
	ModeMonitor
	// ModeProtect drops violations.
	ModeProtect
)

var modeNames = [...]string{ModeUnset: "", ModeLearn: "learn", ModeMonitor: "monitor", ModeProtect: "protect"}

// String returns the mode's name as written in policies ("" for ModeUnset).
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode returns the mode named s ("learn", "monitor" or "protect").
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if n == s && i != int(ModeUnset) {
			return Mode(i), nil
		}
	}
	return ModeUnset, fmt.Errorf("policy: unknown mode %q (want learn, monitor or protect)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// DefaultMode is the default mode of a policy that sets none.
const DefaultMode = ModeLearn
