package l7

import "bytes"

// TCP reassembly, one direction of one flow.
//
// The stream keeps, in a buffer of Config.MaxBuffer bytes drawn from the
// engine's pool, the bytes that arrived but were not consumed yet: first the
// contiguous, in-order bytes (the parser sees them), then out-of-order bytes
// at their place further on, between holes. Policy:
//
//   - First data wins: once a byte has been received for a sequence number,
//     later segments (retransmissions, overlaps) never change it, whether it
//     is still buffered or was consumed already. When the later bytes differ
//     from buffered ones the flow is noted (NoteConflictingOverlap).
//   - Nothing is buffered while the stream is in order and the parser
//     consumes whole segments: a segment is handed over in place and only
//     its unconsumed tail is copied into the buffer.
//   - Bounded: out-of-order data beyond MaxBuffer bytes past the first
//     unconsumed byte, or more than maxHoles separate runs of it, or an
//     unconsumed message longer than MaxBuffer, stops the direction
//     (NoteReassemblyLimit, NoteTooManyHoles).
//
// Sequence numbers compare modulo 2^32 (RFC 1982 serial arithmetic).

// maxHoles bounds the out-of-order runs kept beyond the contiguous bytes.
const maxHoles = 8

// span is a run [start, end) of buffered out-of-order bytes, as offsets in
// streamBuf.b.
type span struct{ start, end int32 }

// streamBuf is the pooled buffer of one direction.
type streamBuf struct {
	b     []byte // len(b) == Config.MaxBuffer
	n     int32  // contiguous bytes at the start of b
	runs  [maxHoles]span
	nruns int32
}

// end returns the offset just past the last buffered byte.
func (sb *streamBuf) end() int32 {
	if sb.nruns > 0 {
		return sb.runs[sb.nruns-1].end
	}
	return sb.n
}

// empty reports whether nothing is buffered.
func (sb *streamBuf) empty() bool { return sb.n == 0 && sb.nruns == 0 }

// stream flags.
const (
	stSeqKnown  uint8 = 1 << iota // next is meaningful
	stDelivered                   // some bytes were handed over
	stStopped                     // no more inspection in this direction
	stFin                         // FIN or RST seen
	stExhausted                   // detection: nothing can match this direction
	stSpoke                       // the direction sent payload
)

// stream is the reassembly state of one direction, kept inline in Flow.
type stream struct {
	buf   *streamBuf
	next  uint32 // sequence number just past the contiguous bytes received
	segs  uint16 // payload-carrying segments or datagrams seen (saturates)
	flags uint8
}

// pushResult says what a segment did to the stream.
type pushResult uint8

const (
	pushData     pushResult = iota // new contiguous bytes are ready
	pushNothing                    // an old or out-of-order segment: nothing new in order
	pushOverflow                   // the segment lies beyond the buffer limit
	pushHoles                      // too many out-of-order runs
)

// syn records the initial sequence number of the direction. A second SYN
// with another ISN replaces the first as long as no byte was delivered
// (servers that answer a retransmitted SYN with a new SYN-ACK).
func (s *stream) syn(seq uint32) {
	if s.flags&stDelivered != 0 && s.flags&stSeqKnown != 0 {
		return
	}
	if s.buf != nil && !s.buf.empty() {
		return
	}
	s.next = seq + 1
	s.flags |= stSeqKnown
}

// push adds the payload p of a segment starting at seq. With pushData, data
// is the contiguous bytes now ready for the consumer, starting at the first
// byte not yet consumed: either p itself (fromBuf false; nothing was
// buffered) or the start of the buffer. The caller must then call consumed.
// conflict reports buffered bytes that differed from the segment's.
func (s *stream) push(e *Engine, seq uint32, p []byte) (data []byte, fromBuf bool, res pushResult, conflict bool) {
	if s.flags&stSeqKnown == 0 {
		s.next = seq
		s.flags |= stSeqKnown
	} else if s.flags&stDelivered == 0 && (s.buf == nil || s.buf.empty()) {
		// Before the first byte: a segment outside the window we would
		// accept means the ISN we hold is wrong (a SYN with another ISN, a
		// capture started mid-flow). Take this segment's as the start.
		if d := int32(seq - s.next); d < 0 || int(d) >= e.cfg.MaxBuffer {
			s.next = seq
		}
	}
	d := int32(seq - s.next)
	if d < 0 {
		// Bytes before next were received already: they are kept (first
		// data wins), and compared with the new ones while still buffered.
		conflict = s.overlapsBuffered(seq, p)
		if int64(-d) >= int64(len(p)) {
			return nil, false, pushNothing, conflict
		}
		p = p[-d:]
		d = 0
	}
	if len(p) == 0 {
		return nil, false, pushNothing, false
	}
	if d == 0 && (s.buf == nil || s.buf.empty()) {
		s.next += uint32(len(p))
		s.flags |= stDelivered
		return p, false, pushData, conflict
	}
	sb := s.buf
	if sb == nil {
		sb = e.getBuf()
		s.buf = sb
	}
	off := int64(sb.n) + int64(d)
	if off+int64(len(p)) > int64(len(sb.b)) {
		return nil, false, pushOverflow, false
	}
	c, ok := sb.write(int32(off), p)
	conflict = conflict || c
	if !ok {
		return nil, false, pushHoles, conflict
	}
	oldN := sb.n
	sb.absorb()
	if sb.n == oldN {
		return nil, false, pushNothing, conflict
	}
	s.next += uint32(sb.n - oldN)
	s.flags |= stDelivered
	return sb.b[:sb.n], true, pushData, conflict
}

