package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/internal/golden"
)

// policyTestdata holds the policy command fixtures: a policy directory of
// two files, a changed copy, an invalid file, graphs, and the goldens.
const policyTestdata = "testdata/policy"

// runPolicyCmd runs "bulkhead policy args..." through the command line
// entry point.
func runPolicyCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"policy"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestPolicyCommands runs every verb of "bulkhead policy" through the
// command line entry point: exit status (0 done, 1 bad input, 2 bad command
// line), what goes to standard output and what to standard error, -o,
// flags after file names, directories. "OUT" in args is a file in a
// temporary directory; when outFile is set the output is read from it.
func TestPolicyCommands(t *testing.T) {
	const (
		dir   = policyTestdata + "/dir"
		bad   = policyTestdata + "/bad.yaml"
		newer = policyTestdata + "/new.yaml"
		graph = policyTestdata + "/graph.json"
	)
	tests := []struct {
		name string
		args []string
		code int
		// golden names the file holding the expected standard output
		// (or -o file); stdout, when golden is empty, is the exact
		// expected output.
		golden, stdout string
		// stderr lists strings standard error must contain; none: it
		// must be empty.
		stderr  []string
		outFile bool
	}{
		// check
		{name: "check a directory", args: []string{"check", dir}, stdout: "ok: 3 groups, 2 rules in 2 files\n"},
		{name: "check a directory and a file", args: []string{"check", dir + "/groups.yaml", dir + "/rules.yaml"}, stdout: "ok: 3 groups, 2 rules in 2 files\n"},
		{name: "check lists errors on stdout", args: []string{"check", bad}, code: 1, golden: "check-bad.golden",
			stderr: []string{"bulkhead policy: 3 error(s) in " + bad + "\n"}},
		{name: "check an invalid file among valid ones", args: []string{"check", dir, bad}, code: 1, golden: "check-dir-bad.golden",
			stderr: []string{"4 error(s) in " + dir + " " + bad}},
		{name: "check a missing file", args: []string{"check", policyTestdata + "/missing.yaml"}, code: 1,
			stdout: policyTestdata + "/missing.yaml: read policy: stat " + policyTestdata + "/missing.yaml: no such file or directory\n",
			stderr: []string{"1 error(s) in " + policyTestdata + "/missing.yaml"}},
		{name: "check without a file", args: []string{"check"}, code: 2,
			stderr: []string{"policy check: no file or directory given", "usage: bulkhead policy"}},
		{name: "check with an unknown flag", args: []string{"check", "--strict", dir}, code: 2,
			stderr: []string{"flag provided but not defined: -strict"}},

		// generate
		{name: "generate", args: []string{"generate", graph}, golden: "generate.golden"},
		{name: "generate with flags after the graph", args: []string{"generate", graph, "--mode", "protect", "--name", "shop"}, golden: "generate-protect.golden"},
		{name: "generate to a file", args: []string{"generate", "-o", "OUT", graph}, golden: "generate.golden", outFile: true},
		{name: "generate with a negative threshold", args: []string{"generate", "--port-threshold", "-1", graph}, code: 2,
			stderr: []string{"--port-threshold -1: must be at least 1"}},
		{name: "generate with a zero threshold after the graph", args: []string{"generate", graph, "--dns-threshold", "0"}, code: 2,
			stderr: []string{"--dns-threshold 0: must be at least 1"}},
		{name: "generate with a bad mode", args: []string{"generate", "--mode", "strict", graph}, code: 2,
			stderr: []string{`unknown mode "strict"`}},
		{name: "generate with a bad auto-promote", args: []string{"generate", "--auto-promote", "soon", graph}, code: 2,
			stderr: []string{`--auto-promote: bad duration "soon"`}},
		{name: "generate from a broken graph", args: []string{"generate", graph, policyTestdata + "/broken.json"}, code: 1,
			stderr: []string{policyTestdata + "/broken.json: "}},
		{name: "generate from a missing graph", args: []string{"generate", policyTestdata + "/missing.json"}, code: 1,
			stderr: []string{"missing.json"}},
		{name: "generate without a graph", args: []string{"generate", "--mode", "protect"}, code: 2,
			stderr: []string{"no graph file given"}},

		// export
		{name: "export cilium with flags after the directory", args: []string{"export", dir, "--format", "cilium", "--namespace", "shop"}, golden: "export-cilium.golden"},
		{name: "export kubernetes to a file", args: []string{"export", "--format", "kubernetes", "--prefix", "bh.", "-o", "OUT", dir}, golden: "export-kubernetes.golden", outFile: true},
		{name: "export an unknown format", args: []string{"export", "--format", "yaml", dir}, code: 2,
			stderr: []string{`--format "yaml": want kubernetes or cilium`}},
		{name: "export without a format", args: []string{"export", dir}, code: 2,
			stderr: []string{"--format is required"}},
		{name: "export to a bad namespace", args: []string{"export", "--format", "cilium", "--namespace", "Bad NS!", dir}, code: 2,
			stderr: []string{`--namespace "Bad NS!": not a Kubernetes namespace name`}},
		{name: "export with a bad prefix", args: []string{"export", "--format", "kubernetes", dir, "--prefix", "X_"}, code: 2,
			stderr: []string{`--prefix "X_": object names PREFIX+GROUP would not be Kubernetes object names`}},
		{name: "export an invalid policy", args: []string{"export", "--format", "cilium", bad}, code: 1,
			stderr: []string{bad + `:10: rules[0].to: group "wbe" is not defined`, "3 error(s) in " + bad}},
		{name: "export without a file", args: []string{"export", "--format", "cilium"}, code: 2,
			stderr: []string{"no file or directory given"}},

		// diff
		{name: "diff", args: []string{"diff", dir, newer}, golden: "diff.golden"},
		{name: "diff without changes", args: []string{"diff", dir, dir}, stdout: "no changes\n"},
		{name: "diff with an invalid side", args: []string{"diff", dir, bad}, code: 1,
			stderr: []string{bad + ":11: rules[0].ports[0]: bad port", "3 error(s) in " + bad}},
		{name: "diff with one side", args: []string{"diff", dir}, code: 2,
			stderr: []string{"policy diff: want OLD and NEW"}},

		// the verb dispatch
		{name: "no verb", args: nil, code: 2, stderr: []string{"missing verb (one of check, diff, export, generate"}},
		{name: "unknown verb", args: []string{"lint", dir}, code: 2, stderr: []string{`unknown verb "lint"`}},
		{name: "flag help", args: []string{"export", "-h"}, code: 0, stderr: []string{"-format", "-namespace", "-prefix"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.yaml")
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "OUT", out)
			}
			code, stdout, stderr := runPolicyCmd(args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			got := stdout
			if tt.outFile {
				if stdout != "" {
					t.Errorf("with -o, stdout is not empty: %q", stdout)
				}
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				got = string(data)
			}
			switch {
			case tt.golden != "":
				golden.Check(t, filepath.Join(policyTestdata, tt.golden), []byte(got))
			case got != tt.stdout:
				t.Errorf("stdout %q, want %q", got, tt.stdout)
			}
			if len(tt.stderr) == 0 && stderr != "" {
				t.Errorf("stderr not empty: %q", stderr)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// TestPolicyHelp: "bulkhead policy help" lists every verb with its usage.
func TestPolicyHelp(t *testing.T) {
	code, stdout, stderr := runPolicyCmd("help")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, verb := range []string{"check", "diff", "export", "generate"} {
		if !strings.Contains(stdout, "bulkhead policy "+verb+" ") {
			t.Errorf("help lacks %s:\n%s", verb, stdout)
		}
	}
}
