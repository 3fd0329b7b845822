package benchkit

import (
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseBench(t *testing.T) {
	in := `goos: linux
BenchmarkEvaluate/groups=10-2   	 100	       150.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkTable-2   	 100	       9000 ns/op	       496 B/op	       5 allocs/op	       394.0 bytes/flow
BenchmarkEvaluate/groups=10-2   	 100	       170.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkParse/http-get   	 100	       20.0 ns/op
PASS
`
	var other strings.Builder
	got, err := ParseBench(strings.NewReader(in), &other)
	if err != nil {
		t.Fatal(err)
	}
	want := []*Result{
		{Name: "Evaluate/groups=10", Units: []string{"ns/op", "B/op", "allocs/op"},
			Values: map[string][]float64{"ns/op": {150, 170}, "B/op": {0, 0}, "allocs/op": {0, 0}}},
		{Name: "Table", Units: []string{"ns/op", "B/op", "allocs/op", "bytes/flow"},
			Values: map[string][]float64{"ns/op": {9000}, "B/op": {496}, "allocs/op": {5}, "bytes/flow": {394}}},
		// GOMAXPROCS=1: no suffix, the name's own '-' stays.
		{Name: "Parse/http-get", Units: []string{"ns/op"}, Values: map[string][]float64{"ns/op": {20}}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("results (-want +got):\n%s", d)
	}
	if d := cmp.Diff("goos: linux\nPASS\n", other.String()); d != "" {
		t.Errorf("other lines (-want +got):\n%s", d)
	}
	if m := got[0].Median("ns/op"); m != 160 {
		t.Errorf("median ns/op = %v, want 160", m)
	}
}

func TestParseBenchError(t *testing.T) {
	_, err := ParseBench(strings.NewReader("BenchmarkX-2 100 fast ns/op\n"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), `"BenchmarkX-2 100 fast ns/op"`) {
		t.Errorf("error = %v, want one naming the line", err)
	}
}

func FuzzParseBench(f *testing.F) {
	f.Add("BenchmarkX-2 100 1.5 ns/op 0 B/op 0 allocs/op 394 bytes/flow\nPASS\n")
	f.Add("Benchmark-2 1 2 x\nBenchmarkY 1 NaN ns/op\n")
	f.Add("goos: linux\n")
	f.Fuzz(func(t *testing.T, in string) {
		res, err := ParseBench(strings.NewReader(in), io.Discard)
		if err != nil {
			return
		}
		for _, r := range res {
			if len(r.Units) != len(r.Values) {
				t.Fatalf("%s: units %v, values of %d units", r.Name, r.Units, len(r.Values))
			}
			for _, u := range r.Units {
				if len(r.Values[u]) == 0 {
					t.Fatalf("%s: unit %s without a value", r.Name, u)
				}
			}
		}
	})
}
