package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recorder is a testing.TB that records what Check reports. Fatalf ends
// the goroutine, as testing.T's does.
type recorder struct {
	testing.TB // nil: a method Check is not expected to call panics
	name       string
	errors     []string
	fatal      string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.name }
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// check runs Check with a recorder, with -update set to upd.
func check(t *testing.T, upd bool, path string, got []byte) *recorder {
	t.Helper()
	old := *update
	*update = upd
	defer func() { *update = old }()
	r := &recorder{name: "TestThing/sub"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Check(r, path, got)
	}()
	<-done
	return r
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		file      string // "" = no file
		got       string
		upd       bool
		wantErr   []string // substrings of the one error, if any
		wantFatal string
		wantFile  string // content after the call; "" = no file
	}{
		{name: "same", file: "a\nb\n", got: "a\nb\n", wantFile: "a\nb\n"},
		{name: "differs", file: "alpha\nbravo\n", got: "alpha\ncharlie\n", wantFile: "alpha\nbravo\n",
			wantErr: []string{"x.golden differs (-want +got; go test -run '^TestThing$' -update rewrites it", "bravo", "charlie"}},
		{name: "missing", got: "a\n", wantFatal: "(go test -run '^TestThing$' -update creates it)"},
		{name: "update rewrites", file: "old\n", got: "new\n", upd: true, wantFile: "new\n"},
		{name: "update creates", got: "new\n", upd: true, wantFile: "new\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "testdata", "x.golden")
			if tt.file != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := check(t, tt.upd, path, []byte(tt.got))
			if len(tt.wantErr) == 0 && len(r.errors) != 0 {
				t.Errorf("errors %q, want none", r.errors)
			}
			if len(tt.wantErr) != 0 {
				if len(r.errors) != 1 {
					t.Fatalf("errors %q, want one", r.errors)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(r.errors[0], s) {
						t.Errorf("error %q does not contain %q", r.errors[0], s)
					}
				}
			}
			if (tt.wantFatal == "") != (r.fatal == "") || !strings.Contains(r.fatal, tt.wantFatal) {
				t.Errorf("fatal %q, want one containing %q", r.fatal, tt.wantFatal)
			}
			b, err := os.ReadFile(path)
			if tt.wantFile == "" {
				if err == nil {
					t.Errorf("%s was written: %q", path, b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.wantFile, string(b)); d != "" {
				t.Errorf("file after Check (-want +got):\n%s", d)
			}
		})
	}
}
