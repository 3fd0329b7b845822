package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// Builders of synthetic packets and captures for the tests.

var (
	cliIP  = netip.MustParseAddr("198.18.0.10")
	srvIP  = netip.MustParseAddr("198.18.0.11")
	cliIP6 = netip.MustParseAddr("2001:2:0:1::a")
	srvIP6 = netip.MustParseAddr("2001:2:0:1::b")
	t0     = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

// ipv4 builds an IPv4 header around payload. fragOff is in bytes.
func ipv4(src, dst netip.Addr, proto uint8, id uint16, fragOff int, more bool, payload []byte) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[4:], id)
	fo := uint16(fragOff / 8)
	if more {
		fo |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:], fo)
	h[8] = 64
	h[9] = proto
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return append(h, payload...)
}

// ipv6 builds an IPv6 header around payload, with a fragment header when
// frag is set.
func ipv6(src, dst netip.Addr, proto uint8, frag bool, id uint32, fragOff int, more bool, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	next := proto
	body := payload
	if frag {
		f := make([]byte, 8)
		f[0] = proto
		fo := uint16(fragOff)
		if more {
			fo |= 1
		}
		binary.BigEndian.PutUint16(f[2:], fo)
		binary.BigEndian.PutUint32(f[4:], id)
		body = append(f, payload...)
		next = 44
	}
	binary.BigEndian.PutUint16(h[4:], uint16(len(body)))
	h[6] = next
	h[7] = 64
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, body...)
}

func tcpSeg(sport, dport uint16, seq uint32, flags uint8, payload []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h, sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], seq)
	h[12] = 5 << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	return append(h, payload...)
}

func udpDgram(sport, dport uint16, payload []byte) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h, sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return append(h, payload...)
}

// eth wraps an IP packet in Ethernet with the given VLAN tags (outer
// first; a tag of 0x88a8<<16|id is an 802.1ad tag).
func eth(ip []byte, tags ...uint32) []byte {
	f := make([]byte, 12)
	copy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02")
	for _, tag := range tags {
		tpid := uint16(0x8100)
		if tag>>16 != 0 {
			tpid = uint16(tag >> 16)
		}
		f = binary.BigEndian.AppendUint16(f, tpid)
		f = binary.BigEndian.AppendUint16(f, uint16(tag))
	}
	et := uint16(etherIPv4)
	if ip[0]>>4 == 6 {
		et = etherIPv6
	}
	f = binary.BigEndian.AppendUint16(f, et)
	return append(f, ip...)
}

// frame is one packet of a synthetic capture.
type frame struct {
	at   time.Duration // after t0
	data []byte
}

// pcapFile writes frames as a (little-endian, nanosecond) pcap file of the
// given link type.
func pcapFile(t testing.TB, link uint32, frames ...frame) []byte {
	t.Helper()
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 0xa1b23c4d)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 65535)
	b = le.AppendUint32(b, link)
	for _, f := range frames {
		ts := t0.Add(f.at)
		b = le.AppendUint32(b, uint32(ts.Unix()))
		b = le.AppendUint32(b, uint32(ts.Nanosecond()))
		b = le.AppendUint32(b, uint32(len(f.data)))
		b = le.AppendUint32(b, uint32(len(f.data)))
		b = append(b, f.data...)
	}
	return b
}

// pcapngFile writes frames as a pcapng file with one interface of the given
// link type (nanosecond timestamps).
func pcapngFile(t testing.TB, link uint32, frames ...frame) []byte {
	t.Helper()
	le := binary.LittleEndian
	block := func(b []byte, typ uint32, body []byte) []byte {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		b = le.AppendUint32(b, typ)
		b = le.AppendUint32(b, n)
		b = append(b, body...)
		return le.AppendUint32(b, n)
	}
	shb := le.AppendUint32(nil, 0x1a2b3c4d)
	shb = le.AppendUint16(shb, 1)
	shb = le.AppendUint16(shb, 0)
	shb = le.AppendUint64(shb, ^uint64(0))
	b := block(nil, 0x0a0d0d0a, shb)
	idb := le.AppendUint16(nil, uint16(link))
	idb = le.AppendUint16(idb, 0)
	idb = le.AppendUint32(idb, 0)
	idb = append(idb, 9, 0, 1, 0, 9, 0, 0, 0) // if_tsresol = 9 (ns)
	idb = append(idb, 0, 0, 0, 0)             // end of options
	b = block(b, 1, idb)
	for _, f := range frames {
		ns := uint64(t0.Add(f.at).UnixNano())
		epb := le.AppendUint32(nil, 0)
		epb = le.AppendUint32(epb, uint32(ns>>32))
		epb = le.AppendUint32(epb, uint32(ns))
		epb = le.AppendUint32(epb, uint32(len(f.data)))
		epb = le.AppendUint32(epb, uint32(len(f.data)))
		epb = append(epb, f.data...)
		b = block(b, 6, epb)
	}
	return b
}

// analyzeBytes runs Analyze over a capture in memory.
func analyzeBytes(t testing.TB, b []byte, opts Options) ([]*Record, Stats, error) {
	t.Helper()
	var recs []*Record
	st, err := Analyze(context.Background(), bytes.NewReader(b), opts, func(r *Record) error {
		recs = append(recs, r)
		return nil
	})
	return recs, st, err
}

// jsonLines renders records the way analyze prints them.
func jsonLines(t testing.TB, recs []*Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		b, err := r.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}
