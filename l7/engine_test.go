package l7

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Engine tests over fake protocols, so that reassembly and detection are
// tested apart from real parsers.

// lineParser reports each complete line as a request whose Command is the
// line; "QUIT" makes it return ErrDone, "BAD" an error.
type lineParser struct{ app App }

func (p *lineParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	total := 0
	for {
		i := bytes.IndexByte(data[total:], '\n')
		if i < 0 {
			return total, nil
		}
		line := data[total : total+i]
		total += i + 1
		switch string(line) {
		case "QUIT":
			return total, ErrDone
		case "BAD":
			return total, errors.New("line: bad line")
		}
		if dir == FromClient {
			sink.Request(&Request{App: p.app, Command: string(line)})
		} else {
			sink.Response(&Response{App: p.app, Status: len(line)})
		}
	}
}

func (p *lineParser) Summary() any { return nil }

// prefixProto is a fake protocol whose Detect matches data starting with
// prefix in direction dir (NeedMore on a shorter prefix of it).
func prefixProto(app App, dir Dir, prefix string, ports ...uint16) *Protocol {
	return &Protocol{
		App: app, Transport: TCP, Ports: ports,
		Detect: func(d Dir, data []byte) Match {
			if d != dir {
				return NoMatch
			}
			return appDetectPrefix(data, prefix)
		},
		New: func(*ParserConfig) Parser { return &lineParser{app: app} },
	}
}

// serverFirst marks p as a server-speaks-first protocol.
func serverFirst(p *Protocol) *Protocol {
	p.ServerFirst = true
	return p
}

