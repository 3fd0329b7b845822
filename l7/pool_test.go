package l7

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParsersReset: the parser of every registered protocol implements
// Resetter, so that the engine pools it, and for the application parsers
// Reset on a new parser leaves it as New made it (the engine's own parsers
// hold decoders with closures that reflect cannot compare).
// appsCheckPooled checks that nothing leaks from a used parser.
func TestParsersReset(t *testing.T) {
	for _, p := range Protocols() {
		cfg := &ParserConfig{Summaries: true, MaxRecords: 8, KafkaTopics: NewKafkaTopics(0)}
		got := p.New(cfg)
		r, ok := got.(Resetter)
		if !ok {
			t.Errorf("%v/%v parser %T does not implement Resetter", p.App, p.Transport, got)
			continue
		}
		r.Reset(cfg)
		if !appsOwned(p.App) {
			continue
		}
		if want := p.New(cfg); !reflect.DeepEqual(got, want) {
			t.Errorf("%v/%v: Reset of a new parser differs from New:\n got %+v\nwant %+v", p.App, p.Transport, got, want)
		}
	}
}

// TestEngineReusesParsers runs, through one engine, a connection cut in
// the middle of a message (its parser goes back to the pool mid-state),
// then a whole connection of the same protocol, which gets that parser
// again: it must report what it reports on a fresh engine, with summaries
// off (the agent) and on (analyze).
func TestEngineReusesParsers(t *testing.T) {
	for _, c := range allocConversations() {
		t.Run(c.app.String(), func(t *testing.T) {
			run := func(e *Engine, conv []appsChunk) ([]string, string) {
				var segs []seg
				for _, ch := range conv {
					segs = append(segs, seg{dir: ch.dir, off: auto, data: ch.data})
				}
				lines, f := runTCP(t, e, c.port, false, segs...)
				sum, err := jsonMarshal(f.Summary())
				if err != nil {
					t.Fatal(err)
				}
				f.Release()
				return lines, string(sum)
			}
			for _, summaries := range []bool{false, true} {
				cfg := Config{Parser: ParserConfig{Summaries: summaries}}
				wantLines, wantSum := run(NewEngine(cfg), c.conv)
				e := NewEngine(cfg)
				run(e, appsHalf(c.conv))
				gotLines, gotSum := run(e, c.conv)
				if diff := cmp.Diff(wantLines, gotLines); diff != "" {
					t.Errorf("summaries %v: events after a released half connection (-fresh +reused):\n%s", summaries, diff)
				}
				if gotSum != wantSum {
					t.Errorf("summaries %v: summary after a released half connection:\n got %s\nwant %s", summaries, gotSum, wantSum)
				}
			}
		})
	}
}
