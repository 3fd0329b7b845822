package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/policy/graphview"
)

const (
	graphInputFile = "../../policy/graphview/testdata/realistic.input.json"
	graphDotGolden = "../../policy/graphview/testdata/realistic.dot"
)

// runGraphCmd runs the binary's command line in process.
func runGraphCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

// fakeGraphAgent serves GET /v1/graph?verdicts=1 on a unix socket with
// body.
func fakeGraphAgent(t *testing.T, status int, body []byte) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/graph", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("verdicts") != "1" {
			t.Errorf("GET %s: the command did not ask for the verdict counts", r.URL)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	})
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return sock
}

func TestGraphCommand(t *testing.T) {
	want, err := os.ReadFile(graphDotGolden)
	if err != nil {
		t.Fatal(err)
	}
	input, err := os.ReadFile(graphInputFile)
	if err != nil {
		t.Fatal(err)
	}
	sock := fakeGraphAgent(t, http.StatusOK, input)
	for name, args := range map[string][]string{
		"file":  {"graph", "--file", graphInputFile},
		"agent": {"graph", "--api", sock},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runGraphCmd(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if d := cmp.Diff(string(want), out); d != "" {
				t.Errorf("dot differs from the package's golden file (-want +got):\n%s", d)
			}
		})
	}
	t.Run("files are merged", func(t *testing.T) {
		code, out, errOut := runGraphCmd(t, "graph", "--format", "json", "--file", graphInputFile, graphInputFile)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var g graphview.Graph
		if err := json.Unmarshal([]byte(out), &g); err != nil {
			t.Fatal(err)
		}
		one, _ := graphview.ReadInput(bytes.NewReader(input))
		single, _ := graphview.Build(one, graphview.Options{})
		for i := range g.Edges {
			if g.Edges[i].Count != 2*single.Edges[i].Count || g.Edges[i].Verdicts.Total() != 2*single.Edges[i].Verdicts.Total() {
				t.Errorf("edge %s->%s: counts not added up", g.Edges[i].Src, g.Edges[i].Dst)
			}
		}
	})
	t.Run("filters and -o", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "db.mmd")
		code, stdout, errOut := runGraphCmd(t, "graph", "--file", graphInputFile, "--workload", "db", "--app", "redis", "--format", "mermaid", "-o", out)
		if code != 0 || stdout != "" {
			t.Fatalf("exit %d, stdout %q: %s", code, stdout, errOut)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "-->") + strings.Count(string(b), "-.->"); n != 2 {
			t.Errorf("%d links, want 2 (api->db, frontend->db):\n%s", n, b)
		}
	})
	t.Run("svg", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "g.svg")
		code, _, errOut := runGraphCmd(t, "graph", "--file", graphInputFile, "--format", "svg", "-o", out)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		b, _ := os.ReadFile(out)
		if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("workload:frontend")) {
			t.Errorf("not an SVG of the graph: %.200s", b)
		}
	})
}

func TestGraphCommandErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-agent.sock")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"agent not running", []string{"graph", "--api", missing}, 1, "cannot reach the agent at " + missing + ": is it running?"},
		{"bad format", []string{"graph", "--format", "gif"}, 2, `--format "gif"`},
		{"bad app", []string{"graph", "--app", "http,gopher"}, 2, `--app "gopher": unknown app`},
		{"bad max-external", []string{"graph", "--max-external", "-1"}, 2, "--max-external -1"},
		{"bad flag", []string{"graph", "--nope"}, 2, "flag provided but not defined"},
		{"missing file", []string{"graph", "--file", "/nonexistent/g.json"}, 1, "no such file"},
		{"not a graph", []string{"graph", "--file", "graph_test.go"}, 1, "graph_test.go: graphview: read input"},
		{"unknown workload", []string{"graph", "--file", graphInputFile, "--workload", "nosuch"}, 1, `workload "nosuch" is not in the graph`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runGraphCmd(t, c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, c.code, c.want)
			}
		})
	}
	t.Run("agent has no graph", func(t *testing.T) {
		sock := fakeGraphAgent(t, http.StatusServiceUnavailable, []byte(`{"error":"no learned graph yet"}`))
		code, _, errOut := runGraphCmd(t, "graph", "--api", sock)
		if code != 1 || !strings.Contains(errOut, "has no learned graph to show") || !strings.Contains(errOut, sock) {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("agent answers garbage", func(t *testing.T) {
		sock := fakeGraphAgent(t, http.StatusOK, []byte(`{"hello":1}`))
		code, _, errOut := runGraphCmd(t, "graph", "--api", sock)
		if code != 1 || !strings.Contains(errOut, "not a graph") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

// TestGraphPictureOnTerminal: svg and png are refused on a terminal
// without -o (checked through the same isTerminal the command uses).
func TestGraphPictureOnTerminal(t *testing.T) {
	// The master side of a pseudo-terminal answers terminal requests.
	tty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to test with: %v", err)
	}
	defer tty.Close()
	var stderr bytes.Buffer
	err = runGraph(context.Background(), []string{"--file", graphInputFile, "--format", "png"}, tty, &stderr)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "give -o FILE") {
		t.Errorf("err = %v, want a usage error asking for -o", err)
	}
}
