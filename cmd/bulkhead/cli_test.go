package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/agent/api"
	"bulkhead.dev/bulkhead/agent/modes"
)

// cliAgent is an in-memory agent behind a real API server, for the CLI
// verbs. SetMode answers as the agent does when a group is not (or no
// longer) in its mode table: an error the agent package wrapped.
type cliAgent struct {
	modes *modes.Table
	flows []api.FlowFilter // the filters the verbs sent
}

func newCLIAgent() *cliAgent {
	tab := modes.New(modes.Learn, func() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) })
	tab.SetPolicy(modes.Learn, map[string]modes.Mode{"api": modes.Protect, "db": modes.Monitor})
	return &cliAgent{modes: tab}
}

func (a *cliAgent) Status(context.Context) (api.Status, error) {
	return api.Status{Node: "n", DefaultMode: "learn", FailMode: "open"}, nil
}
func (a *cliAgent) Ready(context.Context) []api.Check                    { return nil }
func (a *cliAgent) Workloads(context.Context) ([]api.Workload, error)    { return nil, nil }
func (a *cliAgent) Graph(context.Context, bool) (json.RawMessage, error) { return nil, nil }
func (a *cliAgent) Policy(context.Context) (api.Policy, error)           { return api.Policy{}, nil }
func (a *cliAgent) ReloadPolicy(context.Context) (api.PolicyInfo, error) {
	return api.PolicyInfo{}, nil
}
func (a *cliAgent) Modes(context.Context) ([]modes.Entry, error) { return a.modes.List(), nil }

func (a *cliAgent) Flows(_ context.Context, f api.FlowFilter) ([]api.Flow, error) {
	a.flows = append(a.flows, f)
	return nil, nil
}

func (a *cliAgent) SetMode(_ context.Context, group string, m modes.Mode) (modes.Entry, error) {
	// As if the group left the policy between the verb's two calls.
	if _, err := modes.New(modes.Learn, time.Now).Set(group, m, modes.FromOperator); err != nil {
		return modes.Entry{}, fmt.Errorf("agent: %w", err)
	}
	return modes.Entry{}, nil
}

// serveCLIAgent serves a on a unix socket and returns its path.
func serveCLIAgent(t *testing.T, a *cliAgent) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "bh.sock")
	s := api.NewServer(a, nil, api.Options{})
	if err := s.ListenAndServeUnix(sock); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return sock
}

// TestCLIVerbs: the verbs refuse filter values no flow can have (exit 2,
// naming the value and the allowed ones) instead of printing "no flows",
// name the groups when one is unknown, print one group without the row of
// workloads in no group, and never repeat the agent's error prefix.
func TestCLIVerbs(t *testing.T) {
	a := newCLIAgent()
	sock := serveCLIAgent(t, a)
	for _, tt := range []struct {
		args       []string
		code       int
		stdout     string // exact
		stderrHas  string
		stderrNot  string
		sentFilter bool
	}{
		{args: []string{"flows", "--verdict", "nope"}, code: 2,
			stderrHas: `bulkhead flows: usage: unknown verdict "nope" (want undecided, allow, deny, inspect)`},
		{args: []string{"flows", "--app", "htp"}, code: 2, stderrHas: `unknown app "htp" (want http, `},
		{args: []string{"flows", "--limit", "-1"}, code: 2, stderrHas: "bad limit -1 (want 1-10000)"},
		{args: []string{"flows", "--verdict", "DENY", "--app", "Redis"}, code: 0, stdout: "no flows\n", sentFilter: true},
		{args: []string{"events", "--type", "drop,nope"}, code: 2, stderrHas: `--type: unknown event type "nope" (want violation, drop, `},
		{args: []string{"events", "--limit", "-2"}, code: 2, stderrHas: "--limit -2: want a number ≥ 0"},
		{args: []string{"mode", "ghost"}, code: 1, stderrHas: `bulkhead mode: unknown group "ghost" (the policy's groups: api, db)`},
		{args: []string{"mode", "ghost", "protect"}, code: 1, stderrHas: `bulkhead mode: unknown group "ghost" (the policy's groups: api, db)`},
		{args: []string{"mode", "db"}, code: 0,
			stdout: "GROUP  MODE     POLICY MODE  SET BY  SINCE\ndb     monitor  monitor      policy  -\n"},
		{args: []string{"mode", "db", "protect"}, code: 1,
			stderrHas: `bulkhead mode: agent: modes: set "db": unknown group "db" (HTTP 404)`, stderrNot: "agent: agent:"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := len(a.flows)
			args := append([]string{tt.args[0], "--api", sock}, tt.args[1:]...)
			var out, errOut bytes.Buffer
			code := run(context.Background(), args, &out, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.stderrHas) ||
				(tt.stderrNot != "" && strings.Contains(errOut.String(), tt.stderrNot)) || (tt.code != 0 && out.Len() > 0) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s\nwant stderr with %q", code, tt.code, out.String(), errOut.String(), tt.stderrHas)
			}
			if tt.stdout != "" && out.String() != tt.stdout {
				t.Errorf("stdout %q, want %q", out.String(), tt.stdout)
			}
			if sent := len(a.flows) > before; sent != tt.sentFilter {
				t.Errorf("asked the agent for flows: %v, want %v", sent, tt.sentFilter)
			}
		})
	}
	if last := a.flows[len(a.flows)-1]; last.Verdict != "deny" || last.App != "redis" {
		t.Errorf("filter sent %+v, want verdict deny and app redis", last)
	}
}
