package l7

import "bytes"

// TCP reassembly, one direction of one flow.
//
// The stream keeps, in a buffer drawn from the engine's pools, the bytes
// that arrived but were not consumed yet: first the contiguous, in-order
// bytes (the parser sees them), then out-of-order bytes at their place
// further on, between holes. Policy:
//
//   - Where the stream starts. A SYN (or the caller, Flow.SetISN) gives the
//     initial sequence number: the stream starts just after it, for good.
//     A later SYN with another ISN changes nothing (the peer's TCP ignores
//     it too: RFC 5961 §4). Without a SYN, the first segment seen starts the
//     stream, tentatively; bytes that arrive later for sequence numbers
//     before that start are thrown away and noted (NoteOutOfWindow), and the
//     direction becomes suspect: the first segment may have been a fake the
//     receiver dropped, placed ahead of the real data.
//   - Out of the window. A segment that starts MaxBuffer bytes or more past
//     the first byte not received yet is thrown away and noted
//     (NoteOutOfWindow), and the direction becomes suspect: a receiver
//     drops such a segment when it lies beyond its window, and if it took
//     it, the bytes the engine parses next are not those it takes. A
//     suspect direction is still parsed, and Flow.Stopped reports it.
//   - First data wins: once a byte has been received for a sequence number,
//     later segments (retransmissions, overlaps) never change it, whether it
//     is still buffered or was consumed already. When the later bytes differ
//     from buffered ones the flow is noted (NoteConflictingOverlap).
//   - Nothing is buffered while the stream is in order and the parser
//     consumes whole segments: a segment is handed over in place and only
//     its unconsumed tail is copied into the buffer.
//   - Buffers grow as needed: a direction that must keep bytes takes a
//     MinBuffer buffer, then one twice as large each time it needs more room,
//     up to MaxBuffer; it gives the buffer back as soon as it is empty, and
//     moves to a smaller one when what it keeps fits in a quarter.
//   - Bounded: out-of-order data beyond MaxBuffer bytes past the first
//     unconsumed byte, or more than maxHoles separate runs of it, or an
//     unconsumed message longer than MaxBuffer, stops the direction
//     (NoteReassemblyLimit, NoteTooManyHoles); so does a buffer the engine's
//     MaxBufferTotal cannot grant (NoteBufferBudget).
//
// Sequence numbers compare modulo 2^32 (RFC 1982 serial arithmetic).

// maxHoles bounds the out-of-order runs kept beyond the contiguous bytes.
const maxHoles = 8

// span is a run [start, end) of buffered out-of-order bytes, as offsets in
// streamBuf.b.
type span struct{ start, end int32 }

// streamBuf is a pooled buffer of one direction.
type streamBuf struct {
	b     []byte // len(b) is the buffer's size class
	n     int32  // contiguous bytes at the start of b
	runs  [maxHoles]span
	nruns int32
	class uint8 // index into Engine.sizes
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
	stSeqKnown  uint8 = 1 << iota // start and next are meaningful
	stISN                         // start came from a SYN or the caller: it never moves
	stStopped                     // no more inspection in this direction
	stFin                         // FIN or RST seen
	stExhausted                   // detection: nothing can match this direction
	stSpoke                       // the direction sent payload
	stSuspect                     // a segment was thrown away as out of the window
)

// stream is the reassembly state of one direction, kept inline in Flow.
type stream struct {
	buf   *streamBuf
	start uint32 // sequence number of the stream's first byte
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
	pushBudget                     // the engine's MaxBufferTotal is spent
)

// syn records the initial sequence number of the direction: the stream
// starts at seq+1. The first SYN wins. A SYN that arrives after the data
// (a capture that reordered them) confirms the start the first segment set
// when it agrees with it, and changes nothing otherwise.
func (s *stream) syn(seq uint32) {
	switch {
	case s.flags&stSeqKnown == 0:
		s.start, s.next = seq+1, seq+1
		s.flags |= stSeqKnown | stISN
	case s.flags&stISN == 0 && seq+1 == s.start:
		s.flags |= stISN
	}
}

