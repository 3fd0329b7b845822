package capture

import (
	"encoding/binary"
	"errors"

	"bulkhead.dev/bulkhead/l7"
)

// Link-layer, IP and transport decoding into a reusable packet value, in
// the style of a zero-allocation decoder: no gopacket layers, no copies.

// Link types (pcap LINKTYPE_* values) the decoder understands.
const (
	LinkNull     = 0   // BSD loopback: 4-byte address family, host order
	LinkEthernet = 1   // Ethernet II, with 802.1Q / 802.1ad tags
	LinkRaw      = 101 // raw IPv4 or IPv6
	LinkRawAlt12 = 12  // raw IP on some BSDs (DLT_RAW)
	LinkRawAlt14 = 14  // raw IP on OpenBSD (DLT_RAW)
	LinkLoop     = 108 // OpenBSD loopback: address family, network order
	LinkSLL      = 113 // Linux cooked capture v1
	LinkIPv4     = 228
	LinkIPv6     = 229
	LinkSLL2     = 276 // Linux cooked capture v2
)

// IP protocol numbers.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
	maxVLANs  = 4
	maxExtHdr = 8
)

// packet is one decoded packet. Byte slices alias the capture buffer.
type packet struct {
	src, dst [16]byte // IPv4 addresses are stored IPv4-mapped
	v4       bool
	proto    uint8
	sport    uint16
	dport    uint16
	seq      uint32
	flags    uint8  // TCP flags
	ipLen    int    // bytes counted for the flow: the IP datagram's length
	payload  []byte // transport payload (IP payload for other protocols)

	// Fragments (before reassembly).
	frag      bool
	fragID    uint32
	fragOff   int  // byte offset of this fragment's data
	fragMore  bool // more fragments follow
	fragData  []byte
	fragProto uint8 // transport protocol of the datagram
}

// tcpFlags returns the TCP header flags (zero for other protocols).
func (p *packet) tcpFlags() l7.TCPFlags { return l7.TCPFlags(p.flags) }

var (
	errNotIP     = errors.New("not an IP packet")
	errTruncated = errors.New("truncated")
	errBadHeader = errors.New("malformed header")
)

// decodeLink strips the link layer and returns the IP datagram.
func decodeLink(link uint32, b []byte) ([]byte, error) {
	switch link {
	case LinkEthernet:
		if len(b) < 14 {
			return nil, errTruncated
		}
		et := binary.BigEndian.Uint16(b[12:])
		b = b[14:]
		for i := 0; et == 0x8100 || et == 0x88a8 || et == 0x9100; i++ {
			if i == maxVLANs || len(b) < 4 {
				return nil, errTruncated
			}
			et = binary.BigEndian.Uint16(b[2:])
			b = b[4:]
		}
		return ipByEtherType(et, b)
	case LinkRaw, LinkRawAlt12, LinkRawAlt14, LinkIPv4, LinkIPv6:
		return b, nil
	case LinkNull:
		if len(b) < 4 {
			return nil, errTruncated
		}
		af := binary.LittleEndian.Uint32(b)
		if af > 0xffff {
			af = binary.BigEndian.Uint32(b) // written on a big-endian host
		}
		return ipByFamily(af, b[4:])
	case LinkLoop:
		if len(b) < 4 {
			return nil, errTruncated
		}
		return ipByFamily(binary.BigEndian.Uint32(b), b[4:])
	case LinkSLL:
		if len(b) < 16 {
			return nil, errTruncated
		}
		return ipByEtherType(binary.BigEndian.Uint16(b[14:]), b[16:])
	case LinkSLL2:
		if len(b) < 20 {
			return nil, errTruncated
		}
		return ipByEtherType(binary.BigEndian.Uint16(b), b[20:])
	}
	return nil, errNotIP
}

func ipByEtherType(et uint16, b []byte) ([]byte, error) {
	if et == etherIPv4 || et == etherIPv6 {
		return b, nil
	}
	return nil, errNotIP
}

func ipByFamily(af uint32, b []byte) ([]byte, error) {
	switch af {
	case 2, 10, 24, 28, 30: // AF_INET; AF_INET6 on Linux, BSDs, macOS
		return b, nil
	}
	return nil, errNotIP
}

// decodeIP decodes an IP datagram into p.
func decodeIP(b []byte, p *packet) error {
	p.frag = false
	if len(b) < 1 {
		return errTruncated
	}
	switch b[0] >> 4 {
	case 4:
		return decodeIPv4(b, p)
	case 6:
		return decodeIPv6(b, p)
	}
	return errNotIP
}

