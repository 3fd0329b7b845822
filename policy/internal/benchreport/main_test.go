package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseAndRender(t *testing.T) {
	in := `goos: linux
BenchmarkEvaluate/groups=10-2   	 100	       150.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkEvaluate/groups=10-2   	 100	       170.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkEvaluate/groups=10-2   	 100	       160.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClassify-2   	 100	       9000 ns/op	       496 B/op	       5 allocs/op
PASS
`
	res, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got := render(res, "make x", "", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	want := "Recorded 2026-01-02 with:\n\n    make x\n\n" +
		"| Benchmark | runs | ns/op (median) | min | max | B/op | allocs/op |\n" +
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n" +
		"| Evaluate/groups=10 | 3 | 160.0 | 150.0 | 170.0 | 0 | 0 |\n" +
		"| Classify | 1 | 9000.0 | 9000.0 | 9000.0 | 496 | 5 |\n"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# Benchmarks\n\n## Dataplane\n\nold dp\n\n## Policy evaluation\n\nold policy\n\n## Agent\n\nagent\n"
	got := replaceSection(doc, "Policy evaluation", "new table\n")
	want := "# Benchmarks\n\n## Dataplane\n\nold dp\n\n## Policy evaluation\n\nnew table\n\n## Agent\n\nagent\n"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	got = replaceSection("# Benchmarks\n\n## Dataplane\n\ndp\n", "Policy evaluation", "t\n")
	if want := "# Benchmarks\n\n## Dataplane\n\ndp\n\n## Policy evaluation\n\nt\n"; got != want {
		t.Errorf("append: %q", got)
	}
	if got := replaceSection("", "P", "t\n"); !strings.HasSuffix(got, "## P\n\nt\n") {
		t.Errorf("new file: %q", got)
	}
}