// push adds the payload p of a segment starting at seq. With pushData, data
// is the contiguous bytes now ready for the consumer, starting at the first
// byte not yet consumed: either p itself (fromBuf false; nothing was
// buffered) or the start of the buffer. The caller must then call consumed.
// notes are noteConflict (buffered bytes differed from the segment's) and
// noteWindow (bytes were thrown away as out of the window).
func (s *stream) push(e *Engine, seq uint32, p []byte) (data []byte, fromBuf bool, res pushResult, notes engineNote) {
	if s.flags&stSeqKnown == 0 {
		s.start, s.next = seq, seq
		s.flags |= stSeqKnown
	}
	d := int32(seq - s.next)
	switch {
	case d < 0:
		// Bytes before next were received already: they are kept (first
		// data wins), and compared with the new ones while still buffered.
		if s.beforeStart(seq) {
			notes |= noteWindow
		}
		if s.overlapsBuffered(seq, p) {
			notes |= noteConflict
		}
		if int64(-d) >= int64(len(p)) {
			return nil, false, pushNothing, notes
		}
		p, d = p[-d:], 0
	case int64(d) >= int64(e.cfg.MaxBuffer):
		return nil, false, pushNothing, noteWindow
	}
	if len(p) == 0 {
		return nil, false, pushNothing, notes
	}
	if d == 0 && (s.buf == nil || s.buf.empty()) {
		s.next += uint32(len(p))
		return p, false, pushData, notes
	}
	var n int32
	if s.buf != nil {
		n = s.buf.n
	}
	end := int64(n) + int64(d) + int64(len(p))
	if end > int64(e.cfg.MaxBuffer) {
		return nil, false, pushOverflow, notes
	}
	if !s.reserve(e, int(end)) {
		return nil, false, pushBudget, notes
	}
	sb := s.buf
	c, ok := sb.write(n+d, p)
	if c {
		notes |= noteConflict
	}
	if !ok {
		return nil, false, pushHoles, notes
	}
	oldN := sb.n
	sb.absorb()
	if sb.n == oldN {
		return nil, false, pushNothing, notes
	}
	s.next += uint32(sb.n - oldN)
	return sb.b[:sb.n], true, pushData, notes
}

// beforeStart reports whether seq lies before the first byte of a stream
// whose start no SYN gave (a tentative start). Once a GiB has been received
// the start is no longer checked (serial arithmetic spans 2 GiB).
func (s *stream) beforeStart(seq uint32) bool {
	return s.flags&stISN == 0 && s.next-s.start < 1<<30 && int32(seq-s.start) < 0
}

// reserve makes sure the stream has a buffer of at least size bytes
// (size ≤ MaxBuffer), moving what it keeps to a larger one when needed.
// It is false when the engine's MaxBufferTotal does not allow it.
func (s *stream) reserve(e *Engine, size int) bool {
	old := s.buf
	if old != nil && size <= len(old.b) {
		return true
	}
	exchange := 0
	if old != nil {
		exchange = len(old.b)
	}
	sb := e.getBuf(size, exchange)
	if sb == nil {
		return false
	}
	s.moveTo(e, sb)
	return true
}

// shrink moves what the buffer keeps to a smaller one when it fits in a
// quarter of it, so that a flow that once needed a large buffer does not
// keep it.
func (s *stream) shrink(e *Engine) {
	sb := s.buf
	if end := int(sb.end()); sb.class > 0 && end <= len(sb.b)/4 {
		s.moveTo(e, e.getBuf(end, len(sb.b))) // smaller: always granted
	}
}

// moveTo copies what the stream keeps into sb, obtained from getBuf in
// exchange for the current buffer, which goes back to its pool.
func (s *stream) moveTo(e *Engine, sb *streamBuf) {
	if old := s.buf; old != nil {
		copy(sb.b, old.b[:old.end()])
		sb.n, sb.runs, sb.nruns = old.n, old.runs, old.nruns
		e.putBuf(old, false)
	}
	s.buf = sb
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
// returned by push). The unconsumed rest is kept: the result is pushData
// when it was, pushOverflow when it cannot be kept within MaxBuffer and
// pushBudget when the engine's MaxBufferTotal does not allow it (either way
// the direction must stop).
func (s *stream) consumed(e *Engine, data []byte, fromBuf bool, c int) pushResult {
	if !fromBuf {
		rest := data[c:]
		if len(rest) == 0 {
			return pushData
		}
		if len(rest) > e.cfg.MaxBuffer {
			return pushOverflow
		}
		if !s.reserve(e, len(rest)) {
			return pushBudget
		}
		s.buf.n = int32(copy(s.buf.b, rest))
		return pushData
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
		return pushData
	}
	if c == 0 && int(sb.n) >= e.cfg.MaxBuffer {
		return pushOverflow // a full buffer the consumer cannot make progress on
	}
	s.shrink(e)
	return pushData
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
		e.putBuf(s.buf, true)
		s.buf = nil
	}
}
