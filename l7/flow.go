package l7

// State is how far detection has come for a flow.
type State uint8

const (
	// StateDetecting: no protocol decided yet; more bytes may decide.
	StateDetecting State = iota
	// StateDetected: App is known and its parser sees the flow.
	StateDetected
	// StateUnknown: no protocol matched; final (the app is Unknown).
	StateUnknown
)

func (s State) String() string {
	switch s {
	case StateDetected:
		return "detected"
	case StateUnknown:
		return "unknown"
	}
	return "detecting"
}

// Orientation says how sure the caller is of which side is the client.
type Orientation uint8

const (
	// OrientationKnown: the caller knows the client (it saw the SYN, or the
	// kernel's connection tracking says so). The engine never swaps sides.
	OrientationKnown Orientation = iota
	// OrientationGuessed: the caller guessed (a capture without the
	// handshake). When the first bytes that decide the protocol match only
	// with the sides swapped (an HTTP response from the "client"), the
	// engine swaps them and Flipped reports it.
	OrientationGuessed
)

// TCPFlags are the TCP header flags the engine looks at, with their wire
// values.
type TCPFlags uint8

const (
	FIN TCPFlags = 0x01
	SYN TCPFlags = 0x02
	RST TCPFlags = 0x04
	ACK TCPFlags = 0x10
)

// flow flags.
const (
	flInit       uint8 = 1 << iota // Init was called
	flGuess                        // orientation guessed
	flFlip                         // sides swapped by detection
	flOriented                     // orientation settled (no more swapping)
	flFirstSet                     // a side has sent payload
	flFirstSide1                   // the first payload came from caller side 1
)

// Flow is the engine's state for one flow (a TCP connection or a UDP
// conversation). It is designed to sit inline in the caller's flow table
// entry: 152 bytes on amd64 when idle, with reassembly buffers and
// parsers drawn from the engine's pools only while needed and given back by
// Release (and as soon as a direction needs no buffer).
//
// A Flow is not safe for concurrent use: one goroutine at a time feeds it
// (the agent serialises the packets of a flow). Different flows may be fed
// from different goroutines.
//
// Directions: the dir arguments are in the caller's orientation (FromClient
// is the side the caller believes opened the flow). With OrientationGuessed
// the engine may decide the sides are the other way round (Flipped); the
// Requests and Responses it reports are then those of the real client and
// server, and the caller should swap its own notion of the two sides.
type Flow struct {
	eng    *Engine
	cand   *candidate
	parser Parser
	sink   Sink // the caller's sink, set only during a call
	st     [2]stream
	ruled  [2][2]uint64 // [caller side][hypothesis: 0 as oriented, 1 swapped]
	ports  [2]uint16    // [caller side]
	reqs   uint32
	resps  uint32
	app    App
	state  State
	tr     uint8 // index into Engine.cands
	flags  uint8
	notes  engineNote
}

// Init prepares f for a new flow of transport t between clientPort and
// serverPort (the caller's orientation). It must be called before feeding;
// a Flow is reused by calling Release then Init.
func (f *Flow) Init(e *Engine, t Transport, clientPort, serverPort uint16, o Orientation) {
	f.Release()
	i := transportIndex(t)
	if i < 0 {
		i = 1
	}
	*f = Flow{eng: e, tr: uint8(i), ports: [2]uint16{clientPort, serverPort}, flags: flInit}
	if o == OrientationGuessed {
		f.flags |= flGuess
	}
}

// Release gives the flow's buffers and parser back to the engine's pools.
// It is safe to call twice and on a zero Flow. Afterwards f reports its last
// App and State but takes no more bytes until Init. The agent calls it when
// it stops inspecting a flow or evicts it; analyze after Summary.
func (f *Flow) Release() {
	if f.eng == nil {
		return
	}
	f.stopBoth()
	if f.parser != nil {
		f.eng.freeParser(f.cand, f.parser)
		f.parser = nil
	}
	f.sink = nil
	f.flags &^= flInit
}

// App returns the detected app: Unknown while detecting or when nothing
// matched.
func (f *Flow) App() App { return f.app }

