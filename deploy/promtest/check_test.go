package promtest

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sample(labels ...string) Sample {
	l := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		l[labels[i]] = labels[i+1]
	}
	return Sample{Labels: l, Value: 1}
}

func TestProblems(t *testing.T) {
	data := Result{Samples: []Sample{sample("a", "b")}}
	outcomes := []Outcome{
		{Query: Query{Origin: "d.json panel 1", PanelTitle: "ok"}, Result: data},
		{Query: Query{Origin: "d.json panel 2"}, Expanded: "rate(x[10s])"},
		{Query: Query{Origin: "d.json panel 3"}, Err: errors.New("parse error")},
		{Query: Query{Origin: "rules alert A", Alert: "A"}, Result: data},
		{Query: Query{Origin: "rules alert B", Alert: "B"}},
		{Query: Query{Origin: "rules alert C", Alert: "C"}, Result: data},
	}
	want := []string{
		"d.json panel 2 returned no data:\nrate(x[10s])",
		"d.json panel 3: parse error",
		"alert B: its expression returned no data, want it firing",
		"alert C: its expression returned data, want it quiet",
	}
	if diff := cmp.Diff(want, Problems(outcomes, []string{"A", "B"})); diff != "" {
		t.Errorf("Problems (-want +got):\n%s", diff)
	}
	if p := Problems(outcomes[:1], nil); len(p) != 0 {
		t.Errorf("Problems of a healthy run: %q", p)
	}
}

func TestFlowMapOf(t *testing.T) {
	outcomes := []Outcome{
		{Query: Query{PanelType: "nodeGraph", RefID: "edges"}, Result: Result{Samples: []Sample{
			sample("id", "fe->api", "source", "fe", "target", "api", "color", "green"),
			sample("id", "api->db", "source", "api", "target", "db"),
			sample("id", "x", "source", "api", "target", "dns"),
		}}},
		{Query: Query{PanelType: "nodeGraph", RefID: "nodes"}, Result: Result{Samples: []Sample{
			sample("id", "fe", "title", "fe", "subtitle", "web"),
			sample("id", "db", "title", "db"),
		}}},
		{Query: Query{PanelType: "timeseries", RefID: "A"}, Result: Result{Samples: []Sample{sample("id", "ignored")}}},
	}
	got, problems := FlowMapOf(outcomes)
	want := FlowMap{
		Edges: []FlowEdge{{ID: "api->db", Source: "api", Target: "db"}, {ID: "fe->api", Source: "fe", Target: "api", Color: "green"}, {ID: "x", Source: "api", Target: "dns"}},
		Nodes: []FlowNode{{ID: "db", Title: "db"}, {ID: "fe", Title: "fe", Subtitle: "web"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FlowMapOf (-want +got):\n%s", diff)
	}
	wantProblems := []string{
		"flow map edge map[id:x source:api target:dns]: want id = source->target",
		"flow map node map[id:db title:db]: want title = id and a subtitle (its group)",
	}
	if diff := cmp.Diff(wantProblems, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	_, p := FlowMapOf(outcomes[:1])
	if want := "node graph queries by target map[edges:1], want one edges and one nodes"; len(p) != 2 || p[1] != want {
		t.Errorf("a flow map without its nodes query: problems %q, want the bad edge and %q", p, want)
	}
}
