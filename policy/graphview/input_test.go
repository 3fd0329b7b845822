package graphview

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy/learn"
)

const tinyGraph = `{"version":1,"workloads":[{"name":"fe","labels":{"app":"fe"}}],"edges":[` +
	`{"src":{"workload":"fe"},"dst":{"workload":"api"},"proto":"tcp","port":8080,"app":"http","count":2,` +
	`"firstSeen":"2026-01-01T00:00:00Z","lastSeen":"2026-01-01T00:01:00Z","values":[{"method":"GET","path":"/a","count":2}]}]}`

// stateFile wraps data as the agent's state store does.
func stateFile(item, data string) string {
	sum := sha256.Sum256([]byte(data))
	return fmt.Sprintf(`{"schema":1,"item":%q,"saved":"2026-01-01T00:00:00Z","sha256":%q,"data":%s}`, item, hex.EncodeToString(sum[:]), data)
}

func TestReadInput(t *testing.T) {
	tiny, err := learn.ReadJSON(strings.NewReader(tinyGraph))
	if err != nil {
		t.Fatal(err)
	}
	verdict := `{"src":{"workload":"fe"},"dst":{"workload":"db"},"proto":"tcp","port":6379,"app":"redis","denied":2}`
	cases := []struct {
		name    string
		in      string
		want    Input
		wantErr string
	}{
		{name: "graph", in: tinyGraph, want: Input{Graph: tiny}},
		{name: "with verdicts", in: `{"graph":` + tinyGraph + `,"verdicts":[` + verdict + `,` + verdict + `]}`,
			want: Input{Graph: tiny, HasVerdicts: true, Verdicts: []VerdictCount{
				{Src: learn.Workload("fe"), Dst: learn.Workload("db"), Proto: "tcp", Port: 6379, App: l7.Redis, Denied: 4}}}},
		{name: "empty verdicts", in: `{"graph":` + tinyGraph + `,"verdicts":[]}`, want: Input{Graph: tiny, HasVerdicts: true}},
		{name: "state file", in: stateFile("graph", tinyGraph), want: Input{Graph: tiny}},
		{name: "state file of another item", in: stateFile("modes", `{}`), wantErr: `it holds "modes", not the graph`},
		{name: "state file checksum", in: strings.Replace(stateFile("graph", tinyGraph), `"fe"`, `"fx"`, 1), wantErr: "checksum mismatch"},
		{name: "state file schema", in: strings.Replace(stateFile("graph", tinyGraph), `"schema":1`, `"schema":2`, 1), wantErr: "schema 2"},
		{name: "state in state", in: stateFile("graph", stateFile("graph", tinyGraph)), wantErr: "not a graph"},
		{name: "not json", in: `graph`, wantErr: "read input"},
		{name: "not a graph", in: `{"nodes":[]}`, wantErr: "not a graph"},
		{name: "bad graph", in: `{"version":2,"workloads":[],"edges":[]}`, wantErr: "unsupported version 2"},
		{name: "unknown envelope field", in: `{"graph":` + tinyGraph + `,"verdicts":[],"extra":1}`, wantErr: `unknown field "extra"`},
		{name: "bad verdict proto", in: `{"graph":` + tinyGraph + `,"verdicts":[{"src":{"host":true},"dst":{"workload":"a"},"proto":"icmp","port":1,"app":"unknown"}]}`, wantErr: `verdicts[0]: bad proto "icmp"`},
		{name: "bad verdict port", in: `{"graph":` + tinyGraph + `,"verdicts":[{"src":{"host":true},"dst":{"workload":"a"},"proto":"tcp","port":0,"app":"unknown"}]}`, wantErr: "verdicts[0]: port 0"},
		{name: "verdict without src", in: `{"graph":` + tinyGraph + `,"verdicts":[{"dst":{"workload":"a"},"proto":"tcp","port":1,"app":"unknown"}]}`, wantErr: "src and dst are required"},
		{name: "verdict bad app", in: `{"graph":` + tinyGraph + `,"verdicts":[{"src":{"host":true},"dst":{"workload":"a"},"proto":"tcp","port":1,"app":"gopher"}]}`, wantErr: "gopher"},
		{name: "verdict times reversed", in: `{"graph":` + tinyGraph + `,"verdicts":[{"src":{"host":true},"dst":{"workload":"a"},"proto":"tcp","port":1,"app":"unknown","firstSeen":"2026-01-02T00:00:00Z","lastSeen":"2026-01-01T00:00:00Z"}]}`, wantErr: "is before firstSeen"},
		{name: "trailing data", in: `{"graph":` + tinyGraph + `,"verdicts":[]} {}`, wantErr: "after top-level value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadInput(strings.NewReader(c.in))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got, cmpOpts); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestMergeInputs(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	v := func(denied uint64, first, last time.Time) VerdictCount {
		return VerdictCount{Src: frontend, Dst: db, Proto: "tcp", Port: 6379, App: l7.Redis, Denied: denied, FirstSeen: first, LastSeen: last}
	}
	a := Input{Graph: realisticGraph(), Verdicts: []VerdictCount{v(2, at(3), at(4))}, HasVerdicts: true}
	b := Input{Graph: realisticGraph()}
	c := Input{Verdicts: []VerdictCount{v(5, at(1), at(2)), v(1, time.Time{}, at(9))}, HasVerdicts: true}
	got := MergeInputs(0, a, b, c)
	if !got.HasVerdicts {
		t.Error("HasVerdicts lost")
	}
	if d := cmp.Diff([]VerdictCount{v(8, at(1), at(9))}, got.Verdicts, cmpOpts); d != "" {
		t.Errorf("verdicts (-want +got):\n%s", d)
	}
	if want := learn.Merge(0, a.Graph, b.Graph); !cmp.Equal(want, got.Graph, cmpOpts) {
		t.Errorf("graph is not learn.Merge of the graphs")
	}
	if e := got.Graph.Edges[0]; e.Count != 2*realisticGraph().Edges[0].Count {
		t.Errorf("counts not added: %d", e.Count)
	}
}

// checkJSONMatches checks that the JSON output decodes to g.
func checkJSONMatches(js []byte, g *Graph) error {
	var back Graph
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		return err
	}
	if d := cmp.Diff(g, &back); d != "" {
		return fmt.Errorf("JSON does not decode to the view (-view +json):\n%s", d)
	}
	return nil
}