// State returns how far detection has come.
func (f *Flow) State() State { return f.state }

// Requests returns how many requests the parser has reported so far (0:
// the first request has not been seen yet).
func (f *Flow) Requests() int { return int(f.reqs) }

// Responses returns how many responses the parser has reported so far.
func (f *Flow) Responses() int { return int(f.resps) }

// Flipped reports whether the engine swapped the caller's sides (only with
// OrientationGuessed).
func (f *Flow) Flipped() bool { return f.flags&flFlip != 0 }

// Done reports whether nothing more will be learnt from this flow: nothing
// matched, or the parser stopped in both directions (it needs no more bytes,
// the bytes broke the protocol, or a limit was reached). The agent may then
// Release the flow and let the kernel carry the rest.
func (f *Flow) Done() bool {
	if f.state == StateUnknown {
		return true
	}
	return f.st[0].flags&stStopped != 0 && f.st[1].flags&stStopped != 0
}

// Stopped reports whether the engine no longer vouches for direction dir
// (the caller's orientation, as for TCP and UDP): what that side sends may
// go unparsed, so requests (client side) or responses (server side) may be
// missed. The caller that enforces a policy must then not rely on the
// requests it is told about (the agent fails closed).
//
// A direction stops for good when its bytes broke the protocol (the
// parser's error is a note), a reassembly limit or the engine's buffer
// budget was reached (a note), the parser needs no more bytes (ErrDone: a
// TLS ClientHello seen, or a switch to bytes it cannot read, such as
// STARTTLS or an SSLRequest, which the parser notes when it sees it),
// detection gave up on both sides (StateUnknown), or the flow was
// released. While the protocol is still undecided, a direction that
// detection gave up on (nothing it sent matched, or its detection budget is
// spent) is stopped too: its bytes are parsed only if the other side's
// bytes decide the protocol later, and then Stopped reports false again.
//
// A TCP direction that had a segment thrown away as out of the window
// (NoteOutOfWindow) is suspect: Stopped reports true from then on, although
// the engine goes on parsing it and reporting what it finds.
//
// Notes that leave parsing going (NoteConflictingOverlap, NoteGap, a
// parser's informational notes) do not stop a direction. A zero Flow has
// not stopped.
func (f *Flow) Stopped(dir Dir) bool {
	fl := f.st[dir&1].flags
	return fl&(stStopped|stSuspect) != 0 || f.state == StateDetecting && fl&stExhausted != 0
}

// Summary returns the parser's Summary (analyze's per-protocol JSON), nil
// when no protocol was detected. Call it before Release.
func (f *Flow) Summary() any {
	if f.parser == nil {
		return nil
	}
	return f.parser.Summary()
}

// Finish tells the engine the flow has ended: it reports, through sink,
// what is still pending (NoteGap when bytes are missing in a direction).
// Call it before Summary; the flow keeps its results.
func (f *Flow) Finish(sink Sink) {
	if f.flags&flInit == 0 {
		return
	}
	f.sink = sink
	for i := range f.st {
		if f.st[i].flags&stStopped == 0 && f.st[i].hasGap() {
			f.note(noteGap)
		}
	}
	f.sink = nil
}

// SetISN tells the engine the initial sequence number that side dir chose
// (the sequence number of its SYN), for a caller that saw the handshake but
// starts feeding the flow later. It has the effect of feeding that SYN: the
// direction's stream starts at isn+1 and never moves (segments far from it
// are thrown away, see NoteOutOfWindow). Call it before the direction's
// first segment; a call after it, or after the direction's SYN, changes
// nothing (except that it confirms a start that the first segment set, when
// it agrees with it).
func (f *Flow) SetISN(dir Dir, isn uint32) {
	if f.flags&flInit == 0 {
		return
	}
	f.st[dir&1].syn(isn)
}

