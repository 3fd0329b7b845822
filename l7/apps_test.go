package l7

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// This file holds the harness shared by the tests of the application
// parsers (ssh_test.go … ntp_test.go): a recording Sink, an engine stand-in
// that feeds a parser the way the engine does (per-direction buffers, any
// split of the stream, bounded buffering), and table, fuzz and allocation
// helpers built on it.

// appsEngineLimit is the per-direction buffer the stand-in engine allows,
// the engine's default reassembly limit. A parser that needs more than this
// to make progress fails the tests.
const appsEngineLimit = 16 << 10

// appsSink records what a parser reports as lines of text.
type appsSink struct{ events []string }

func (s *appsSink) Request(r *Request) { s.events = append(s.events, "req "+appsFormatRequest(r)) }
func (s *appsSink) Response(r *Response) {
	s.events = append(s.events, "resp "+appsFormatResponse(r))
}
func (s *appsSink) Note(n string) { s.events = append(s.events, "note "+n) }

func appsFormatRequest(r *Request) string {
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
	add("Version", r.Version)
	add("User", r.User)
	add("Database", r.Database)
	add("Topic", r.Topic)
	add("ClientID", r.ClientID)
	return b.String()
}

func appsFormatResponse(r *Response) string {
	s := fmt.Sprintf("%s Status=%d", r.App, r.Status)
	if r.Version != "" {
		s += fmt.Sprintf(" Version=%q", r.Version)
	}
	return s
}

// appsNopSink discards everything; the allocation tests use it.
type appsNopSink struct{}

func (appsNopSink) Request(*Request)   {}
func (appsNopSink) Response(*Response) {}
func (appsNopSink) Note(string)        {}

// appsChunk is data sent in one direction: a TCP segment's payload or one
// UDP datagram.
type appsChunk struct {
	dir  Dir
	data string
}

func cli(s string) appsChunk { return appsChunk{FromClient, s} }
func srv(s string) appsChunk { return appsChunk{FromServer, s} }

// appsProtocol returns the registered Protocol for app and transport.
func appsProtocol(t testing.TB, app App, tr Transport) *Protocol {
	t.Helper()
	for _, p := range Protocols() {
		if p.App == app && p.Transport == tr {
			return p
		}
	}
	t.Fatalf("%v/%d is not registered", app, tr)
	return nil
}

// appsFeeder is the engine stand-in for one flow.
type appsFeeder struct {
	proto   *Protocol
	parser  Parser
	sink    Sink
	pending [2][]byte
	stopped [2]bool
	log     func(string)
}

func newAppsFeeder(p *Protocol, cfg *ParserConfig, sink Sink, log func(string)) *appsFeeder {
	return &appsFeeder{proto: p, parser: p.New(cfg), sink: sink, log: log}
}

// feed hands piece to the parser as the engine would. It returns an error
// when the parser breaks the Parser contract.
func (f *appsFeeder) feed(dir Dir, piece []byte) error {
	if f.stopped[dir] {
		return nil
	}
	if f.proto.Transport == UDP {
		if _, err := f.parser.Parse(dir, piece, f.sink); err != nil && !errors.Is(err, ErrDone) {
			f.log("error " + err.Error())
		}
		return nil
	}
	f.pending[dir] = append(f.pending[dir], piece...)
	buf := f.pending[dir]
	n, err := f.parser.Parse(dir, buf, f.sink)
	if n < 0 || n > len(buf) {
		return fmt.Errorf("Parse(%v) consumed %d of %d bytes", dir, n, len(buf))
	}
	f.pending[dir] = append(buf[:0], buf[n:]...)
	if errors.Is(err, ErrDone) {
		f.stopped[dir] = true
		f.pending[dir] = nil
		return nil
	}
	if err != nil {
		f.log("error " + err.Error())
		f.stopped[dir] = true
		f.pending[dir] = nil
		return nil
	}
	if len(f.pending[dir]) > appsEngineLimit {
		return fmt.Errorf("parser of %v keeps %d bytes pending in direction %v (limit %d)",
			f.proto.App, len(f.pending[dir]), dir, appsEngineLimit)
	}
	return nil
}

