// Package golden compares test output with golden files and rewrites them
// when the test binary runs with -update:
//
//	go test ./PKG -update               rewrite every golden file of PKG
//	go test ./PKG -run TestX -update    only those TestX writes
//
// Importing it defines the -update flag, once for the whole test binary: a
// package's tests must not define their own (the binary would panic with
// "flag redefined"). What a caller must normalise (versions, paths, JSON
// indentation) it normalises before calling Check.
//
// Review the diff of a rewritten file before committing it: a golden file
// is only as right as the last person who looked at it.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files (testdata/) with what the tests produce")

// Check compares got with the file at path (relative to the package's
// directory, e.g. "testdata/x.golden"). A difference is reported with
// t.Errorf as a cmp.Diff (-want +got) naming the file; a missing file stops
// the test with t.Fatalf. With -update it writes got to path instead,
// creating the directories it needs, and compares nothing.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("golden: update %s: %v", path, err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("golden: update %s: %v", path, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden: %v (%s creates it)", err, rerun(t))
		return
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got; %s rewrites it if the change is intended):\n%s", path, rerun(t), d)
	}
}

// rerun is the command that rewrites the golden files of t's top-level
// test.
func rerun(t testing.TB) string {
	top, _, _ := strings.Cut(t.Name(), "/")
	return "go test -run '^" + top + "$' -update"
}
