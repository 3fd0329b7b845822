package dataplane

import (
	"errors"
	"time"

	"bulkhead.dev/bulkhead/dataplane/internal/nfq"
	"golang.org/x/sys/unix"
)

// queueConn is the reader's view of a bound queue socket (nfq.Conn; a fake
// in tests).
type queueConn interface {
	Recv() (int, error)
	Message(i int) ([]byte, bool)
	Send(b []byte) error
	Close() error
}

// action is how a verdict is told to the kernel.
type action struct {
	nf      uint32
	setMark bool
	mark    uint32
	ct      bool // also set the connmark through NFQA_CT
}

// reader reads one queue: it decodes each packet, asks the Decider and
// answers with verdicts, batching runs of equal verdicts.
type reader struct {
	queue      uint16
	conn       queueConn
	decider    Decider
	marks      Marks
	failV      Verdict // for packets that cannot be decoded
	ctVerdict  bool    // the kernel honours connmarks in verdicts
	clock      func() time.Time
	counters   *queueCounters
	dec        *decoder
	pkt        Packet
	msg        nfq.Msg
	out        []byte
	run        action
	runLast    uint32
	runN       int
	burstCount burstCounts
}

func newReader(queue uint16, conn queueConn, decider Decider, marks Marks, failOpen, ctVerdict bool, clock func() time.Time) *reader {
	fail := Drop
	if failOpen {
		fail = Accept
	}
	return &reader{
		queue: queue, conn: conn, decider: decider, marks: marks, failV: fail,
		ctVerdict: ctVerdict, clock: clock, counters: &queueCounters{},
		dec: newDecoder(), out: make([]byte, 0, 64*1024),
	}
}

// loop reads until the connection is closed. It returns nil when closed,
// or the first receive error that is not an overrun.
func (r *reader) loop() error {
	for {
		n, err := r.conn.Recv()
		switch {
		case errors.Is(err, nfq.ErrClosed):
			return nil
		case errors.Is(err, unix.ENOBUFS):
			// The kernel dropped messages (and counts them); carry on.
			r.counters.overruns.Add(1)
			continue
		case err != nil:
			r.counters.recvErrors.Add(1)
			return err
		}
		r.burst(n)
		if len(r.out) > 0 {
			if err := r.conn.Send(r.out); err != nil {
				r.counters.sendErrors.Add(1)
			}
		}
	}
}

// burst handles n received messages and leaves the verdicts in r.out.
func (r *reader) burst(n int) {
	r.out = r.out[:0]
	r.runN = 0
	r.burstCount = burstCounts{}
	bc := &r.burstCount
	now := r.clock()
	for i := 0; i < n; i++ {
		b, truncated := r.conn.Message(i)
		err := nfq.Parse(b, &r.msg)
		m := &r.msg
		switch {
		case m.Kind == nfq.KindError:
			bc.verdictErrors++
			continue
		case m.Kind != nfq.KindPacket:
			continue
		case err != nil || truncated:
			bc.badMessages++
			if !m.HasPktHd {
				continue // no id to answer; a later batch verdict covers it
			}
			bc.packets++
			r.add(m.ID, r.failV)
			continue
		}
		bc.packets++
		v := r.decide(now)
		r.add(m.ID, v)
	}
	r.flush()
	r.counters.add(bc)
}

// decide fills the Packet from the current message and asks the Decider.
func (r *reader) decide(now time.Time) (v Verdict) {
	m := &r.msg
	p := &r.pkt
	p.Queue, p.ID, p.Hook, p.Time = m.Queue, m.ID, Hook(m.Hook), now
	p.Len, p.OrigLen = len(m.Payload), len(m.Payload)
	if m.CapLen > uint32(len(m.Payload)) {
		p.OrigLen = int(m.CapLen)
	}
	p.GSO = m.SkbInfo&nfq.SkbGSO != 0
	p.InIf, p.OutIf, p.PhysIn, p.PhysOut = m.InDev, m.OutDev, m.PhysIn, m.PhysOut
	p.Mark = m.Mark
	if m.HasCT {
		p.Conn = r.marks.State(m.CTMark)
	} else {
		// BULKHEAD-QUEUE restored the connmark bits into the packet mark.
		p.Conn = r.marks.State(m.Mark)
	}
	if err := r.dec.decode(m.Payload, p); err != nil {
		r.burstCount.decodeErrors++
		return r.failV
	}
	defer func() {
		if recover() != nil {
			r.burstCount.deciderPanics++
			v = r.failV
		}
	}()
	v = r.decider.Decide(p)
	if v >= numVerdicts {
		v = r.failV
	}
	return v
}

// actionFor maps a verdict on the current message to a kernel verdict.
func (r *reader) actionFor(v Verdict) action {
	mark := func(val uint32) uint32 { return r.msg.Mark&^r.marks.Mask | val }
	switch v {
	case Accept:
		return action{nf: nfq.NFAccept}
	case Allow, Inspect, InspectAll:
		val := r.marks.Value(v)
		if r.ctVerdict {
			return action{nf: nfq.NFAccept, setMark: true, mark: mark(val), ct: true}
		}
		// Re-enter the chain with the mark set: BULKHEAD-VERDICT saves
		// it to the connmark and accepts.
		return action{nf: nfq.NFRepeat, setMark: true, mark: mark(val)}
	case Deny:
		// Always through the chain, so TCP gets REJECT's reset.
		return action{nf: nfq.NFRepeat, setMark: true, mark: mark(r.marks.Deny)}
	}
	return action{nf: nfq.NFDrop}
}

// add records verdict v for packet id, extending the current run of equal
// kernel verdicts or flushing it.
func (r *reader) add(id uint32, v Verdict) {
	bc := &r.burstCount
	bc.verdicts[v]++
	switch v {
	case Drop, Deny:
		bc.dropped++
	default:
		bc.accepted++
	}
	a := r.actionFor(v)
	if a.ct {
		r.flush()
		r.out = nfq.AppendVerdict(r.out, nfq.Verdict{Queue: r.queue, ID: id, Verdict: a.nf, SetMark: true, Mark: a.mark,
			SetCTMark: true, CTMark: a.mark & r.marks.Mask, CTMask: r.marks.Mask}, false)
		bc.verdictMsgs++
		return
	}
	if r.runN > 0 && a == r.run {
		r.runLast = id
		r.runN++
		return
	}
	r.flush()
	r.run, r.runLast, r.runN = a, id, 1
}

// flush encodes the pending run: one verdict for a single packet, one
// batch verdict (every queued id up to the last) for several. Packets are
// answered in the order received, so every earlier id has already been
// answered when a batch is sent.
func (r *reader) flush() {
	if r.runN == 0 {
		return
	}
	r.out = nfq.AppendVerdict(r.out, nfq.Verdict{Queue: r.queue, ID: r.runLast, Verdict: r.run.nf, SetMark: r.run.setMark, Mark: r.run.mark}, r.runN > 1)
	r.burstCount.verdictMsgs++
	r.runN = 0
}