// overlapsBuffered reports whether the part of segment p (at seq) that lies
// before next differs from the contiguous bytes still buffered there.
func (s *stream) overlapsBuffered(seq uint32, p []byte) bool {
	if s.buf == nil || s.buf.n == 0 {
		return false
	}
	base := s.next - uint32(s.buf.n)
	skip := int64(int32(base - seq)) // bytes of p before the buffer
	if skip < 0 {
		skip = 0
	}
	if skip >= int64(len(p)) {
		return false
	}
	from := int64(int32(seq-base)) + skip // offset in the buffer
	old := s.buf.b[from:s.buf.n]
	q := p[skip:]
	n := min(len(old), len(q))
	return !bytes.Equal(old[:n], q[:n])
}

// write copies p to offset off, keeping bytes already buffered (first data
// wins), and records the run. ok is false when the run would exceed
// maxHoles.
func (sb *streamBuf) write(off int32, p []byte) (conflict, ok bool) {
	start, end := off, off+int32(len(p))
	// Count the runs the new one would leave to check the bound before
	// changing anything.
	merged := int32(0)
	for i := int32(0); i < sb.nruns; i++ {
		r := sb.runs[i]
		if r.end >= start && r.start <= end {
			merged++
		}
	}
	if start > sb.n && sb.nruns-merged+1 > maxHoles {
		return false, false
	}
	// Copy the parts of [start, end) that no earlier byte covers.
	pos := start
	cover := func(cs, ce int32) {
		if ce <= pos || cs >= end {
			return
		}
		if cs > pos {
			copy(sb.b[pos:cs], p[pos-off:cs-off])
		}
		lo, hi := max(cs, pos), min(ce, end)
		if !bytes.Equal(sb.b[lo:hi], p[lo-off:hi-off]) {
			conflict = true
		}
		pos = max(pos, hi)
	}
	cover(0, sb.n)
	for i := int32(0); i < sb.nruns; i++ {
		cover(sb.runs[i].start, sb.runs[i].end)
	}
	if pos < end {
		copy(sb.b[pos:end], p[pos-off:])
	}
	if end <= sb.n {
		return conflict, true
	}
	start = max(start, sb.n)
	// Insert [start, end) into the sorted runs, merging what it touches.
	var out [maxHoles + 1]span
	k := 0
	placed := false
	for i := int32(0); i < sb.nruns; i++ {
		r := sb.runs[i]
		switch {
		case r.end < start:
			out[k] = r
			k++
		case r.start > end:
			if !placed {
				out[k] = span{start, end}
				k++
				placed = true
			}
			out[k] = r
			k++
		default:
			start, end = min(start, r.start), max(end, r.end)
		}
	}
	if !placed {
		out[k] = span{start, end}
		k++
	}
	copy(sb.runs[:], out[:k])
	sb.nruns = int32(k)
	return conflict, true
}

// absorb moves a run that now touches the contiguous bytes into them.
func (sb *streamBuf) absorb() {
	for sb.nruns > 0 && sb.runs[0].start <= sb.n {
		sb.n = max(sb.n, sb.runs[0].end)
		copy(sb.runs[:], sb.runs[1:sb.nruns])
		sb.nruns--
	}
}

// consumed tells the stream that the consumer took c bytes of data (as
// returned by push). The unconsumed rest is kept. ok is false when the rest
// cannot be kept within the limit: the direction must stop.
func (s *stream) consumed(e *Engine, data []byte, fromBuf bool, c int) (ok bool) {
	if !fromBuf {
		rest := data[c:]
		if len(rest) == 0 {
			return true
		}
		if len(rest) > e.cfg.MaxBuffer {
			return false
		}
		sb := e.getBuf()
		s.buf = sb
		sb.n = int32(copy(sb.b, rest))
		return true
	}
	sb := s.buf
	if c > 0 {
		end := sb.end()
		copy(sb.b, sb.b[c:end])
		sb.n -= int32(c)
		for i := int32(0); i < sb.nruns; i++ {
			sb.runs[i].start -= int32(c)
			sb.runs[i].end -= int32(c)
		}
	}
	if sb.empty() {
		s.release(e)
		return true
	}
	// A full buffer the consumer cannot make progress on.
	return !(c == 0 && int(sb.n) == len(sb.b))
}

// pending returns the contiguous buffered bytes not consumed yet.
func (s *stream) pending() []byte {
	if s.buf == nil {
		return nil
	}
	return s.buf.b[:s.buf.n]
}

// hasGap reports whether out-of-order bytes wait behind a hole.
func (s *stream) hasGap() bool { return s.buf != nil && s.buf.nruns > 0 }

// release returns the buffer to the pool.
func (s *stream) release(e *Engine) {
	if s.buf != nil {
		e.putBuf(s.buf)
		s.buf = nil
	}
}