// appsSplitter cuts a TCP payload into the pieces the engine hands over.
type appsSplitter func(data []byte) [][]byte

func appsWhole(data []byte) [][]byte { return [][]byte{data} }

func appsBytewise(data []byte) [][]byte {
	out := make([][]byte, len(data))
	for i := range data {
		out[i] = data[i : i+1]
	}
	return out
}

func appsRandomSplit(seed int64) appsSplitter {
	rng := rand.New(rand.NewSource(seed))
	return func(data []byte) [][]byte {
		var out [][]byte
		for len(data) > 0 {
			n := 1 + rng.Intn(len(data))
			out = append(out, data[:n])
			data = data[n:]
		}
		return out
	}
}

// appsRun feeds chunks to a fresh parser of proto and returns what the sink
// recorded and the parser's Summary as JSON ("" when nil).
func appsRun(t testing.TB, proto *Protocol, cfg *ParserConfig, chunks []appsChunk, split appsSplitter) ([]string, string) {
	t.Helper()
	sink := &appsSink{}
	f := newAppsFeeder(proto, cfg, sink, func(s string) { sink.events = append(sink.events, s) })
	for _, c := range chunks {
		pieces := [][]byte{[]byte(c.data)}
		if proto.Transport == TCP {
			pieces = split([]byte(c.data))
		}
		for _, p := range pieces {
			if err := f.feed(c.dir, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	sum := f.parser.Summary()
	if sum == nil {
		return sink.events, ""
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatalf("marshal Summary: %v", err)
	}
	return sink.events, string(b)
}

// appsCase is one table test of a parser: a conversation and what the
// parser must report for it.
type appsCase struct {
	name   string
	chunks []appsChunk
	want   []string
	// summary is the JSON of Summary() with Summaries on; "" for nil.
	summary string
	// max overrides ParserConfig.MaxRecords.
	max int
}

// appsRunCases runs each case fed whole, byte by byte and with random
// splits, and requires the same events and Summary every time. With
// Summaries off it requires the same events and a nil Summary.
func appsRunCases(t *testing.T, app App, tr Transport, cases []appsCase) {
	t.Helper()
	proto := appsProtocol(t, app, tr)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			splits := map[string]appsSplitter{
				"whole": appsWhole, "bytewise": appsBytewise,
				"random1": appsRandomSplit(1), "random2": appsRandomSplit(2),
			}
			for sname, split := range splits {
				cfg := &ParserConfig{Summaries: true, MaxRecords: tc.max}
				got, sum := appsRun(t, proto, cfg, tc.chunks, split)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s: events (-want +got):\n%s", sname, diff)
				}
				if diff := cmp.Diff(appsCanonJSON(t, tc.summary), appsCanonJSON(t, sum)); diff != "" {
					t.Errorf("%s: summary (-want +got):\n%s", sname, diff)
				}
			}
			got, sum := appsRun(t, proto, &ParserConfig{MaxRecords: tc.max}, tc.chunks, appsRandomSplit(3))
			var want []string
			for _, e := range tc.want {
				if e != "note "+noteRecordsTruncated {
					want = append(want, e)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("summaries off: events (-want +got):\n%s", diff)
			}
			if sum != "" {
				t.Errorf("summaries off: Summary() = %s, want nil", sum)
			}
		})
	}
}

