package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// decoder decodes the network and transport headers of queued packets with
// gopacket's DecodingLayerParser into preallocated layers: no allocation in
// steady state. One per reader; not safe for concurrent use.
type decoder struct {
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP
	udp   layers.UDP
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6

	p4, p6  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

func newDecoder() *decoder {
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 8)}
	mk := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		p := gopacket.NewDecodingLayerParser(first)
		dlc := gopacket.DecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
		for _, l := range []gopacket.DecodingLayer{&d.ip4, &d.ip6, &d.tcp, &d.udp, &d.icmp4, &d.icmp6} {
			dlc = dlc.Put(l)
		}
		p.SetDecodingLayerContainer(dlc)
		// Stop quietly at layers we do not need (payloads, other
		// protocols); IPv6 extension headers are walked after.
		p.IgnoreUnsupported = true
		return p
	}
	d.p4 = mk(layers.LayerTypeIPv4)
	d.p6 = mk(layers.LayerTypeIPv6)
	return d
}

// errNotIP reports a payload that is neither IPv4 nor IPv6.
var errNotIP = errors.New("not an IPv4 or IPv6 packet")

// decode fills the network and transport fields of p from data (the packet
// from its IP header). On error p's fields are partly filled and must not
// be used.
func (d *decoder) decode(data []byte, p *Packet) error {
	p.Family, p.Proto = 0, 0
	p.Src, p.Dst = netip.Addr{}, netip.Addr{}
	p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack = 0, 0, 0, 0, 0
	p.ICMPType, p.ICMPCode = 0, 0
	p.Payload = nil
	if len(data) == 0 {
		return fmt.Errorf("decode: empty packet: %w", errNotIP)
	}
	var parser *gopacket.DecodingLayerParser
	switch data[0] >> 4 {
	case 4:
		parser = d.p4
	case 6:
		parser = d.p6
	default:
		return fmt.Errorf("decode: IP version %d: %w", data[0]>>4, errNotIP)
	}
	if err := parser.DecodeLayers(data, &d.decoded); err != nil {
		return fmt.Errorf("decode %d-byte packet: %w", len(data), err)
	}
	l3 := false
	for _, typ := range d.decoded {
		switch typ {
		case layers.LayerTypeIPv4:
			if l3 {
				return nil // tunnelled: the outer headers identify the packet
			}
			l3 = true
			if len(d.ip4.SrcIP) != 4 || len(d.ip4.DstIP) != 4 {
				return fmt.Errorf("decode: IPv4 header without addresses: %w", errNotIP)
			}
			p.Family = IPv4
			p.Proto = Proto(d.ip4.Protocol)
			p.Src = netip.AddrFrom4([4]byte(d.ip4.SrcIP))
			p.Dst = netip.AddrFrom4([4]byte(d.ip4.DstIP))
		case layers.LayerTypeIPv6:
			if l3 {
				return nil
			}
			l3 = true
			if len(d.ip6.SrcIP) != 16 || len(d.ip6.DstIP) != 16 {
				return fmt.Errorf("decode: IPv6 header without addresses: %w", errNotIP)
			}
			p.Family = IPv6
			p.Proto = Proto(d.ip6.NextHeader)
			if d.ip6.HopByHop != nil { // gopacket decodes it with the IPv6 header
				p.Proto = Proto(d.ip6.HopByHop.NextHeader)
			}
			p.Src = netip.AddrFrom16([16]byte(d.ip6.SrcIP))
			p.Dst = netip.AddrFrom16([16]byte(d.ip6.DstIP))
		case layers.LayerTypeTCP, layers.LayerTypeUDP, layers.LayerTypeICMPv4, layers.LayerTypeICMPv6:
			d.transport(typ, p)
			return nil
		}
	}
	if !l3 {
		return fmt.Errorf("decode: no IP header: %w", errNotIP)
	}
	if p.Family == IPv6 && d.decoded[len(d.decoded)-1] == layers.LayerTypeIPv6 {
		return d.ipv6Extensions(p)
	}
	return nil
}

