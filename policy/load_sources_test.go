package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLoadSourcesMatchesLoad: reading the files then validating the bytes
// gives what Load gives, positions and rule IDs included.
func TestLoadSourcesMatchesLoad(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.yaml":  header + "  groups:\n    - {name: web, selector: {matchLabels: {app: web}}}\n  rules:\n    - {from: web, to: world, ports: [tcp/443]}\n",
		"b.yml":   header + "  rules:\n    - {from: world, to: web, ports: [tcp/80]}\n",
		".c.yaml": "ignored: [",
		"d.txt":   "ignored",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srcs, err := ReadSources(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range srcs {
		names = append(names, filepath.Base(s.Name))
		if s.Name == filepath.Join(dir, "a.yaml") && string(s.Data) != files["a.yaml"] {
			t.Errorf("a.yaml read as %q", s.Data)
		}
	}
	if diff := cmp.Diff([]string{"a.yaml", "b.yml"}, names); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	fromSources, err := LoadSources(srcs)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(loaded, fromSources); diff != "" {
		t.Errorf("LoadSources differs from Load (-Load +LoadSources):\n%s", diff)
	}
}

func TestLoadSourcesErrors(t *testing.T) {
	tests := []struct {
		name string
		srcs []Source
		want string
	}{
		{"none", nil, "policy: load: no source given"},
		{"invalid", []Source{{Name: "/etc/p.yaml", Data: []byte(header + "  rules:\n    - {from: nope, to: host}\n")}},
			`/etc/p.yaml:6: rules[0].from: group "nope" is not defined`},
		{"too big", []Source{{Name: "big.yaml", Data: make([]byte, MaxFileSize+1)}},
			"big.yaml: read policy big.yaml: larger than 16777216 bytes"},
		{"bad yaml in second file", []Source{
			{Name: "ok.yaml", Data: []byte(header + "  rules: []\n")},
			{Name: "bad.yaml", Data: []byte("spec: [")}},
			"bad.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadSources(tt.srcs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			var list ErrorList
			if len(tt.srcs) > 0 && !errors.As(err, &list) {
				t.Errorf("error %T is not an ErrorList", err)
			}
		})
	}
}

func TestReadSourcesErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := ReadSources(missing, empty)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("error %v, want an ErrorList naming both paths", err)
	}
	for _, p := range []string{missing, empty} {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %s", err, p)
		}
	}
	if _, err := ReadSources(); err == nil {
		t.Error("ReadSources() with no path: no error")
	}
}
