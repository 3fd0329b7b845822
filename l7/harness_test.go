package l7

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// The engine tests' harness: a Sink that prints what it receives as lines
// of text, and a driver that feeds a Flow a scripted conversation.

// textSink records requests, responses and notes as text lines.
type textSink struct{ lines []string }

func (s *textSink) Request(r *Request)   { s.lines = append(s.lines, "req "+formatRequest(r)) }
func (s *textSink) Response(r *Response) { s.lines = append(s.lines, "resp "+formatResponse(r)) }
func (s *textSink) Note(n string)        { s.lines = append(s.lines, "note "+n) }

// formatRequest prints the fields of r that are set, named as in Request,
// in a fixed order.
func formatRequest(r *Request) string {
	var b strings.Builder
	b.WriteString(r.App.String())
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%q", k, v)
		}
	}
	add("Command", r.Command)
	add("Method", r.Method)
	add("Host", r.Host)
	add("Path", r.Path)
	add("UserAgent", r.UserAgent)
	add("GRPCService", r.GRPCService)
	add("GRPCMethod", r.GRPCMethod)
	if len(r.ALPN) > 0 {
		fmt.Fprintf(&b, " ALPN=%q", r.ALPN)
	}
	add("Version", r.Version)
	add("JA4", r.JA4)
	add("User", r.User)
	add("Database", r.Database)
	add("Topic", r.Topic)
	add("ClientID", r.ClientID)
	if r.App == DNS {
		fmt.Fprintf(&b, " DNSID=%d QType=%d", r.DNSID, r.QType)
	}
	return b.String()
}

// formatResponse prints r like formatRequest.
func formatResponse(r *Response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v Status=%d", r.App, r.Status)
	if r.Version != "" {
		fmt.Fprintf(&b, " Version=%q", r.Version)
	}
	if r.App == DNS {
		fmt.Fprintf(&b, " DNSID=%d QName=%q QType=%d", r.DNSID, r.QName, r.QType)
		for _, a := range r.Answers {
			fmt.Fprintf(&b, " [%s %d %d %s]", a.Name, a.Type, a.TTL, a.Data)
		}
	}
	return b.String()
}

// nopSink discards everything (allocation tests).
type nopSink struct{}

func (nopSink) Request(*Request)   {}
func (nopSink) Response(*Response) {}
func (nopSink) Note(string)        {}

// seg is one packet of a scripted TCP or UDP conversation. For TCP, off is
// the offset of data in its direction's stream (the harness adds the ISN);
// syn marks a SYN (off is then ignored).
type seg struct {
	dir   Dir
	off   uint32
	data  string
	flags TCPFlags
}

// cseg and sseg build in-order segments (client and server); the harness
// computes their offsets.
func cseg(data string) seg { return seg{dir: FromClient, off: auto, data: data} }
func sseg(data string) seg { return seg{dir: FromServer, off: auto, data: data} }

// at places a segment at an explicit stream offset.
func at(dir Dir, off uint32, data string) seg { return seg{dir: dir, off: off, data: data} }

const auto = ^uint32(0)

// isn are the initial sequence numbers the harness uses per direction
// (near the wrap, to exercise serial arithmetic).
var isn = [2]uint32{0xfffffff0, 1000}

// runTCP feeds a handshake (unless noSYN) and the segments to a fresh flow
// of engine e and returns the sink's lines and the flow.
func runTCP(t testing.TB, e *Engine, serverPort uint16, noSYN bool, segs ...seg) ([]string, *Flow) {
	t.Helper()
	sink := &textSink{}
	f := &Flow{}
	o := OrientationKnown
	if noSYN {
		o = OrientationGuessed
	}
	f.Init(e, TCP, 40000, serverPort, o)
	var next [2]uint32
	if !noSYN {
		f.TCP(FromClient, isn[0], SYN, nil, sink)
		f.TCP(FromServer, isn[1], SYN|ACK, nil, sink)
	}
	for _, sg := range segs {
		off := sg.off
		if off == auto {
			off = next[sg.dir]
		}
		if end := off + uint32(len(sg.data)); end > next[sg.dir] {
			next[sg.dir] = end
		}
		seq := isn[sg.dir] + 1 + off
		f.TCP(sg.dir, seq, sg.flags|ACK, []byte(sg.data), sink)
	}
	f.Finish(sink)
	return sink.lines, f
}

// runUDP feeds datagrams to a fresh UDP flow.
func runUDP(t testing.TB, e *Engine, clientPort, serverPort uint16, o Orientation, segs ...seg) ([]string, *Flow) {
	t.Helper()
	sink := &textSink{}
	f := &Flow{}
	f.Init(e, UDP, clientPort, serverPort, o)
	for _, sg := range segs {
		f.UDP(sg.dir, []byte(sg.data), sink)
	}
	f.Finish(sink)
	return sink.lines, f
}

func sizeofFlow() uintptr { return unsafe.Sizeof(Flow{}) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
