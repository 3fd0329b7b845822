package flowtable

import (
	"bytes"
	"net/netip"
	"strconv"
)

// IP protocol numbers the table knows.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// Dir is the direction of a packet within its flow. Its values are those of
// l7.Dir.
type Dir uint8

const (
	// FromClient is sent by the side that opened the flow.
	FromClient Dir = 0
	// FromServer is sent by the other side.
	FromServer Dir = 1
)

func (d Dir) String() string {
	if d == FromServer {
		return "from-server"
	}
	return "from-client"
}

// Tuple is a packet's 5-tuple as it travelled: source and destination.
type Tuple struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
}

// Key identifies a flow whatever the direction: the two endpoints in a
// canonical order (A before B: lower address, then lower port). IPv4
// addresses are stored IPv4-mapped. It is comparable and 38 bytes.
type Key struct {
	A, B         [16]byte
	APort, BPort uint16
	Proto        uint8
}

// side says which endpoint of a Key sent a packet.
type side uint8

const (
	sideA side = 0
	sideB side = 1
)

// MakeKey returns the flow key of t and which side of the key sent it.
func MakeKey(t *Tuple) (Key, bool) {
	src, dst := t.Src.As16(), t.Dst.As16()
	c := bytes.Compare(src[:], dst[:])
	if c < 0 || (c == 0 && t.SrcPort <= t.DstPort) {
		return Key{A: src, B: dst, APort: t.SrcPort, BPort: t.DstPort, Proto: t.Proto}, false
	}
	return Key{A: dst, B: src, APort: t.DstPort, BPort: t.SrcPort, Proto: t.Proto}, true
}

func addr16(b [16]byte) netip.Addr { return netip.AddrFrom16(b).Unmap() }

// Endpoints returns the key's two endpoints (A then B).
func (k Key) Endpoints() (a netip.AddrPort, b netip.AddrPort) {
	return netip.AddrPortFrom(addr16(k.A), k.APort), netip.AddrPortFrom(addr16(k.B), k.BPort)
}

// String returns "proto A <-> B", e.g. "tcp 198.18.0.10:41000 <-> 198.18.0.11:80".
func (k Key) String() string {
	a, b := k.Endpoints()
	return ProtoName(k.Proto) + " " + a.String() + " <-> " + b.String()
}

// ProtoName returns "tcp", "udp", "icmp", "icmpv6" or the number.
func ProtoName(p uint8) string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	case ProtoICMPv6:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}
