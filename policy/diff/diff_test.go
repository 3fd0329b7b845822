package diff

import (
	"bytes"
	"path/filepath"
	"testing"

	"bulkhead.dev/bulkhead/internal/golden"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

func load(t *testing.T, path string) *policy.Policy {
	t.Helper()
	p, err := policy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDiffGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, Diff(load(t, "testdata/old.yaml"), load(t, "testdata/new.yaml"))); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/old-new.golden", buf.Bytes())
}

// TestDiffCases compares, for each directory of testdata/cases, old/ with
// new/ (one policy file of the same name in each, so that unnamed rules
// keep their IDs) and checks the output against testdata/NAME.golden.
func TestDiffCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/cases/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, Diff(load(t, filepath.Join(dir, "old")), load(t, filepath.Join(dir, "new")))); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "testdata/"+name+".golden", buf.Bytes())
		})
	}
}

func TestDiffIdentical(t *testing.T) {
	old := load(t, "testdata/old.yaml")
	if got := Diff(old, load(t, "testdata/old.yaml")); len(got) != 0 {
		t.Errorf("identical policies differ: %v", got)
	}
	var buf bytes.Buffer
	Write(&buf, nil)
	if buf.String() != "no changes\n" {
		t.Errorf("got %q", buf.String())
	}
}

func TestPortsCover(t *testing.T) {
	p := func(proto l7.Transport, lo, hi uint16) policy.PortRange {
		return policy.PortRange{Proto: proto, Lo: lo, Hi: hi}
	}
	tests := []struct {
		a, b []policy.PortRange
		want bool
	}{
		{nil, []policy.PortRange{p(l7.TCP, 80, 80)}, true},
		{[]policy.PortRange{p(l7.TCP, 80, 80)}, nil, false},
		{[]policy.PortRange{p(l7.TCP, 1, 100), p(l7.TCP, 101, 200)}, []policy.PortRange{p(l7.TCP, 50, 150)}, true},
		{[]policy.PortRange{p(l7.TCP, 1, 100)}, []policy.PortRange{p(l7.UDP, 50, 50)}, false},
		{[]policy.PortRange{p(0, 1, 100)}, []policy.PortRange{p(l7.UDP, 50, 50)}, true},
		{[]policy.PortRange{p(l7.TCP, 1, 65535), p(l7.UDP, 1, 65535)}, nil, true},
	}
	for _, tt := range tests {
		if got := portsCover(tt.a, tt.b); got != tt.want {
			t.Errorf("portsCover(%v, %v) = %v", tt.a, tt.b, got)
		}
	}
}