func fakeEngine(t testing.TB, cfg Config, protos ...*Protocol) *Engine {
	t.Helper()
	e, err := NewEngineFor(cfg, protos)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// lineEngine has one protocol (Redis in name) matching client lines that
// start with "L".
func lineEngine(t testing.TB, maxBuf int) *Engine {
	return fakeEngine(t, Config{MaxBuffer: maxBuf}, prefixProto(Redis, FromClient, "L"))
}

func TestReassembly(t *testing.T) {
	long := "L" + strings.Repeat("x", 100) + "\n"
	var keepAlive []seg
	var keepAliveWant []string
	for i := 0; i < 40; i++ { // 40 × 10 bytes through a 64-byte buffer
		line := "L" + strings.Repeat(string(rune('a'+i%26)), 8)
		keepAlive = append(keepAlive, cseg(line[:4]), cseg(line[4:]+"\n"))
		keepAliveWant = append(keepAliveWant, `req redis Command="`+line+`"`)
	}
	var manyHoles []seg
	for i := 0; i < maxHoles+1; i++ {
		manyHoles = append(manyHoles, at(FromClient, uint32(4+4*i), "L"))
	}
	tests := []struct {
		name   string
		maxBuf int
		noSYN  bool
		segs   []seg
		want   []string
	}{{
		name: "in order",
		segs: []seg{cseg("L1\n"), cseg("L2\nL3\n")},
		want: []string{`req redis Command="L1"`, `req redis Command="L2"`, `req redis Command="L3"`},
	}, {
		name: "byte by byte",
		segs: []seg{cseg("L"), cseg("1"), cseg("\n"), cseg("L"), cseg("2"), cseg("\n")},
		want: []string{`req redis Command="L1"`, `req redis Command="L2"`},
	}, {
		name: "out of order",
		segs: []seg{at(FromClient, 6, "L3\n"), at(FromClient, 3, "L2\n"), at(FromClient, 0, "L1\n")},
		want: []string{`req redis Command="L1"`, `req redis Command="L2"`, `req redis Command="L3"`},
	}, {
		name: "identical retransmission",
		segs: []seg{at(FromClient, 0, "L1\n"), at(FromClient, 0, "L1\n"), at(FromClient, 3, "L2\n"), at(FromClient, 1, "1\nL2\n")},
		want: []string{`req redis Command="L1"`, `req redis Command="L2"`},
	}, {
		name: "conflicting overlap with buffered bytes: first data wins",
		segs: []seg{at(FromClient, 4, "22\n"), at(FromClient, 0, "L1\nL99\n")},
		want: []string{
			"note " + NoteConflictingOverlap,
			`req redis Command="L1"`, `req redis Command="L22"`,
		},
	}, {
		name: "conflicting overlap inside a partial message: first data wins",
		segs: []seg{at(FromClient, 0, "L12"), at(FromClient, 1, "XY\n")},
		want: []string{"note " + NoteConflictingOverlap, `req redis Command="L12"`},
	}, {
		name: "retransmission of consumed bytes with other content is ignored",
		segs: []seg{cseg("L1\n"), at(FromClient, 0, "LZ\n"), cseg("L2\n")},
		want: []string{`req redis Command="L1"`, `req redis Command="L2"`},
	}, {
		name:   "message larger than the limit",
		maxBuf: 64,
		segs:   []seg{cseg(long[:50]), cseg(long[50:]), cseg("L2\n")},
		want:   []string{"note " + NoteReassemblyLimit},
	}, {
		name:   "message larger than the limit in one segment",
		maxBuf: 64,
		segs:   []seg{cseg("L1\n" + long[:80])},
		want:   []string{`req redis Command="L1"`, "note " + NoteReassemblyLimit},
	}, {
		name:   "out-of-order data beyond the limit",
		maxBuf: 64,
		segs:   []seg{cseg("L1\n"), at(FromClient, 40, "L9"+strings.Repeat("x", 30)+"\n"), at(FromClient, 3, "L2\n")},
		want:   []string{`req redis Command="L1"`, "note " + NoteReassemblyLimit},
	}, {
		name:   "a segment MaxBuffer or more ahead is thrown away; the stream goes on",
		maxBuf: 64,
		segs:   []seg{cseg("L1\n"), at(FromClient, 200, "L9\n"), at(FromClient, 3, "L2\n")},
		want:   []string{`req redis Command="L1"`, "note " + NoteOutOfWindow, `req redis Command="L2"`},
	}, {
		name: "too many holes",
		segs: append([]seg{cseg("L1\n")}, manyHoles...),
		want: []string{`req redis Command="L1"`, "note " + NoteTooManyHoles},
	}, {
		name:   "keep-alive: consumed bytes free the buffer",
		maxBuf: 64,
		segs:   keepAlive,
		want:   keepAliveWant,
	}, {
		name: "gap never filled",
		segs: []seg{cseg("L1\n"), at(FromClient, 10, "L3\n")},
		want: []string{`req redis Command="L1"`, "note " + NoteGap},
	}, {
		name: "parser done",
		segs: []seg{cseg("L1\nQUIT\nL2\n"), cseg("L3\n")},
		want: []string{`req redis Command="L1"`},
	}, {
		name: "parser error",
		segs: []seg{cseg("L1\nBAD\nL2\n")},
		want: []string{`req redis Command="L1"`, "note line: bad line"},
	}, {
		name:  "no handshake: starts at the first segment seen",
		noSYN: true,
		segs:  []seg{at(FromClient, 100, "L1\n"), at(FromClient, 103, "L2\n")},
		want:  []string{`req redis Command="L1"`, `req redis Command="L2"`},
	}, {
		name:  "no handshake: bytes before the first segment seen are thrown away and noted",
		noSYN: true,
		segs:  []seg{at(FromClient, 100, "L1\n"), at(FromClient, 90, "L0\n"), at(FromClient, 103, "L2\n")},
		want:  []string{`req redis Command="L1"`, "note " + NoteOutOfWindow, `req redis Command="L2"`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, f := runTCP(t, lineEngine(t, tc.maxBuf), 1, tc.noSYN, tc.segs...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			f.Release()
			f.Release() // twice is fine
		})
	}
}

// TestSequenceWrap feeds a stream across the 2^32 wrap of sequence numbers.
func TestSequenceWrap(t *testing.T) {
	e := lineEngine(t, 0)
	sink := &textSink{}
	var f Flow
	f.Init(e, TCP, 40000, 1, OrientationKnown)
	f.TCP(FromClient, 0xfffffffa, SYN, nil, sink)
	f.TCP(FromClient, 0xfffffffb+3, ACK, []byte("L2\n"), sink) // out of order, seq wraps after it
	f.TCP(FromClient, 0xfffffffb, ACK, []byte("L1\n"), sink)
	f.TCP(FromClient, 1, ACK, []byte("L3\n"), sink) // 0xfffffffb+6 wraps to 1
	want := []string{`req redis Command="L1"`, `req redis Command="L2"`, `req redis Command="L3"`}
	if diff := cmp.Diff(want, sink.lines); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestSecondSYNACK: the first SYN of a direction gives its start for good.
// A server's second SYN-ACK with another ISN is ignored, as the client's TCP
// ignores it once the first one arrived (RFC 5961 §4): data at the second
// ISN is thrown away as out of the window (and the direction is suspect),
// data at the first is parsed.
func TestSecondSYNACK(t *testing.T) {
	e := fakeEngine(t, Config{}, prefixProto(Redis, FromClient, "L"), prefixProto(SSH, FromServer, "S"))
	sink := &textSink{}
	var f Flow
	f.Init(e, TCP, 40000, 1, OrientationKnown)
	f.TCP(FromClient, 100, SYN, nil, sink)
	f.TCP(FromServer, 5000, SYN|ACK, nil, sink)
	f.TCP(FromServer, 900000, SYN|ACK, nil, sink)
	f.TCP(FromServer, 900001, ACK, []byte("S1\n"), sink)
	f.TCP(FromServer, 5001, ACK, []byte("S2\n"), sink)
	want := []string{"note " + NoteOutOfWindow, `resp ssh Status=2`}
	if diff := cmp.Diff(want, sink.lines); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if !f.Stopped(FromServer) || f.Stopped(FromClient) {
		t.Errorf("Stopped: client %v server %v, want false true", f.Stopped(FromClient), f.Stopped(FromServer))
	}
}

func TestDetection(t *testing.T) {
	protos := []*Protocol{
		prefixProto(Redis, FromClient, "AB:"),
		prefixProto(Kafka, FromClient, "AB:", 9000),
		prefixProto(MySQL, FromClient, "XY"+strings.Repeat("Y", 40)),
		prefixProto(SSH, FromServer, "S-"),
		prefixProto(SMTP, FromClient, "HELO"),
		serverFirst(prefixProto(POP3, FromServer, "+OK")),
	}
	tests := []struct {
		name   string
		port   uint16
		noSYN  bool
		segs   []seg
		want   []string
		app    App
		state  State
		flip   bool
		budget int
	}{{
		name:  "first in registry order without a port",
		port:  1,
		segs:  []seg{cseg("AB:x\n")},
		want:  []string{`req redis Command="AB:x"`},
		app:   Redis,
		state: StateDetected,
	}, {
		name:  "port breaks the tie",
		port:  9000,
		segs:  []seg{cseg("AB:x\n")},
		want:  []string{`req kafka Command="AB:x"`},
		app:   Kafka,
		state: StateDetected,
	}, {
		name:  "port alone decides nothing",
		port:  9000,
		segs:  []seg{cseg("zz\n"), sseg("yy\n")},
		app:   Unknown,
		state: StateUnknown,
	}, {
		name:  "need more across segments",
		port:  1,
		segs:  []seg{cseg("A"), cseg("B"), cseg(":y\n")},
		want:  []string{`req redis Command="AB:y"`},
		app:   Redis,
		state: StateDetected,
	}, {
		name:  "still detecting",
		port:  1,
		segs:  []seg{cseg("A")},
		app:   Unknown,
		state: StateDetecting,
	}, {
		name:  "server speaks first; client bytes sent meanwhile are parsed",
		port:  1,
		segs:  []seg{sseg("S-banner\n"), cseg("hello\n")},
		want:  []string{`resp ssh Status=8`, `req ssh Command="hello"`},
		app:   SSH,
		state: StateDetected,
	}, {
		name:  "guessed orientation swapped by the first bytes",
		port:  1,
		noSYN: true,
		segs:  []seg{cseg("S-banner\n"), sseg("hi\n")},
		want:  []string{`resp ssh Status=8`, `req ssh Command="hi"`},
		app:   SSH,
		state: StateDetected,
		flip:  true,
	}, {
		name:  "known orientation is never swapped",
		port:  1,
		segs:  []seg{cseg("S-banner\n"), sseg("hi\n")},
		app:   Unknown,
		state: StateUnknown,
	}, {
		name:  "an unknown first speaker leaves the other side a chance",
		port:  1,
		segs:  []seg{sseg("\x00\x00\x00\x04settings"), cseg("AB:x\n")},
		want:  []string{`req redis Command="AB:x"`},
		app:   Redis,
		state: StateDetected,
	}, {
		name:  "a server-first protocol greets first",
		port:  1,
		segs:  []seg{sseg("+OK ready\n"), cseg("USER x\n")},
		want:  []string{`resp pop3 Status=9`, `req pop3 Command="USER x"`},
		app:   POP3,
		state: StateDetected,
	}, {
		name:  "a server-first protocol does not answer a client that spoke first",
		port:  1,
		segs:  []seg{cseg("zz\n"), sseg("+OK\n")},
		app:   Unknown,
		state: StateUnknown,
	}, {
		name:  "unknown client, server silent: still detecting",
		port:  1,
		segs:  []seg{cseg("zz\n")},
		app:   Unknown,
		state: StateDetecting,
	}, {
		name:  "unknown client, server closes: unknown",
		port:  1,
		segs:  []seg{cseg("zz\n"), {dir: FromServer, off: auto, flags: FIN}},
		app:   Unknown,
		state: StateUnknown,
	}, {
		name:   "detection budget",
		port:   1,
		budget: 16,
		segs:   []seg{cseg("XY"), cseg(strings.Repeat("Y", 20)), {dir: FromServer, off: auto, flags: FIN}},
		want:   []string{"note " + NoteDetectionBudget},
		app:    Unknown,
		state:  StateUnknown,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := fakeEngine(t, Config{MaxDetectBytes: tc.budget}, protos...)
			got, f := runTCP(t, e, tc.port, tc.noSYN, tc.segs...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if f.App() != tc.app || f.State() != tc.state || f.Flipped() != tc.flip {
				t.Errorf("app %v state %v flipped %v, want %v %v %v", f.App(), f.State(), f.Flipped(), tc.app, tc.state, tc.flip)
			}
		})
	}
}

func TestDetectionSegmentBudget(t *testing.T) {
	e := fakeEngine(t, Config{MaxDetectSegments: 3}, prefixProto(Redis, FromClient, "ABCDEFGH"))
	got, f := runTCP(t, e, 1, false, cseg("A"), cseg("B"), cseg("C"), cseg("D"), seg{dir: FromServer, off: auto, flags: RST})
	want := []string{"note " + NoteDetectionBudget}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if f.State() != StateUnknown {
		t.Errorf("state %v, want unknown", f.State())
	}
}

func TestProgress(t *testing.T) {
	e := lineEngine(t, 0)
	sink := &textSink{}
	var f Flow
	f.Init(e, TCP, 40000, 1, OrientationKnown)
	f.TCP(FromClient, 10, SYN, nil, sink)
	f.TCP(FromServer, 20, SYN|ACK, nil, sink)
	if f.State() != StateDetecting || f.Requests() != 0 || f.Done() {
		t.Fatalf("after handshake: state %v requests %d done %v", f.State(), f.Requests(), f.Done())
	}
	f.TCP(FromClient, 11, ACK, []byte("L1"), sink)
	if f.State() != StateDetected || f.App() != Redis || f.Requests() != 0 {
		t.Fatalf("after partial line: state %v app %v requests %d", f.State(), f.App(), f.Requests())
	}
	f.TCP(FromClient, 13, ACK, []byte("\nL2\n"), sink)
	if f.Requests() != 2 {
		t.Fatalf("requests %d, want 2", f.Requests())
	}
	f.TCP(FromClient, 17, ACK, []byte("QUIT\n"), sink)
	f.TCP(FromServer, 21, ACK, []byte("QUIT\n"), sink)
	if !f.Done() {
		t.Fatal("not done after both directions quit")
	}
	f.Release()
	if f.App() != Redis {
		t.Errorf("app after Release %v", f.App())
	}
	// Reuse.
	f.Init(e, TCP, 40001, 1, OrientationKnown)
	if f.State() != StateDetecting || f.App() != Unknown || f.Requests() != 0 {
		t.Errorf("after Init: state %v app %v requests %d", f.State(), f.App(), f.Requests())
	}
}

func TestFlowSize(t *testing.T) {
	// The agent keeps a Flow inline in a ≤ 512-byte flow-table entry.
	if n := sizeofFlow(); n > 192 {
		t.Errorf("sizeof(Flow) = %d bytes, want ≤ 192", n)
	}
}

func TestRefines(t *testing.T) {
	tests := []struct {
		from, to App
		want     bool
	}{
		{HTTP, HTTP2, true}, {HTTP, GRPC, true}, {HTTP2, GRPC, true},
		{GRPC, HTTP2, false}, {HTTP2, HTTP, false}, {TLS, HTTP, false}, {HTTP, TLS, false},
	}
	for _, tc := range tests {
		if got := refines(tc.from, tc.to); got != tc.want {
			t.Errorf("refines(%v, %v) = %v", tc.from, tc.to, got)
		}
	}
}

func TestNewEngineForErrors(t *testing.T) {
	bad := &Protocol{App: Redis, Transport: 99, Detect: func(Dir, []byte) Match { return NoMatch }}
	if _, err := NewEngineFor(Config{}, []*Protocol{bad}); err == nil {
		t.Error("transport 99 accepted")
	}
	var many []*Protocol
	for i := 0; i <= maxCandidates; i++ {
		many = append(many, prefixProto(Redis, FromClient, "x"))
	}
	if _, err := NewEngineFor(Config{}, many); err == nil {
		t.Error("65 protocols accepted")
	}
}