// TCP feeds one TCP segment sent by side dir (caller's orientation): its
// sequence number, flags and payload. Requests and responses completed by
// it are reported to sink (which may be nil) before TCP returns. The
// payload is not retained after the call (unconsumed bytes are copied).
func (f *Flow) TCP(dir Dir, seq uint32, flags TCPFlags, payload []byte, sink Sink) {
	if f.flags&flInit == 0 {
		return
	}
	side := int(dir & 1)
	s := &f.st[side]
	if flags&SYN != 0 {
		s.syn(seq)
		seq++
	}
	if len(payload) > 0 && s.flags&stStopped == 0 && f.state != StateUnknown {
		f.sink = sink
		f.tcpData(side, seq, payload)
		f.sink = nil
	}
	if flags&(FIN|RST) != 0 {
		s.flags |= stFin
		if flags&RST != 0 {
			f.st[side^1].flags |= stFin
		}
		f.checkUnknown()
	}
}

func (f *Flow) tcpData(side int, seq uint32, payload []byte) {
	s := &f.st[side]
	f.spoke(side)
	if s.segs < 0xffff {
		s.segs++
	}
	data, fromBuf, res, notes := s.push(f.eng, seq, payload)
	if notes&noteConflict != 0 {
		f.note(noteConflict)
	}
	if notes&noteWindow != 0 {
		f.note(noteWindow)
		s.flags |= stSuspect
	}
	if f.limitStop(side, res) || res == pushNothing {
		return
	}
	if f.state == StateDetected {
		f.parseTCP(side, data, fromBuf)
		return
	}
	cfg := &f.eng.cfg
	if s.flags&stExhausted == 0 && f.detect(side, data) {
		// Parse what each side has sent, the client's bytes first.
		other := side ^ 1
		if f.dirOf(side) == FromServer {
			f.parsePending(other)
			f.parseTCP(side, data, fromBuf)
			return
		}
		f.parseTCP(side, data, fromBuf)
		f.parsePending(other)
		return
	}
	// Not decided: keep the bytes for the parser that the other side's
	// bytes may still choose, within the detection budget.
	if s.flags&stExhausted == 0 && (len(data) >= cfg.MaxDetectBytes || int(s.segs) >= cfg.MaxDetectSegments) {
		f.note(noteBudget)
		s.flags |= stExhausted
	}
	if len(data) > cfg.MaxDetectBytes {
		f.quiet(side)
	} else if r := s.consumed(f.eng, data, fromBuf, 0); r != pushData {
		if r == pushBudget {
			f.note(noteBudgetMem)
		}
		f.quiet(side)
	}
	f.checkUnknown()
}

// UDP feeds one UDP datagram sent by side dir (caller's orientation).
func (f *Flow) UDP(dir Dir, payload []byte, sink Sink) {
	if f.flags&flInit == 0 || f.state == StateUnknown {
		return
	}
	side := int(dir & 1)
	s := &f.st[side]
	if s.flags&stStopped != 0 {
		return
	}
	f.spoke(side)
	if s.segs < 0xffff {
		s.segs++
	}
	f.sink = sink
	defer func() { f.sink = nil }()
	if f.state == StateDetecting {
		if s.flags&stExhausted != 0 {
			f.checkUnknown()
			return
		}
		if !f.detect(side, payload) {
			if int(s.segs) >= f.eng.cfg.MaxDetectDatagrams {
				s.flags |= stExhausted
			}
			f.checkUnknown()
			return
		}
	}
	if _, err := f.parser.Parse(f.dirOf(side), payload, (*flowSink)(f)); err != nil {
		f.parserStopped(side, err)
	}
}

// spoke records that side sent payload (and whether it spoke first).
func (f *Flow) spoke(side int) {
	f.st[side].flags |= stSpoke
	if f.flags&flFirstSet == 0 {
		f.flags |= flFirstSet
		if side == 1 {
			f.flags |= flFirstSide1
		}
	}
}

// dirOf maps a caller side to the protocol direction.
func (f *Flow) dirOf(side int) Dir {
	if f.flags&flFlip != 0 {
		return Dir(side ^ 1)
	}
	return Dir(side)
}

