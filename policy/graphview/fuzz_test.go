package graphview

import (
	"bytes"
	"os"
	"testing"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy/learn"
)

// checkRenders builds in and checks every text renderer's output with the
// strict readers: the DOT and Mermaid draw exactly the view's nodes and
// edges with labels intact, and the JSON decodes back to the view.
func checkRenders(t *testing.T, in Input, opt Options) {
	t.Helper()
	g, err := Build(in, opt)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if err := checkDotMatches(string(render(t, g, FormatDot)), g); err != nil {
		t.Fatalf("dot: %v", err)
	}
	if err := checkMermaidMatches(string(render(t, g, FormatMermaid)), g); err != nil {
		t.Fatalf("mermaid: %v", err)
	}
	if err := checkJSONMatches(render(t, g, FormatJSON), g); err != nil {
		t.Fatalf("json: %v", err)
	}
}

// FuzzReadInput checks that any input document is either refused or read,
// written back (WriteJSON) to a document that reads the same, and drawn in
// every text format without breaking it.
func FuzzReadInput(f *testing.F) {
	for _, name := range []string{"testdata/realistic.input.json", "../learn/testdata/graph.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(tinyGraph))
	f.Add([]byte(stateFile("graph", tinyGraph)))
	f.Add([]byte(`{"graph":` + tinyGraph + `,"verdicts":[{"src":{"addr":"198.18.0.1"},"dst":{"fqdn":"\"];x.example.com"},"proto":"udp","port":53,"app":"dns","reported":1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ReadInput(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := in.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := ReadInput(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("written input does not read back: %v\n%s", err, buf.Bytes())
		}
		var buf2 bytes.Buffer
		again.WriteJSON(&buf2)
		if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
			t.Fatalf("not stable:\n%s\n%s", buf.Bytes(), buf2.Bytes())
		}
		checkRenders(t, in, Options{})
		checkRenders(t, in, Options{MaxExternal: -1, MaxL7Len: 8})
	})
}

// FuzzNames draws a graph whose every user-controlled string is the fuzzed
// one, as the agent would record it (no sanitising on the way in).
func FuzzNames(f *testing.F) {
	for _, s := range hostileNames {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g := learn.New(stepClock(), learn.Limits{})
		w := learn.Workload(s)
		g.Observe(learn.Observation{Src: w, Dst: learn.FQDN(s), Proto: l7.TCP, Port: 443, App: l7.TLS,
			SrcLabels: map[string]string{s: s}, Request: &l7.Request{Host: s}})
		g.Observe(learn.Observation{Src: api, Dst: w, Proto: l7.TCP, Port: 80, App: l7.HTTP,
			DstLabels: map[string]string{"k": s}, Request: &l7.Request{Method: s, Path: "/" + s}})
		g.Observe(learn.Observation{Src: w, Dst: w, Proto: l7.TCP, Port: 6379, App: l7.Redis, Request: &l7.Request{Command: s}})
		in := Input{Graph: g.Snapshot(), HasVerdicts: true,
			Verdicts: []VerdictCount{{Src: w, Dst: learn.FQDN(s), Proto: "udp", Port: 53, App: l7.DNS, Denied: 1}}}
		checkRenders(t, in, Options{})
	})
}
