package l7

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStopped: a direction stops for good when its bytes break the
// protocol, a reassembly limit is reached, the parser needs no more bytes,
// detection gives up, or the flow is released; notes that leave parsing
// going do not stop it.
func TestStopped(t *testing.T) {
	type stopped struct{ Client, Server bool }
	udp := fakeEngine(t, Config{}, &Protocol{
		App: DNS, Transport: UDP,
		Detect: func(_ Dir, data []byte) Match {
			if strings.HasPrefix(string(data), "L") {
				return Matched
			}
			return NoMatch
		},
		New: func(*ParserConfig) Parser { return &lineParser{app: DNS} },
	})
	tests := []struct {
		name  string
		run   func(t *testing.T) ([]string, *Flow)
		want  stopped
		lines []string
	}{{
		name: "requests and responses",
		run: func(t *testing.T) ([]string, *Flow) {
			return runTCP(t, lineEngine(t, 0), 1, false, cseg("L1\n"), sseg("ok\n"), cseg("L2\n"))
		},
		lines: []string{`req redis Command="L1"`, `resp redis Status=2`, `req redis Command="L2"`},
	}, {
		name: "parser error in the client's bytes",
		run: func(t *testing.T) ([]string, *Flow) {
			return runTCP(t, lineEngine(t, 0), 1, false, cseg("L1\nBAD\nL2\n"), cseg("L3\n"))
		},
		want:  stopped{Client: true},
		lines: []string{`req redis Command="L1"`, "note line: bad line"},
	}, {
		name: "parser error in the server's bytes",
		run: func(t *testing.T) ([]string, *Flow) {
			return runTCP(t, lineEngine(t, 0), 1, false, cseg("L1\n"), sseg("BAD\n"), cseg("L2\n"))
		},
		want:  stopped{Server: true},
		lines: []string{`req redis Command="L1"`, "note line: bad line", `req redis Command="L2"`},
	}, {
		name: "the parser needs no more bytes (ErrDone), without a note",
		run: func(t *testing.T) ([]string, *Flow) {
			return runTCP(t, lineEngine(t, 0), 1, false, cseg("L1\nQUIT\n"), cseg("L2\n"))
		},
		want:  stopped{Client: true},
		lines: []string{`req redis Command="L1"`},
	}, {
		name: "reassembly limit",
		run: func(t *testing.T) ([]string, *Flow) {
			return runTCP(t, lineEngine(t, 64), 1, false, cseg("L1\n"), cseg("L"+strings.Repeat("x", 100)), cseg("\nL2\n"))
		},
		want:  stopped{Client: true},
		lines: []string{`req redis Command="L1"`, "note " + NoteReassemblyLimit},
	}, {
		name: "conflicting overlap goes on",
		run: func(t *testing.T) ([]string, *Flow) {
			return runTCP(t, lineEngine(t, 0), 1, false, at(FromClient, 0, "L12"), at(FromClient, 1, "XY\n"), cseg("L2\n"))
		},
		lines: []string{"note " + NoteConflictingOverlap, `req redis Command="L12"`, `req redis Command="L2"`},
	}, {
		name: "detection gave up: both directions",
		run: func(t *testing.T) ([]string, *Flow) {
			return runTCP(t, lineEngine(t, 0), 1, false, cseg("hello\n"), sseg("hi\n"), seg{dir: FromClient, off: auto, flags: FIN}, seg{dir: FromServer, off: auto, flags: FIN})
		},
		want: stopped{Client: true, Server: true},
	}, {
		name: "detection gave up on the client while the server is silent",
		run: func(t *testing.T) ([]string, *Flow) {
			return runTCP(t, lineEngine(t, 0), 1, false, cseg("hello\n"), cseg("L1\n"))
		},
		want: stopped{Client: true},
	}, {
		name: "then the server's bytes decide: the client's are parsed",
		run: func(t *testing.T) ([]string, *Flow) {
			e := fakeEngine(t, Config{}, prefixProto(Redis, FromServer, "S"))
			return runTCP(t, e, 1, false, cseg("hello\n"), sseg("S1\n"), cseg("L1\n"))
		},
		lines: []string{`req redis Command="hello"`, `resp redis Status=2`, `req redis Command="L1"`},
	}, {
		name: "released",
		run: func(t *testing.T) ([]string, *Flow) {
			lines, f := runTCP(t, lineEngine(t, 0), 1, false, cseg("L1\n"))
			f.Release()
			return lines, f
		},
		want:  stopped{Client: true, Server: true},
		lines: []string{`req redis Command="L1"`},
	}, {
		name: "a zero Flow",
		run:  func(*testing.T) ([]string, *Flow) { return nil, &Flow{} },
	}, {
		name: "UDP: a datagram that breaks the protocol stops its direction",
		run: func(t *testing.T) ([]string, *Flow) {
			return runUDP(t, udp, 40000, 53, OrientationKnown, cseg("L1\n"), cseg("L2\nBAD\n"), cseg("L3\n"), sseg("ok\n"))
		},
		want:  stopped{Client: true},
		lines: []string{`req dns Command="L1" DNSID=0 QType=0`, `req dns Command="L2" DNSID=0 QType=0`, "note line: bad line", "resp dns Status=2 DNSID=0 QName=\"\" QType=0"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, f := tt.run(t)
			if diff := cmp.Diff(tt.lines, lines); diff != "" {
				t.Errorf("sink (-want +got):\n%s", diff)
			}
			got := stopped{Client: f.Stopped(FromClient), Server: f.Stopped(FromServer)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Stopped (-want +got):\n%s", diff)
			}
			if done := got.Client && got.Server; f.Done() != done && f.State() != StateUnknown {
				t.Errorf("Done() = %v, want %v (both directions stopped)", f.Done(), done)
			}
		})
	}
}
