package l7

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// This file holds the harness shared by the tests of the application
// parsers (ssh_test.go … ntp_test.go): an engine stand-in
// that feeds a parser the way the engine does (per-direction buffers, any
// split of the stream, bounded buffering), and table, fuzz and allocation
// helpers built on it.

// appsEngineLimit is the per-direction buffer the stand-in engine allows,
// the engine's default reassembly limit. A parser that needs more than this
// to make progress fails the tests.
const appsEngineLimit = 16 << 10

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
	// inputs are the buffers handed to Parse, for appsScribble.
	inputs [][]byte
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
		f.inputs = append(f.inputs, piece)
		if _, err := f.parser.Parse(dir, piece, f.sink); err != nil && !errors.Is(err, ErrDone) {
			f.log("error " + err.Error())
		}
		return nil
	}
	f.pending[dir] = append(f.pending[dir], piece...)
	buf := f.pending[dir]
	f.inputs = append(f.inputs, buf)
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
	events, sum, _ := appsReplay(t, proto, proto.New(cfg), chunks, split)
	return events, appsJSON(t, sum)
}

// appsReplay feeds chunks to parser p (of proto) as the engine would and
// returns what the sink recorded, the parser's Summary value, and every
// buffer handed to Parse (see appsScribble).
func appsReplay(t testing.TB, proto *Protocol, p Parser, chunks []appsChunk, split appsSplitter) ([]string, any, [][]byte) {
	t.Helper()
	sink := &textSink{}
	f := &appsFeeder{proto: proto, parser: p, sink: sink, log: func(s string) { sink.lines = append(sink.lines, s) }}
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
	return sink.lines, f.parser.Summary(), f.inputs
}

// appsJSON returns the JSON of a Summary value ("" for nil).
func appsJSON(t testing.TB, sum any) string {
	t.Helper()
	if sum == nil {
		return ""
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatalf("marshal Summary: %v", err)
	}
	return string(b)
}

// appsScribble overwrites the buffers a parser was given, as the engine
// does when it reuses them: what a Summary keeps must not alias them.
func appsScribble(bufs [][]byte) {
	for _, b := range bufs {
		for i := range b {
			b[i] = 0xa5
		}
	}
}

// appsHalf returns the first half of a conversation's bytes: it leaves a
// parser in the middle of a message.
func appsHalf(chunks []appsChunk) []appsChunk {
	total := 0
	for _, c := range chunks {
		total += len(c.data)
	}
	var out []appsChunk
	for left := total / 2; left > 0 && len(out) < len(chunks); {
		c := chunks[len(out)]
		if len(c.data) > left {
			c.data = c.data[:left]
		}
		out = append(out, c)
		left -= len(c.data)
	}
	return out
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
				got, sum := appsRun(t, proto, appsConfig(true, tc.max), tc.chunks, split)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s: events (-want +got):\n%s", sname, diff)
				}
				if diff := cmp.Diff(appsCanonJSON(t, tc.summary), appsCanonJSON(t, sum)); diff != "" {
					t.Errorf("%s: summary (-want +got):\n%s", sname, diff)
				}
			}
			got, sum := appsRun(t, proto, appsConfig(false, tc.max), tc.chunks, appsRandomSplit(3))
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
			appsCheckPooled(t, proto, cases, tc, tc.want, true)
			appsCheckPooled(t, proto, cases, tc, want, false)
		})
	}
}

// appsCheckPooled runs case b through a parser reused (Reset) after each
// case of the table, whole and cut in the middle of a message, and requires
// what a fresh parser reports (want, and b's summary when cfg.Summaries):
// nothing may leak from one flow to the next. It also requires that the
// earlier flow's Summary, taken before Reset, is left alone by Reset, by the
// next flow and by the reuse of the buffers it was parsed from.
func appsCheckPooled(t *testing.T, proto *Protocol, cases []appsCase, b appsCase, want []string, summaries bool) {
	t.Helper()
	wantSum := ""
	if summaries {
		wantSum = appsCanonJSON(t, b.summary)
	}
	for _, a := range cases {
		for _, chunks := range [][]appsChunk{a.chunks, appsHalf(a.chunks)} {
			// Each flow gets its own KafkaTopics: what a flow learns for the
			// others is not state of the parser.
			cfg := appsConfig(summaries, b.max)
			p := proto.New(appsConfig(summaries, b.max))
			r, ok := p.(Resetter)
			if !ok {
				t.Fatalf("%v parser %T does not implement Resetter", proto.App, p)
			}
			_, sumA, inputs := appsReplay(t, proto, p, chunks, appsRandomSplit(4))
			before := appsJSON(t, sumA)
			r.Reset(cfg)
			got, sumB, _ := appsReplay(t, proto, p, b.chunks, appsRandomSplit(3))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("after %q (summaries %v): events (-want +got):\n%s", a.name, summaries, diff)
			}
			if diff := cmp.Diff(wantSum, appsCanonJSON(t, appsJSON(t, sumB))); diff != "" {
				t.Errorf("after %q: summary (-want +got):\n%s", a.name, diff)
			}
			appsScribble(inputs)
			if after := appsJSON(t, sumA); after != before {
				t.Errorf("summary of %q changed after Reset, reuse and overwritten input:\nbefore %s\nafter  %s", a.name, before, after)
			}
		}
	}
}

// appsConfig is the parser configuration of the table tests, with a
// KafkaTopics of its own.
func appsConfig(summaries bool, max int) *ParserConfig {
	return &ParserConfig{Summaries: summaries, MaxRecords: max, KafkaTopics: NewKafkaTopics(0)}
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
			sink := &textSink{}
			fd := newAppsFeeder(proto, appsConfig(on, 8), sink, func(string) {})
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
			if len(sink.lines) > 4*len(data)+8 {
				t.Fatalf("%d events from %d bytes", len(sink.lines), len(data))
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
	var sink nopSink
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
	var sink nopSink
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