// appsCanonJSON re-encodes a JSON text so that formatting does not matter.
func appsCanonJSON(t testing.TB, s string) string {
	t.Helper()
	if s == "" {
		return ""
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// appsFuzz is the body of every application parser's fuzz test: Detect on
// every prefix in both directions, then Parse with random splits into both
// directions, with Summaries on and off. Contract violations fail; panics
// fail by themselves.
func appsFuzz(f *testing.F, app App, tr Transport, seeds ...[]appsChunk) {
	for _, s := range seeds {
		for _, c := range s {
			f.Add([]byte(c.data), int64(len(c.data)), c.dir == FromServer)
		}
		var all []byte
		for _, c := range s {
			all = append(all, c.data...)
		}
		f.Add(all, int64(7), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, seed int64, server bool) {
		proto := appsProtocol(t, app, tr)
		for n := 0; n <= len(data) && n <= 512; n++ {
			for _, d := range []Dir{FromClient, FromServer} {
				if m := proto.Detect(d, data[:n]); m > Matched {
					t.Fatalf("Detect returned %d", m)
				}
			}
		}
		dir := FromClient
		if server {
			dir = FromServer
		}
		for _, on := range []bool{false, true} {
			sink := &appsSink{}
			fd := newAppsFeeder(proto, &ParserConfig{Summaries: on, MaxRecords: 8}, sink, func(string) {})
			split := appsRandomSplit(seed)
			for _, d := range []Dir{dir, 1 - dir} {
				if tr == UDP {
					if err := fd.feed(d, data); err != nil {
						t.Fatal(err)
					}
					continue
				}
				for _, p := range split(data) {
					if err := fd.feed(d, p); err != nil {
						t.Fatal(err)
					}
				}
			}
			if s := fd.parser.Summary(); s != nil {
				if !on {
					t.Fatalf("Summary() = %v with Summaries off", s)
				}
				if _, err := json.Marshal(s); err != nil {
					t.Fatalf("marshal Summary: %v", err)
				}
			}
			if len(sink.events) > 4*len(data)+8 {
				t.Fatalf("%d events from %d bytes", len(sink.events), len(data))
			}
		}
	})
}

// appsAllocCase describes a steady state for the allocation tests: after
// setup, feeding repeat (whole, in its direction) must not allocate.
type appsAllocCase struct {
	app    App
	tr     Transport
	setup  []appsChunk
	repeat []appsChunk
}

func appsAllocs(t *testing.T, c appsAllocCase) float64 {
	t.Helper()
	proto := appsProtocol(t, c.app, c.tr)
	p := proto.New(&ParserConfig{})
	var sink appsNopSink
	for _, ch := range c.setup {
		if n, err := p.Parse(ch.dir, []byte(ch.data), sink); err != nil || (c.tr == TCP && n != len(ch.data)) {
			t.Fatalf("setup %q: consumed %d, err %v", ch.data, n, err)
		}
	}
	bufs := make([][]byte, len(c.repeat))
	for i, ch := range c.repeat {
		bufs[i] = []byte(ch.data)
	}
	return testing.AllocsPerRun(200, func() {
		for i, ch := range c.repeat {
			n, err := p.Parse(ch.dir, bufs[i], sink)
			if err != nil || (c.tr == TCP && n != len(bufs[i])) {
				panic(fmt.Sprintf("repeat %q: consumed %d, err %v", ch.data, n, err))
			}
		}
	})
}

// appsBench measures Parse over a steady state; b.N counts messages of
// repeat (one "packet" each).
func appsBench(b *testing.B, c appsAllocCase) {
	proto := appsProtocol(b, c.app, c.tr)
	p := proto.New(&ParserConfig{})
	var sink appsNopSink
	for _, ch := range c.setup {
		if _, err := p.Parse(ch.dir, []byte(ch.data), sink); err != nil {
			b.Fatal(err)
		}
	}
	bufs := make([][]byte, len(c.repeat))
	size := 0
	for i, ch := range c.repeat {
		bufs[i] = []byte(ch.data)
		size += len(ch.data)
	}
	b.SetBytes(int64(size / len(bufs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(bufs)
		if _, err := p.Parse(c.repeat[j].dir, bufs[j], sink); err != nil {
			b.Fatal(err)
		}
	}
}
