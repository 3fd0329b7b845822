package dataplane

import "fmt"

// Verdict is the Decider's answer for one packet.
type Verdict uint8

const (
	// Accept lets this packet through; the connection stays undecided,
	// so its next packet is queued too.
	Accept Verdict = iota
	// Drop drops this packet; the connection stays undecided.
	Drop
	// Allow decides the connection: allowed. This packet and the rest of
	// the connection pass in the kernel without being queued (DNS
	// excepted).
	Allow
	// Deny decides the connection: denied. This packet and the rest are
	// dropped by the kernel; TCP peers get a reset.
	Deny
	// Inspect decides the connection: allowed, but its requests are
	// still queued, for L7 rules checked request by request for the
	// connection's whole life. This packet passes. From now on the kernel
	// queues only what the client (the side that opened the connection)
	// sends: TCP segments that carry data, and every UDP datagram or
	// other packet in that direction. It passes by itself everything the
	// server sends and TCP segments without data (pure ACKs, SYN, FIN,
	// RST). DNS stays queued whole. IPv4 packets with options and IPv6
	// packets with extension headers are queued (the kernel rule cannot
	// find their payload cheaply). See docs/dataplane.md.
	Inspect
	// InspectAll decides the connection: allowed, but every packet is
	// still queued, both directions, pure ACKs included (e.g. to see
	// the server's responses while learning). This packet passes.
	InspectAll
	numVerdicts
)

var verdictNames = [...]string{"accept", "drop", "allow", "deny", "inspect", "inspect-all"}

func (v Verdict) String() string {
	if v < numVerdicts {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// Decider decides what happens to queued packets.
//
// A connection's decision can change: a packet of an inspected connection
// can be answered Deny (the connection is then reset), Allow (fast path
// from now on), or Inspect / InspectAll (switch what is queued).
//
// Decide is called by every queue's reader, concurrently (one goroutine per
// queue; with CPU fan-out the packets of one connection can arrive on
// different queues), so it must be safe for concurrent use. It must not
// block: while it runs, its queue's packets wait in the kernel, and when
// the queue is full the kernel drops new packets (or accepts them,
// fail-open). It must not keep p or p.Payload after returning.
type Decider interface {
	Decide(p *Packet) Verdict
}

// DeciderFunc adapts a function to Decider.
type DeciderFunc func(p *Packet) Verdict

// Decide calls f.
func (f DeciderFunc) Decide(p *Packet) Verdict { return f(p) }
