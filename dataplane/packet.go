package dataplane

import (
	"net/netip"
	"strconv"
	"time"
)

// Proto is an IP protocol number.
type Proto uint8

const (
	ProtoICMP   Proto = 1
	ProtoTCP    Proto = 6
	ProtoUDP    Proto = 17
	ProtoICMPv6 Proto = 58
)

func (p Proto) String() string {
	switch p {
	case ProtoICMP:
		return "icmp"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMPv6:
		return "icmpv6"
	}
	return "proto-" + strconv.Itoa(int(p))
}

// TCPFlags are the flags of a TCP header.
type TCPFlags uint8

const (
	TCPFin TCPFlags = 1 << iota
	TCPSyn
	TCPRst
	TCPPsh
	TCPAck
	TCPUrg
	TCPEce
	TCPCwr
)

// Has reports whether every flag of f2 is set.
func (f TCPFlags) Has(f2 TCPFlags) bool { return f&f2 == f2 }

// Hook is the netfilter hook the packet was queued from.
type Hook uint8

const (
	HookInput   Hook = 1 // to the node
	HookForward Hook = 2 // between containers, or container and outside
	HookOutput  Hook = 3 // from the node
)

// Packet is what the Decider sees of a queued packet. The reader reuses one
// Packet for every packet: it and its Payload are valid during the Decide
// call only; copy what must outlive it.
type Packet struct {
	Queue uint16    // queue number
	ID    uint32    // the kernel's packet id within the queue
	Hook  Hook      // where it was queued
	Time  time.Time // when the reader received it (one clock read per burst)

	Family           Family
	Proto            Proto
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16 // TCP and UDP
	TCPFlags         TCPFlags
	Seq, Ack         uint32 // TCP sequence and acknowledgement numbers
	ICMPType         uint8  // ICMP and ICMPv6
	ICMPCode         uint8

	// Payload is the transport payload (after the TCP/UDP/ICMP header),
	// aliasing the receive buffer.
	Payload []byte
	// Len is the number of bytes queued (from the IP header); OrigLen the
	// packet's real length, larger when the copy was cut. GSO is set for
	// a segmentation-offload packet carrying several segments' payload.
	Len, OrigLen int
	GSO          bool

	// Interface indexes (0 when not applicable): the logical in and out
	// interfaces, and the bridge ports when bridged.
	InIf, OutIf, PhysIn, PhysOut uint32

	// Mark is the packet mark; Conn the connection's decision so far,
	// from the connmark.
	Mark uint32
	Conn ConnState
}