// ipv6Extensions walks the IPv6 extension headers after the fixed header
// (hop-by-hop, routing, fragment, destination options, mobility, HIP,
// shim6, AH) to the transport header and decodes it. gopacket's parser
// stops at them, and an extension header must not hide a TCP connection's
// ports from the Decider: the packet would look like another protocol.
// Without a transport header (ESP, no next header, a later fragment,
// another protocol) p.Proto is the last next header and the ports stay 0.
func (d *decoder) ipv6Extensions(p *Packet) error {
	b := d.ip6.Payload
	for range maxIPv6Extensions {
		var n int
		switch p.Proto {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, destination, mobility, HIP, shim6
			if len(b) >= 2 {
				n = (int(b[1]) + 1) * 8
			}
		case 44: // fragment
			if len(b) >= 8 && binary.BigEndian.Uint16(b[2:4])&^7 != 0 {
				return nil // not the first fragment: no transport header
			}
			n = 8
		case 51: // authentication header
			if len(b) >= 2 {
				n = (int(b[1]) + 2) * 4
			}
		default:
			var l gopacket.DecodingLayer
			var typ gopacket.LayerType
			switch p.Proto {
			case ProtoTCP:
				l, typ = &d.tcp, layers.LayerTypeTCP
			case ProtoUDP:
				l, typ = &d.udp, layers.LayerTypeUDP
			case ProtoICMPv6:
				l, typ = &d.icmp6, layers.LayerTypeICMPv6
			default:
				return nil
			}
			if err := l.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
				return fmt.Errorf("decode: %v after IPv6 extension headers: %w", typ, err)
			}
			d.transport(typ, p)
			return nil
		}
		if n == 0 || len(b) < n {
			return fmt.Errorf("decode: truncated IPv6 extension header %d (%d bytes left): %w", p.Proto, len(b), errNotIP)
		}
		p.Proto, b = Proto(b[0]), b[n:]
	}
	return fmt.Errorf("decode: more than %d IPv6 extension headers: %w", maxIPv6Extensions, errNotIP)
}

// maxIPv6Extensions bounds the extension header walk.
const maxIPv6Extensions = 8

// transport fills p from the decoded transport layer typ.
func (d *decoder) transport(typ gopacket.LayerType, p *Packet) {
	switch typ {
	case layers.LayerTypeTCP:
		t := &d.tcp
		p.Proto = ProtoTCP
		p.SrcPort, p.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
		p.Seq, p.Ack = t.Seq, t.Ack
		p.TCPFlags = tcpFlags(t)
		p.Payload = t.Payload
	case layers.LayerTypeUDP:
		p.Proto = ProtoUDP
		p.SrcPort, p.DstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
		p.Payload = d.udp.Payload
	case layers.LayerTypeICMPv4:
		p.Proto = ProtoICMP
		p.ICMPType, p.ICMPCode = d.icmp4.TypeCode.Type(), d.icmp4.TypeCode.Code()
		p.Payload = d.icmp4.Payload
	case layers.LayerTypeICMPv6:
		p.Proto = ProtoICMPv6
		p.ICMPType, p.ICMPCode = d.icmp6.TypeCode.Type(), d.icmp6.TypeCode.Code()
		p.Payload = d.icmp6.Payload
	}
}

func tcpFlags(t *layers.TCP) TCPFlags {
	var f TCPFlags
	for _, b := range [...]struct {
		set  bool
		flag TCPFlags
	}{{t.FIN, TCPFin}, {t.SYN, TCPSyn}, {t.RST, TCPRst}, {t.PSH, TCPPsh}, {t.ACK, TCPAck}, {t.URG, TCPUrg}, {t.ECE, TCPEce}, {t.CWR, TCPCwr}} {
		if b.set {
			f |= b.flag
		}
	}
	return f
}
