package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/internal/benchkit"
)

func TestParseAndRender(t *testing.T) {
	in := `goos: linux
BenchmarkEvaluate/groups=10-2   	 100	       150.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkEvaluate/groups=10-2   	 100	       170.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkEvaluate/groups=10-2   	 100	       160.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClassify-2   	 100	       9000 ns/op	       496 B/op	       5 allocs/op
PASS
`
	res, err := benchkit.ParseBench(strings.NewReader(in), io.Discard)
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
