package decide

import (
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/agent/flowtable"
	"bulkhead.dev/bulkhead/dataplane"
)

// Evidence bounds. The dataplane hands the Decider decoded headers and the
// transport payload, not the raw packet, so evidence packets are rebuilt
// from what was kept: addresses, ports, TCP flags, sequence and
// acknowledgement numbers, ICMP type and code, and the first bytes of the
// payload (other header fields take plain values: TTL 64, window 65535).
const (
	maxKept        = 64   // packets per flow, at most
	keptPayloadCap = 1024 // payload bytes kept per packet
	keptBufCap     = 4096 // payload bytes kept per flow
)

// kept is one packet of a flow kept for evidence. The addresses and ports
// come from the flow key.
type kept struct {
	time     int64 // unix nanoseconds
	seq, ack uint32
	origLen  uint32 // the payload's real length
	off, n   uint16 // payload bytes kept, in evidence.buf
	dir      flowtable.Dir
	flags    dataplane.TCPFlags
	icmpType uint8
	icmpCode uint8
}

// evidence is the first packets of a flow.
type evidence struct {
	pkts []kept // grows to the limit once per pooled inspection
	buf  []byte
}

func (e *evidence) reset() {
	e.pkts = e.pkts[:0]
	e.buf = e.buf[:0]
}

// full reports whether limit packets are kept already.
func (e *evidence) full(limit int) bool { return len(e.pkts) >= limit }

// keep records p (sent in direction dir) when there is room for limit
// packets. It allocates only when the flow's payload buffer first grows.
func (e *evidence) keep(p *dataplane.Packet, dir flowtable.Dir, limit int) {
	if e.full(limit) || (len(p.Payload) == 0 && p.TCPFlags&^(dataplane.TCPAck|dataplane.TCPPsh) == 0 && p.Proto == dataplane.ProtoTCP) {
		return // no room, or a pure ACK (nothing to show)
	}
	if e.pkts == nil {
		e.pkts = make([]kept, 0, limit)
	}
	e.pkts = append(e.pkts, makeKept(p, dir))
	k := &e.pkts[len(e.pkts)-1]
	take := min(len(p.Payload), keptPayloadCap, keptBufCap-len(e.buf))
	if take > 0 {
		if e.buf == nil {
			e.buf = make([]byte, 0, keptBufCap)
		}
		k.off, k.n = uint16(len(e.buf)), uint16(take)
		e.buf = append(e.buf, p.Payload[:take]...)
	}
}

func makeKept(p *dataplane.Packet, dir flowtable.Dir) kept {
	return kept{time: p.Time.UnixNano(), seq: p.Seq, ack: p.Ack, origLen: uint32(len(p.Payload)),
		dir: dir, flags: p.TCPFlags, icmpType: p.ICMPType, icmpCode: p.ICMPCode}
}

// packets rebuilds the kept packets of flow f, then cur (the packet being
// decided, when it was not kept), as raw IP packets.
func (e *evidence) packets(f *flowtable.Flow, cur *dataplane.Packet, curDir flowtable.Dir, curKept bool) []events.Packet {
	var out []events.Packet
	for i := range e.pkts {
		k := &e.pkts[i]
		out = appendPacket(out, f, k, e.buf[k.off:k.off+k.n])
	}
	if !curKept && cur != nil {
		k := makeKept(cur, curDir)
		out = appendPacket(out, f, &k, cur.Payload[:min(len(cur.Payload), keptPayloadCap)])
	}
	return out
}

func appendPacket(out []events.Packet, f *flowtable.Flow, k *kept, payload []byte) []events.Packet {
	src, dst := f.Client(), f.Server()
	if k.dir == flowtable.FromServer {
		src, dst = dst, src
	}
	data, ok := buildPacket(f.Key.Proto, src, dst, k, payload)
	if !ok {
		return out
	}
	origLen := len(data) - len(payload) + int(k.origLen)
	return append(out, events.Packet{Time: time.Unix(0, k.time).UTC(), Data: data, OrigLen: origLen})
}

// buildPacket serialises one packet; ok is false when it cannot.
func buildPacket(proto uint8, src, dst netip.AddrPort, k *kept, payload []byte) ([]byte, bool) {
	var ls []gopacket.SerializableLayer
	var netLayer gopacket.NetworkLayer
	v6 := src.Addr().Is6()
	if v6 {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocol(proto),
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ls, netLayer = append(ls, ip), ip
	} else {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocol(proto),
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ls, netLayer = append(ls, ip), ip
	}
	switch proto {
	case flowtable.ProtoTCP:
		t := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
			Seq: k.seq, Ack: k.ack, Window: 65535,
			FIN: k.flags.Has(dataplane.TCPFin), SYN: k.flags.Has(dataplane.TCPSyn), RST: k.flags.Has(dataplane.TCPRst),
			PSH: k.flags.Has(dataplane.TCPPsh), ACK: k.flags.Has(dataplane.TCPAck), URG: k.flags.Has(dataplane.TCPUrg),
			ECE: k.flags.Has(dataplane.TCPEce), CWR: k.flags.Has(dataplane.TCPCwr)}
		if err := t.SetNetworkLayerForChecksum(netLayer); err != nil {
			return nil, false
		}
		ls = append(ls, t)
	case flowtable.ProtoUDP:
		u := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
		if err := u.SetNetworkLayerForChecksum(netLayer); err != nil {
			return nil, false
		}
		ls = append(ls, u)
	case flowtable.ProtoICMP:
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(k.icmpType, k.icmpCode)})
	case flowtable.ProtoICMPv6:
		i := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(k.icmpType, k.icmpCode)}
		if err := i.SetNetworkLayerForChecksum(netLayer); err != nil {
			return nil, false
		}
		ls = append(ls, i)
	}
	ls = append(ls, gopacket.Payload(payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}