func decodeIPv4(b []byte, p *packet) error {
	if len(b) < 20 {
		return errTruncated
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || total < ihl {
		return errBadHeader
	}
	if len(b) < ihl {
		return errTruncated
	}
	p.v4 = true
	p.src = [16]byte{10: 0xff, 11: 0xff}
	p.dst = p.src
	copy(p.src[12:], b[12:16])
	copy(p.dst[12:], b[16:20])
	p.proto = b[9]
	p.ipLen = total
	body := b[ihl:min(total, len(b))]
	fo := binary.BigEndian.Uint16(b[6:])
	if fo&0x3fff != 0 { // MF or an offset: a fragment
		p.frag = true
		p.fragID = uint32(binary.BigEndian.Uint16(b[4:]))
		p.fragOff = int(fo&0x1fff) * 8
		p.fragMore = fo&0x2000 != 0
		p.fragData = body
		p.fragProto = p.proto
		return nil
	}
	return decodeTransport(body, p)
}

func decodeIPv6(b []byte, p *packet) error {
	if len(b) < 40 {
		return errTruncated
	}
	p.v4 = false
	copy(p.src[:], b[8:24])
	copy(p.dst[:], b[24:40])
	plen := int(binary.BigEndian.Uint16(b[4:]))
	p.ipLen = 40 + plen
	if plen == 0 { // jumbogram or truncated header: take what was captured
		p.ipLen = len(b)
	}
	body := b[40:min(p.ipLen, len(b))]
	next := b[6]
	for i := 0; ; i++ {
		if i == maxExtHdr {
			return errBadHeader
		}
		switch next {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, destination, mobility, HIP, shim6
			if len(body) < 8 {
				return errTruncated
			}
			n := (int(body[1]) + 1) * 8
			if len(body) < n {
				return errTruncated
			}
			next, body = body[0], body[n:]
			continue
		case 51: // AH
			if len(body) < 8 {
				return errTruncated
			}
			n := (int(body[1]) + 2) * 4
			if len(body) < n {
				return errTruncated
			}
			next, body = body[0], body[n:]
			continue
		case 44: // fragment
			if len(body) < 8 {
				return errTruncated
			}
			fo := binary.BigEndian.Uint16(body[2:])
			p.proto = body[0]
			if fo&0xfff9 == 0 { // atomic fragment: offset 0, no M flag
				next, body = body[0], body[8:]
				continue
			}
			p.frag = true
			p.fragID = binary.BigEndian.Uint32(body[4:])
			p.fragOff = int(fo &^ 7)
			p.fragMore = fo&1 != 0
			p.fragProto = body[0]
			p.fragData = body[8:]
			return nil
		}
		p.proto = next
		return decodeTransport(body, p)
	}
}

// decodeTransport decodes the TCP or UDP header of an unfragmented (or
// reassembled) datagram whose protocol is p.proto.
func decodeTransport(b []byte, p *packet) error {
	p.sport, p.dport, p.seq, p.flags = 0, 0, 0, 0
	switch p.proto {
	case protoTCP:
		if len(b) < 20 {
			return errTruncated
		}
		off := int(b[12]>>4) * 4
		if off < 20 {
			return errBadHeader
		}
		if len(b) < off {
			return errTruncated
		}
		p.sport = binary.BigEndian.Uint16(b)
		p.dport = binary.BigEndian.Uint16(b[2:])
		p.seq = binary.BigEndian.Uint32(b[4:])
		p.flags = b[13]
		p.payload = b[off:]
	case protoUDP:
		if len(b) < 8 {
			return errTruncated
		}
		p.sport = binary.BigEndian.Uint16(b)
		p.dport = binary.BigEndian.Uint16(b[2:])
		n := int(binary.BigEndian.Uint16(b[4:]))
		if n < 8 {
			n = len(b) // zero length (jumbo) or bogus: take what is there
		}
		p.payload = b[8:min(n, len(b))]
	default:
		p.payload = b
	}
	return nil
}

// Tunnels decapsulated before flows are tracked: GTP-U (mobile networks,
// UDP 2152) and VXLAN (overlay networks, UDP 4789). The flow is the inner
// one.
const (
	portGTPU  = 2152
	portVXLAN = 4789
	maxTunnel = 2 // nested tunnels followed
)

// decap returns the inner packet of a tunnel that p carries: an IP datagram
// (link LinkRaw) or an Ethernet frame (LinkEthernet).
func decap(p *packet) (inner []byte, link uint32, ok bool) {
	if p.proto != protoUDP {
		return nil, 0, false
	}
	b := p.payload
	switch {
	case p.sport == portGTPU || p.dport == portGTPU:
		// GTPv1-U G-PDU (3GPP TS 29.281): version 1, protocol type 1.
		if len(b) < 8 || b[0]>>5 != 1 || b[0]&0x10 == 0 || b[1] != 0xff {
			return nil, 0, false
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		body := b[8:]
		if n < len(body) {
			body = body[:n]
		}
		if b[0]&0x07 != 0 { // sequence number, N-PDU number or extension
			if len(body) < 4 {
				return nil, 0, false
			}
			next := body[3]
			body = body[4:]
			for i := 0; next != 0; i++ {
				if i == 8 || len(body) < 1 || len(body) < int(body[0])*4 || body[0] == 0 {
					return nil, 0, false
				}
				l := int(body[0]) * 4
				next = body[l-1]
				body = body[l:]
			}
		}
		if len(body) == 0 || body[0]>>4 != 4 && body[0]>>4 != 6 {
			return nil, 0, false
		}
		return body, LinkRaw, true
	case p.dport == portVXLAN:
		if len(b) < 8+14 || b[0]&0x08 == 0 {
			return nil, 0, false
		}
		return b[8:], LinkEthernet, true
	}
	return nil, 0, false
}