// parseTCP hands data (from push or pending) to the parser until it stops
// consuming, then keeps the rest.
func (f *Flow) parseTCP(side int, data []byte, fromBuf bool) {
	s := &f.st[side]
	dir := f.dirOf(side)
	total := 0
	for total < len(data) {
		n, err := f.parser.Parse(dir, data[total:], (*flowSink)(f))
		n = max(0, min(n, len(data)-total))
		total += n
		if err != nil {
			f.parserStopped(side, err)
			return
		}
		if n == 0 {
			break
		}
	}
	f.limitStop(side, s.consumed(f.eng, data, fromBuf, total))
}

// limitStop stops side, with the note that says why, when r reports a
// reassembly limit (pushOverflow, pushHoles, pushBudget), and reports
// whether it did.
func (f *Flow) limitStop(side int, r pushResult) bool {
	var n engineNote
	switch r {
	case pushOverflow:
		n = noteLimit
	case pushHoles:
		n = noteHoles
	case pushBudget:
		n = noteBudgetMem
	default:
		return false
	}
	f.note(n)
	f.stop(side)
	return true
}

// parsePending hands a side's buffered bytes to the parser just chosen.
func (f *Flow) parsePending(side int) {
	if p := f.st[side].pending(); len(p) > 0 && f.st[side].flags&stStopped == 0 {
		f.parseTCP(side, p, true)
	}
}

// parserStopped stops side after the parser returned err.
func (f *Flow) parserStopped(side int, err error) {
	if err != ErrDone && f.sink != nil {
		f.sink.Note(err.Error())
	}
	f.stop(side)
}

// quiet ends inspection of a direction that detection gave up on: its
// bytes are dropped, without a note.
func (f *Flow) quiet(side int) {
	f.st[side].flags |= stStopped | stExhausted
	f.st[side].release(f.eng)
}

// stop ends inspection of one direction and frees its buffer.
func (f *Flow) stop(side int) {
	f.st[side].flags |= stStopped
	f.st[side].release(f.eng)
	if f.state == StateDetecting {
		f.st[side].flags |= stExhausted
		f.checkUnknown()
	}
}

// checkUnknown ends detection when neither side can decide it any more:
// the flow is then Unknown, for good.
func (f *Flow) checkUnknown() {
	if f.state != StateDetecting {
		return
	}
	for i := range f.st {
		if s := &f.st[i]; s.flags&stExhausted == 0 && !(s.flags&stFin != 0 && s.flags&stSpoke == 0) {
			return
		}
	}
	f.state = StateUnknown
	f.stopBoth()
}

// stopBoth ends inspection of both directions and frees their buffers.
func (f *Flow) stopBoth() {
	for i := range f.st {
		f.st[i].release(f.eng)
		f.st[i].flags |= stStopped
	}
}

// note reports an engine note once per flow.
func (f *Flow) note(n engineNote) {
	if f.notes&n != 0 {
		return
	}
	f.notes |= n
	if f.sink != nil {
		f.sink.Note(n.text())
	}
}

// flowSink is the Sink handed to parsers: it counts, fills App, follows
// refinements, and forwards to the caller's sink.
type flowSink Flow

func (s *flowSink) Request(r *Request) {
	f := (*Flow)(s)
	f.reqs++
	f.adopt(&r.App)
	if f.sink != nil {
		f.sink.Request(r)
	}
}

func (s *flowSink) Response(r *Response) {
	f := (*Flow)(s)
	f.resps++
	f.adopt(&r.App)
	if f.sink != nil {
		f.sink.Response(r)
	}
}

func (s *flowSink) Note(n string) {
	if s.sink != nil {
		s.sink.Note(n)
	}
}

// adopt fills an Unknown app with the flow's, and takes a refinement of the
// flow's app (HTTP → HTTP2 → GRPC) as the flow's new app.
func (f *Flow) adopt(a *App) {
	switch {
	case *a == Unknown:
		*a = f.app
	case refines(f.app, *a):
		f.app = *a
	}
}

// refines reports whether app to is a more specific view of from.
func refines(from, to App) bool {
	switch from {
	case HTTP:
		return to == HTTP2 || to == GRPC
	case HTTP2:
		return to == GRPC
	}
	return false
}
