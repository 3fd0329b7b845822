package l7

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Evasion through the reassembly window: a segment the receiver drops
// (outside its window) must not hide the bytes it takes. With the start
// known (a SYN, or SetISN) the engine parses what the receiver parses; without
// it, it cannot tell which of two far-apart segments is real, and says so
// (NoteOutOfWindow, Stopped) so that the agent fails closed.

const (
	reqAllowed  = "GET /allowed HTTP/1.1\r\nHost: api\r\n\r\n"
	reqAdmin    = "GET /admin HTTP/1.1\r\nHost: api\r\n\r\n"
	resp200     = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	resp403     = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
	mib         = 1 << 20
	lineAllowed = `req http Method="GET" Host="api" Path="/allowed"`
	lineAdmin   = `req http Method="GET" Host="api" Path="/admin"`
	noteWin     = "note " + NoteOutOfWindow
)

// neg is a stream offset before the start (modulo 2^32).
func neg(n uint32) uint32 { return -n }

func TestWindowEvasion(t *testing.T) {
	type stopped struct{ Client, Server bool }
	tests := []struct {
		name    string
		noSYN   bool
		segs    []seg
		want    []string
		stopped stopped
	}{{
		name: "SYN seen: a fake request 1 MiB ahead, then the real one",
		segs: []seg{at(FromClient, mib, reqAllowed), at(FromClient, 0, reqAdmin)},
		want: []string{noteWin, lineAdmin},
		// The real request was parsed, but the direction is suspect.
		stopped: stopped{Client: true},
	}, {
		name: "SYN seen: a fake request just past the buffer, then the real one",
		segs: []seg{at(FromClient, DefaultMaxBuffer, reqAllowed), at(FromClient, 0, reqAdmin)},
		want: []string{noteWin, lineAdmin},
		// The real request was parsed, but the direction is suspect.
		stopped: stopped{Client: true},
	}, {
		name: "SYN seen: a fake prefix before the start is dropped, as the receiver drops it",
		segs: []seg{at(FromClient, neg(14), "GET /allowed "), at(FromClient, 0, reqAdmin)},
		want: []string{lineAdmin},
	}, {
		name: "SYN seen: a fake prefix straddling the start keeps only its bytes from the start on",
		segs: []seg{at(FromClient, neg(4), "XXX G"), at(FromClient, 1, reqAdmin[1:])},
		want: []string{lineAdmin},
	}, {
		name:    "SYN seen: a fake response 1 MiB ahead, then the real one",
		segs:    []seg{cseg(reqAdmin), at(FromServer, mib, resp200), at(FromServer, 0, resp403)},
		want:    []string{lineAdmin, noteWin, "resp http Status=403"},
		stopped: stopped{Server: true},
	}, {
		name:  "no SYN: the fake request comes first, the real one far behind it",
		noSYN: true,
		segs:  []seg{at(FromClient, mib, reqAllowed), at(FromClient, 0, reqAdmin)},
		// Nothing tells which is real: the first is parsed, the second
		// thrown away, and the direction is suspect.
		want:    []string{lineAllowed, noteWin},
		stopped: stopped{Client: true},
	}, {
		name:    "no SYN: the real request comes first, a fake one far ahead",
		noSYN:   true,
		segs:    []seg{at(FromClient, 0, reqAdmin), at(FromClient, mib, reqAllowed)},
		want:    []string{lineAdmin, noteWin},
		stopped: stopped{Client: true},
	}, {
		name:    "no SYN: a fake prefix just before the first segment",
		noSYN:   true,
		segs:    []seg{at(FromClient, 0, reqAdmin), at(FromClient, neg(100), reqAllowed)},
		want:    []string{lineAdmin, noteWin},
		stopped: stopped{Client: true},
	}, {
		name:    "no SYN: a fake response first, the real one far behind it",
		noSYN:   true,
		segs:    []seg{cseg(reqAdmin), at(FromServer, mib, resp200), at(FromServer, 0, resp403)},
		want:    []string{lineAdmin, "resp http Status=200", noteWin},
		stopped: stopped{Server: true},
	}, {
		name:  "no SYN: segments in order are not suspect",
		noSYN: true,
		segs:  []seg{at(FromClient, 5000, reqAdmin), at(FromServer, 7000, resp403), at(FromClient, 5000+uint32(len(reqAdmin)), reqAllowed)},
		want:  []string{lineAdmin, "resp http Status=403", lineAllowed},
	}, {
		name: "SYN seen: a retransmission of consumed bytes is not suspect",
		segs: []seg{cseg(reqAdmin), at(FromClient, 0, reqAdmin), cseg(reqAllowed)},
		want: []string{lineAdmin, lineAllowed},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, f := runTCP(t, NewEngine(Config{}), 80, tc.noSYN, tc.segs...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.stopped, stopped{f.Stopped(FromClient), f.Stopped(FromServer)}); diff != "" {
				t.Errorf("Stopped (-want +got):\n%s", diff)
			}
			f.Release()
		})
	}
}

// TestWindowSecondSYN: a second SYN with another ISN does not move the
// start (the server's TCP ignores it, RFC 5961 §4), even when the fake bytes
// at the second ISN would run into the real ones, and even when the fake
// SYN is the one fed last.
func TestWindowSecondSYN(t *testing.T) {
	const isnA = 7000
	for _, isnB := range []uint32{isnA - 14, isnA + 5*mib} {
		e := NewEngine(Config{})
		sink := &textSink{}
		var f Flow
		f.Init(e, TCP, 40000, 80, OrientationKnown)
		f.TCP(FromClient, isnA, SYN, nil, sink)
		f.TCP(FromServer, 1, SYN|ACK, nil, sink)
		f.TCP(FromClient, isnB, SYN, nil, sink)
		// Fake: "GET /allowed " then, at isnA+1, the real request would
		// read as the rest of that request line.
		f.TCP(FromClient, isnB+1, ACK, []byte("GET /allowed "), sink)
		f.TCP(FromClient, isnA+1, ACK, []byte(reqAdmin), sink)
		want := []string{lineAdmin}
		if isnB > isnA {
			want = []string{noteWin, lineAdmin}
		}
		if diff := cmp.Diff(want, sink.lines); diff != "" {
			t.Errorf("second ISN %d: events (-want +got):\n%s", isnB, diff)
		}
		f.Release()
	}
}

// TestSetISN: a caller that saw the SYN but feeds the flow from its first
// payload packet (the agent) gives the ISN with SetISN.
func TestSetISN(t *testing.T) {
	tests := []struct {
		name string
		set  bool
		want []string
	}{
		{"with SetISN the real request is parsed", true, []string{noteWin, lineAdmin}},
		{"without it the fake one is, and the direction is suspect", false, []string{lineAllowed, noteWin}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(Config{})
			sink := &textSink{}
			var f Flow
			f.Init(e, TCP, 40000, 80, OrientationKnown)
			var isn uint32 = 0xfffffff0
			if tc.set {
				f.SetISN(FromClient, isn)
			}
			f.TCP(FromClient, isn+1+mib, ACK, []byte(reqAllowed), sink)
			f.TCP(FromClient, isn+1, ACK, []byte(reqAdmin), sink)
			if diff := cmp.Diff(tc.want, sink.lines); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if !f.Stopped(FromClient) {
				t.Error("client direction not reported stopped after a segment was thrown away")
			}
			f.Release()
		})
	}
	var zero Flow
	zero.SetISN(FromClient, 1) // no panic before Init
}
