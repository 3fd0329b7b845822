// Package nfq speaks the nfnetlink_queue protocol on a netlink socket: it
// binds and configures a queue, receives bursts of queued packets with one
// recvmmsg call, parses each message in place into a reusable struct, and
// encodes verdicts (single and batch) into a reusable buffer that is sent
// with one write. Nothing on the receive/verdict path allocates.
//
// The message layouts are those of linux/netfilter/nfnetlink_queue.h.
package nfq

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Netlink and nfnetlink constants (linux/netlink.h, linux/netfilter/nfnetlink.h).
const (
	nlmsgHdrLen  = 16
	nfgenHdrLen  = 4
	nlaHdrLen    = 4
	nlaFNested   = 0x8000
	nlaTypeMask  = 0x3fff
	nlmFRequest  = 0x1
	nlmFAck      = 0x4
	nlmsgError   = 0x2
	subsysQueue  = 3
	nfnetlinkV0  = 0
	msgPacket    = subsysQueue << 8
	msgVerdict   = subsysQueue<<8 | 1
	msgConfig    = subsysQueue<<8 | 2
	msgVerdictBt = subsysQueue<<8 | 3
)

// NFQA attribute types of packet and verdict messages.
const (
	attrPacketHdr  = 1
	attrVerdictHdr = 2
	attrMark       = 3
	attrInDev      = 5
	attrOutDev     = 6
	attrPhysInDev  = 7
	attrPhysOutDev = 8
	attrPayload    = 10
	attrCT         = 11
	attrCapLen     = 13
	attrSkbInfo    = 14
)

// NFQA_CFG attribute types and commands.
const (
	cfgCmd       = 1
	cfgParams    = 2
	cfgQueueMax  = 3
	cfgMask      = 4
	cfgFlags     = 5
	cmdBind      = 1
	copyModePkt  = 2
	ctaMark      = 8
	ctaMarkMask  = 21
	maxCopyRange = 0xffff - nlaHdrLen
)

// Queue configuration flags (NFQA_CFG_F_*).
const (
	FlagFailOpen  uint32 = 0x1 // queue full or socket overrun: accept instead of drop
	FlagConntrack uint32 = 0x2 // attach conntrack info (needs CONFIG_NETFILTER_NETLINK_GLUE_CT)
	FlagGSO       uint32 = 0x4 // queue GSO packets whole instead of segmenting them
)

// NFQA_SKB_INFO bits.
const (
	SkbCsumNotReady    uint32 = 0x1
	SkbGSO             uint32 = 0x2
	SkbCsumNotVerified uint32 = 0x4
)

// Netfilter verdicts (linux/netfilter.h).
const (
	NFDrop   uint32 = 0
	NFAccept uint32 = 1
	NFRepeat uint32 = 4
)

// Hooks (enum nf_inet_hooks).
const (
	HookPreRouting  = 0
	HookLocalIn     = 1
	HookForward     = 2
	HookLocalOut    = 3
	HookPostRouting = 4
)

// Kind is what a received netlink message is.
type Kind uint8

const (
	KindOther  Kind = iota // anything else (ignored)
	KindPacket             // a queued packet (NFQNL_MSG_PACKET)
	KindError              // NLMSG_ERROR with a non-zero error (e.g. a rejected verdict)
	KindAck                // NLMSG_ERROR with error 0
)

// Msg is one parsed netlink message. Parse overwrites every field, so one
// Msg is reused for every message; Payload aliases the receive buffer.
type Msg struct {
	Kind  Kind
	Seq   uint32 // netlink sequence number (acks)
	Errno int32  // for KindError: the positive errno

	Queue    uint16
	ID       uint32 // packet id, for the verdict
	HWProto  uint16 // ethertype of the packet (0x0800, 0x86dd)
	Hook     uint8
	Mark     uint32 // packet mark (0 when absent)
	InDev    uint32 // ifindexes, 0 when absent
	OutDev   uint32
	PhysIn   uint32
	PhysOut  uint32
	CapLen   uint32 // original length when the copy was cut (0: not cut)
	SkbInfo  uint32
	HasCT    bool   // conntrack info attached (NFQA_CT)
	CTMark   uint32 // connmark, when HasCT
	Payload  []byte // the packet from its network header; aliases the buffer
	HasPktHd bool
}

