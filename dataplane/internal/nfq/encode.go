package nfq

// Verdict is one verdict message to encode.
type Verdict struct {
	Queue   uint16
	ID      uint32 // the packet id; for a batch, every queued id ≤ ID
	Verdict uint32 // NFDrop, NFAccept, NFRepeat
	// SetMark sets the packet mark to Mark.
	SetMark bool
	Mark    uint32
	// SetCTMark sets the connmark bits CTMask to CTMark through the
	// conntrack glue (NFQA_CT); only kernels with
	// CONFIG_NETFILTER_NETLINK_GLUE_CT honour it. Not allowed in a batch.
	SetCTMark bool
	CTMark    uint32
	CTMask    uint32
}

// AppendVerdict appends a verdict message for one packet (batch false,
// NFQNL_MSG_VERDICT) or for every queued packet with an id up to v.ID
// (batch true, NFQNL_MSG_VERDICT_BATCH; SetCTMark is ignored there because
// the kernel ignores it).
func AppendVerdict(b []byte, v Verdict, batch bool) []byte {
	typ := uint16(msgVerdict)
	if batch {
		typ = msgVerdictBt
	}
	start := len(b)
	b = appendHeader(b, typ, nlmFRequest, 0, v.Queue)
	b = appendAttrHeader(b, attrVerdictHdr, 8)
	b = be.AppendUint32(b, v.Verdict)
	b = be.AppendUint32(b, v.ID)
	if v.SetMark {
		b = appendAttrHeader(b, attrMark, 4)
		b = be.AppendUint32(b, v.Mark)
	}
	if v.SetCTMark && !batch {
		b = appendAttrHeader(b, attrCT|nlaFNested, 2*(nlaHdrLen+4))
		b = appendAttrHeader(b, ctaMark, 4)
		b = be.AppendUint32(b, v.CTMark)
		b = appendAttrHeader(b, ctaMarkMask, 4)
		b = be.AppendUint32(b, v.CTMask)
	}
	return finish(b, start)
}

// appendHeader appends an nlmsghdr (length patched by finish) and nfgenmsg.
func appendHeader(b []byte, typ, flags uint16, seq uint32, queue uint16) []byte {
	b = ne.AppendUint32(b, 0)
	b = ne.AppendUint16(b, typ)
	b = ne.AppendUint16(b, flags)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0) // port id: the kernel
	b = append(b, 0 /* AF_UNSPEC */, nfnetlinkV0)
	return be.AppendUint16(b, queue)
}

func appendAttrHeader(b []byte, typ uint16, payload int) []byte {
	b = ne.AppendUint16(b, uint16(nlaHdrLen+payload))
	return ne.AppendUint16(b, typ)
}

// pad appends zero bytes up to a multiple of four.
func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// finish writes the message length into the header at start.
func finish(b []byte, start int) []byte {
	ne.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// Config is the configuration of a queue.
type Config struct {
	Queue    uint16
	CopyLen  uint32 // bytes of each packet copied to user space (max 65531)
	MaxLen   uint32 // packets the kernel holds for user space before dropping (or accepting, fail-open)
	Flags    uint32 // Flag* bits to set
	FlagMask uint32 // Flag* bits to change (set or clear)
}

// appendCmd appends a config message with a BIND or UNBIND command.
func appendCmd(b []byte, seq uint32, queue uint16, cmd uint8) []byte {
	start := len(b)
	b = appendHeader(b, msgConfig, nlmFRequest|nlmFAck, seq, queue)
	b = appendAttrHeader(b, cfgCmd, 4)
	b = append(b, cmd, 0, 0, 0) // command, pad, pf (unused since Linux 3.8)
	return finish(b, start)
}

// appendParams appends a config message setting copy mode and range.
func appendParams(b []byte, seq uint32, queue uint16, copyLen uint32) []byte {
	start := len(b)
	b = appendHeader(b, msgConfig, nlmFRequest|nlmFAck, seq, queue)
	b = appendAttrHeader(b, cfgParams, 5)
	b = be.AppendUint32(b, min(copyLen, maxCopyRange))
	b = append(b, copyModePkt)
	b = pad(b)
	return finish(b, start)
}

// appendMaxLen appends a config message setting the queue length.
func appendMaxLen(b []byte, seq uint32, queue uint16, n uint32) []byte {
	start := len(b)
	b = appendHeader(b, msgConfig, nlmFRequest|nlmFAck, seq, queue)
	b = appendAttrHeader(b, cfgQueueMax, 4)
	b = be.AppendUint32(b, n)
	return finish(b, start)
}

// appendFlags appends a config message setting flags under mask.
func appendFlags(b []byte, seq uint32, queue uint16, flags, mask uint32) []byte {
	start := len(b)
	b = appendHeader(b, msgConfig, nlmFRequest|nlmFAck, seq, queue)
	b = appendAttrHeader(b, cfgFlags, 4)
	b = be.AppendUint32(b, flags)
	b = appendAttrHeader(b, cfgMask, 4)
	b = be.AppendUint32(b, mask)
	return finish(b, start)
}
