package flowtable

import (
	"net/netip"
	"strconv"

	"bulkhead.dev/bulkhead/agent/identity"
	"bulkhead.dev/bulkhead/agent/modes"
)

// Verdict is the decision about a flow. The values follow the connmark
// values of docs/architecture.md.
type Verdict uint8

const (
	// Undecided: packets still go to user space.
	Undecided Verdict = iota
	// Allow: the kernel carries the rest (fast path).
	Allow
	// Deny: the rest is dropped (TCP: reset).
	Deny
	// Inspect: allowed, but every request is still checked.
	Inspect
)

var verdictNames = [...]string{"undecided", "allow", "deny", "inspect"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// TCPState is the table's coarse view of a TCP connection; it picks the
// idle timeout.
type TCPState uint8

const (
	// TCPOpening: only one direction seen so far (handshake).
	TCPOpening TCPState = iota
	// TCPEstablished: both directions seen.
	TCPEstablished
	// TCPClosing: a FIN or RST was seen.
	TCPClosing
)

// TCP flags as in the TCP header.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPAck = 0x10
)

// L7State is the wiring's account of L7 inspection of a flow.
type L7State struct {
	Packets  uint16 // payload packets inspected while waiting for attributes
	Bytes    uint32 // payload bytes inspected while waiting
	Requests uint32 // requests checked
}

// Flow is the state of one flow. Fields are read and written only inside
// the functions Track, Lookup and Range run, while the flow is locked.
type Flow struct {
	Key Key
	// ID is unique within this run of the agent (and very likely across
	// runs: the first ID is taken from the clock).
	ID uint64
	// Src and Dst name the client and the server; the wiring sets them when
	// the flow is created.
	Src, Dst identity.Identity
	// Created and LastSeen are unix nanoseconds.
	Created, LastSeen int64
	// Packets and Bytes count by direction (index by Dir).
	Packets [2]uint32
	Bytes   [2]uint64
	// Rule is the id of the policy rule that decided, Reason why (for a
	// violation).
	Rule, Reason string
	// Slot holds the wiring's own per-flow state (L7 parser, first packets
	// kept as evidence…); Config.OnEvict gets a chance to release it.
	Slot any
	L7   L7State

	Verdict Verdict
	Mode    modes.Mode // effective mode when decided
	App     uint8      // an l7.App
	// Flags are the wiring's own bits.
	Flags uint8
	State TCPState // TCP only

	client side // which side of Key is the client
	class  class
	prev   uint32
	next   uint32
}

// Client returns the client's address and port.
func (f *Flow) Client() netip.AddrPort {
	a, b := f.Key.Endpoints()
	if f.client == sideB {
		return b
	}
	return a
}

// Server returns the server's address and port.
func (f *Flow) Server() netip.AddrPort {
	a, b := f.Key.Endpoints()
	if f.client == sideB {
		return a
	}
	return b
}

// class picks a flow's idle timeout and eviction list.
type class uint8

const (
	classTCPOpening class = iota
	classTCPEstablished
	classTCPClosing
	classUDP
	classICMP
	classOther
	numClasses
)

func classOf(f *Flow) class {
	switch f.Key.Proto {
	case ProtoTCP:
		return classTCPOpening + class(f.State)
	case ProtoUDP:
		return classUDP
	case ProtoICMP, ProtoICMPv6:
		return classICMP
	}
	return classOther
}
