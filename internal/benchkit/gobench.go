package benchkit

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Result is one benchmark's values over the runs of "go test -bench".
type Result struct {
	// Name is the benchmark's name without "Benchmark" and without the
	// -GOMAXPROCS suffix ("Evaluate/groups=10").
	Name string
	// Units lists the units in the order they were first seen ("ns/op",
	// "B/op", "allocs/op", custom ones such as "bytes/flow").
	Units []string
	// Values holds each unit's value of every run, in input order.
	Values map[string][]float64
}

// Median is the median of the unit's values (0 when there are none).
func (r *Result) Median(unit string) float64 { return Median(r.Values[unit]) }

// ParseBench reads "go test -bench" output ("BenchmarkX-2  N  1.5 ns/op
// 0 B/op  0 allocs/op  394 bytes/flow") and returns its benchmarks in the
// order they first appear. Every other line (goos:, PASS, logs) is copied to
// other.
func ParseBench(r io.Reader, other io.Writer) ([]*Result, error) {
	byName := map[string]*Result{}
	var order []*Result
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			fmt.Fprintln(other, line)
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		// go test appends -GOMAXPROCS unless it is 1: a '-' followed by
		// something other than digits belongs to the name.
		if i := strings.LastIndexByte(name, '-'); i > 0 && i+1 < len(name) && strings.Trim(name[i+1:], "0123456789") == "" {
			name = name[:i]
		}
		res := byName[name]
		if res == nil {
			res = &Result{Name: name, Values: map[string][]float64{}}
			byName[name] = res
			order = append(order, res)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", line, err)
			}
			u := f[i+1]
			if _, ok := res.Values[u]; !ok {
				res.Units = append(res.Units, u)
			}
			res.Values[u] = append(res.Values[u], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}
	return order, nil
}
