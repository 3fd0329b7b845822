package dataplane

import "fmt"

// Marks are the bits Bulkhead owns in the packet mark and the connmark, and
// the values it stores there (see docs/architecture.md).
type Marks struct {
	Mask  uint32 // the bits Bulkhead owns
	Allow uint32 // connection allowed: kernel fast path
	Deny  uint32 // connection denied: dropped (TCP: reset) by the kernel
	// Inspect: connection allowed, its requests still queued (packets
	// the client sends that carry data; see Verdict Inspect).
	Inspect uint32
	// InspectAll: connection allowed, every packet still queued (both
	// directions, pure ACKs included).
	InspectAll uint32
}

// DefaultMarks are the marks of docs/architecture.md.
var DefaultMarks = Marks{Mask: 0x00f00000, Allow: 0x00100000, Deny: 0x00200000, Inspect: 0x00300000, InspectAll: 0x00400000}

// Validate checks that the values are distinct, non-zero and inside the
// mask.
func (m Marks) Validate() error {
	if m.Mask == 0 {
		return fmt.Errorf("dataplane: marks: mask is zero")
	}
	seen := map[uint32]string{}
	for _, v := range []struct {
		name string
		val  uint32
	}{{"allow", m.Allow}, {"deny", m.Deny}, {"inspect", m.Inspect}, {"inspect-all", m.InspectAll}} {
		switch {
		case v.val == 0:
			return fmt.Errorf("dataplane: marks: %s value is zero (zero means undecided)", v.name)
		case v.val&^m.Mask != 0:
			return fmt.Errorf("dataplane: marks: %s value %#x has bits outside mask %#x", v.name, v.val, m.Mask)
		case seen[v.val] != "":
			return fmt.Errorf("dataplane: marks: %s and %s share value %#x", seen[v.val], v.name, v.val)
		}
		seen[v.val] = v.name
	}
	return nil
}

// ConnState is a connection's decision as recorded in its connmark.
type ConnState uint8

const (
	ConnUndecided    ConnState = iota // no Bulkhead bits set
	ConnAllowed                       // kernel fast path
	ConnDenied                        // dropped by the kernel
	ConnInspected                     // allowed, the client's data packets still queued
	ConnInspectedAll                  // allowed, every packet still queued
	ConnUnknown                       // Bulkhead bits hold a value it does not use
)

var connStateNames = [...]string{"undecided", "allowed", "denied", "inspected", "inspected-all", "unknown"}

func (s ConnState) String() string {
	if int(s) < len(connStateNames) {
		return connStateNames[s]
	}
	return fmt.Sprintf("ConnState(%d)", uint8(s))
}

// State returns the decision stored in mark.
func (m Marks) State(mark uint32) ConnState {
	switch mark & m.Mask {
	case 0:
		return ConnUndecided
	case m.Allow:
		return ConnAllowed
	case m.Deny:
		return ConnDenied
	case m.Inspect:
		return ConnInspected
	case m.InspectAll:
		return ConnInspectedAll
	}
	return ConnUnknown
}

// Value returns the connmark value that records verdict v (0 for Accept
// and Drop, which decide nothing).
func (m Marks) Value(v Verdict) uint32 {
	switch v {
	case Allow:
		return m.Allow
	case Deny:
		return m.Deny
	case Inspect:
		return m.Inspect
	case InspectAll:
		return m.InspectAll
	}
	return 0
}

// hex formats a mark the way iptables-save prints it.
func hex(v uint32) string { return fmt.Sprintf("%#x", v) }
