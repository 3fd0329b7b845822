package capture

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchScriptRefusesIncomplete: scripts/bench-l7.sh (make bench-l7)
// fails before measuring anything, and leaves BENCHMARKS.md alone, when the
// comparison with ndpiReader cannot run: a record without it would replace
// the one that has it.
func TestBenchScriptRefusesIncomplete(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// A PATH of chosen tools: dirname, and stand-ins for the tools the
	// script checks for (ndpiReader only when the case wants it).
	tools := func(t *testing.T, withNDPI bool) string {
		dir := t.TempDir()
		p, err := exec.LookPath("dirname")
		if err != nil {
			t.Fatalf("dirname: %v", err)
		}
		if err := os.Symlink(p, filepath.Join(dir, "dirname")); err != nil {
			t.Fatal(err)
		}
		fakes := []string{"taskset", "bc", "capinfos"}
		if withNDPI {
			fakes = append(fakes, "ndpiReader")
		}
		for _, n := range fakes {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name     string
		withNDPI bool
		env      []string
		msg      string
	}{
		{"no ndpiReader", false, nil, "ndpiReader not installed"},
		{"capture not readable", true, []string{"BENCH_CAPTURE=/nonexistent/mixed.pcap"}, "BENCH_CAPTURE=/nonexistent/mixed.pcap: not a readable file"},
	}
	before, err := os.ReadFile(filepath.Join(root, "BENCHMARKS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bash, filepath.Join(root, "scripts/bench-l7.sh"))
			cmd.Env = append([]string{"PATH=" + tools(t, tc.withNDPI), "GO=/nonexistent/go"}, tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; stderr:\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.msg) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.msg)
			}
			after, err := os.ReadFile(filepath.Join(root, "BENCHMARKS.md"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("BENCHMARKS.md changed")
			}
		})
	}
}