// ErrShort reports a message too short for its declared contents.
var ErrShort = errors.New("nfq: truncated netlink message")

var ne = binary.NativeEndian
var be = binary.BigEndian

// Parse parses one netlink message (exactly one nlmsghdr and its body, as
// returned by one recvmsg on a netlink datagram socket) into m.
func Parse(b []byte, m *Msg) error {
	*m = Msg{}
	if len(b) < nlmsgHdrLen {
		return fmt.Errorf("nfq: parse message of %d bytes: %w", len(b), ErrShort)
	}
	l := int(ne.Uint32(b[0:4]))
	typ := ne.Uint16(b[4:6])
	m.Seq = ne.Uint32(b[8:12])
	if l < nlmsgHdrLen || l > len(b) {
		return fmt.Errorf("nfq: parse message: length %d of %d bytes: %w", l, len(b), ErrShort)
	}
	b = b[:l]
	switch typ {
	case nlmsgError:
		if len(b) < nlmsgHdrLen+4 {
			return fmt.Errorf("nfq: parse error message of %d bytes: %w", len(b), ErrShort)
		}
		e := int32(ne.Uint32(b[nlmsgHdrLen:]))
		if e == 0 {
			m.Kind = KindAck
		} else {
			m.Kind = KindError
			m.Errno = -e
		}
		// The echoed request header tells which sequence failed.
		if len(b) >= nlmsgHdrLen+4+nlmsgHdrLen {
			m.Seq = ne.Uint32(b[nlmsgHdrLen+4+8:])
		}
		return nil
	case msgPacket:
	default:
		m.Kind = KindOther
		return nil
	}
	if len(b) < nlmsgHdrLen+nfgenHdrLen {
		return fmt.Errorf("nfq: parse packet message of %d bytes: %w", len(b), ErrShort)
	}
	m.Kind = KindPacket
	m.Queue = be.Uint16(b[nlmsgHdrLen+2:])
	return parseAttrs(b[nlmsgHdrLen+nfgenHdrLen:], m)
}

func parseAttrs(b []byte, m *Msg) error {
	for len(b) >= nlaHdrLen {
		al := int(ne.Uint16(b[0:2]))
		at := ne.Uint16(b[2:4]) & nlaTypeMask
		if al < nlaHdrLen || al > len(b) {
			return fmt.Errorf("nfq: attribute %d length %d of %d bytes: %w", at, al, len(b), ErrShort)
		}
		v := b[nlaHdrLen:al]
		switch at {
		case attrPacketHdr:
			if len(v) < 7 {
				return fmt.Errorf("nfq: packet header of %d bytes: %w", len(v), ErrShort)
			}
			m.ID = be.Uint32(v[0:4])
			m.HWProto = be.Uint16(v[4:6])
			m.Hook = v[6]
			m.HasPktHd = true
		case attrMark:
			m.Mark = u32(v)
		case attrInDev:
			m.InDev = u32(v)
		case attrOutDev:
			m.OutDev = u32(v)
		case attrPhysInDev:
			m.PhysIn = u32(v)
		case attrPhysOutDev:
			m.PhysOut = u32(v)
		case attrPayload:
			m.Payload = v
		case attrCT:
			m.HasCT = true
			m.CTMark = ctAttr(v, ctaMark)
		case attrCapLen:
			m.CapLen = u32(v)
		case attrSkbInfo:
			m.SkbInfo = u32(v)
		}
		adv := align4(al)
		if adv > len(b) {
			break
		}
		b = b[adv:]
	}
	if !m.HasPktHd {
		return fmt.Errorf("nfq: packet message without packet header: %w", ErrShort)
	}
	return nil
}

// ctAttr returns the 32-bit attribute want of the nested NFQA_CT
// attribute, or 0.
func ctAttr(b []byte, want uint16) uint32 {
	for len(b) >= nlaHdrLen {
		al := int(ne.Uint16(b[0:2]))
		if al < nlaHdrLen || al > len(b) {
			return 0
		}
		if ne.Uint16(b[2:4])&nlaTypeMask == want {
			return u32(b[nlaHdrLen:al])
		}
		b = b[min(align4(al), len(b)):]
	}
	return 0
}

func u32(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return be.Uint32(v)
}

func align4(n int) int { return (n + 3) &^ 3 }
