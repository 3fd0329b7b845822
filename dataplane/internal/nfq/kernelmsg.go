package nfq

import "fmt"

// Packet describes a queued-packet message as the kernel sends it. With
// AppendPacket and ParseVerdicts it lets tests and fuzzers play the
// kernel's side of the protocol.
type Packet struct {
	Queue   uint16
	ID      uint32
	HWProto uint16
	Hook    uint8
	Mark    uint32
	InDev   uint32
	OutDev  uint32
	PhysIn  uint32
	PhysOut uint32
	CapLen  uint32
	SkbInfo uint32
	HasCT   bool
	CTMark  uint32
	Payload []byte
}

// AppendPacket appends an NFQNL_MSG_PACKET message for p, with the
// attributes in the kernel's order.
func AppendPacket(b []byte, p Packet) []byte {
	start := len(b)
	b = appendHeader(b, msgPacket, 0, 0, p.Queue)
	b = appendAttrHeader(b, attrPacketHdr, 7)
	b = be.AppendUint32(b, p.ID)
	b = be.AppendUint16(b, p.HWProto)
	b = append(b, p.Hook)
	b = pad(b)
	u32Attr := func(t uint16, v uint32) {
		if v != 0 {
			b = appendAttrHeader(b, t, 4)
			b = be.AppendUint32(b, v)
		}
	}
	u32Attr(attrMark, p.Mark)
	u32Attr(attrInDev, p.InDev)
	u32Attr(attrOutDev, p.OutDev)
	u32Attr(attrPhysInDev, p.PhysIn)
	u32Attr(attrPhysOutDev, p.PhysOut)
	if p.HasCT {
		b = appendAttrHeader(b, attrCT|nlaFNested, nlaHdrLen+4)
		b = appendAttrHeader(b, ctaMark, 4)
		b = be.AppendUint32(b, p.CTMark)
	}
	u32Attr(attrCapLen, p.CapLen)
	u32Attr(attrSkbInfo, p.SkbInfo)
	b = appendAttrHeader(b, attrPayload, len(p.Payload))
	b = append(b, p.Payload...)
	b = pad(b)
	return finish(b, start)
}

// AppendError appends an NLMSG_ERROR message with errno (0 for an
// acknowledgement) answering request seq.
func AppendError(b []byte, seq uint32, errno int32) []byte {
	start := len(b)
	b = ne.AppendUint32(b, 0)
	b = ne.AppendUint16(b, nlmsgError)
	b = ne.AppendUint16(b, 0)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0)
	b = ne.AppendUint32(b, uint32(-errno))
	// The echoed request header.
	b = ne.AppendUint32(b, nlmsgHdrLen)
	b = ne.AppendUint16(b, msgVerdict)
	b = ne.AppendUint16(b, nlmFRequest)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0)
	return finish(b, start)
}

// ParseVerdicts decodes the verdict messages in b (as Send would write
// them), reporting for each whether it is a batch verdict.
func ParseVerdicts(b []byte) ([]Verdict, []bool, error) {
	var vs []Verdict
	var batch []bool
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen+nfgenHdrLen {
			return nil, nil, fmt.Errorf("nfq: verdict message of %d bytes: %w", len(b), ErrShort)
		}
		l := int(ne.Uint32(b[0:4]))
		typ := ne.Uint16(b[4:6])
		if l < nlmsgHdrLen+nfgenHdrLen || l > len(b) {
			return nil, nil, fmt.Errorf("nfq: verdict message length %d of %d: %w", l, len(b), ErrShort)
		}
		if typ != msgVerdict && typ != msgVerdictBt {
			return nil, nil, fmt.Errorf("nfq: message type %#x is not a verdict", typ)
		}
		v := Verdict{Queue: be.Uint16(b[nlmsgHdrLen+2:])}
		attrs := b[nlmsgHdrLen+nfgenHdrLen : l]
		for len(attrs) >= nlaHdrLen {
			al := int(ne.Uint16(attrs[0:2]))
			at := ne.Uint16(attrs[2:4]) & nlaTypeMask
			if al < nlaHdrLen || al > len(attrs) {
				return nil, nil, fmt.Errorf("nfq: verdict attribute %d: %w", at, ErrShort)
			}
			val := attrs[nlaHdrLen:al]
			switch at {
			case attrVerdictHdr:
				if len(val) < 8 {
					return nil, nil, fmt.Errorf("nfq: verdict header of %d bytes: %w", len(val), ErrShort)
				}
				v.Verdict, v.ID = be.Uint32(val[0:4]), be.Uint32(val[4:8])
			case attrMark:
				v.SetMark, v.Mark = true, u32(val)
			case attrCT:
				v.SetCTMark = true
				v.CTMark = ctAttr(val, ctaMark)
				v.CTMask = ctAttr(val, ctaMarkMask)
			}
			attrs = attrs[min(align4(al), len(attrs)):]
		}
		vs = append(vs, v)
		batch = append(batch, typ == msgVerdictBt)
		b = b[min(align4(l), len(b)):]
	}
	return vs, batch, nil
}
