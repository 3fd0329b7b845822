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
	// Inspect decides the connection: allowed, but every packet is still
	// queued (for L7 rules on long connections). This packet passes.
	Inspect
	numVerdicts
)

var verdictNames = [...]string{"accept", "drop", "allow", "deny", "inspect"}

func (v Verdict) String() string {
	if v < numVerdicts {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// Decider decides what happens to queued packets.
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
