package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// partResult is one benchmark's values per unit over the runs.
type partResult struct {
	name   string
	units  []string // in first-seen order
	values map[string][]float64
}

// parseBench reads "go test -bench" output: "BenchmarkX-2  N  1.5 ns/op
// 0 B/op  0 allocs/op  394 bytes/flow"; other lines go to stderr.
func parseBench(r io.Reader) ([]*partResult, error) {
	byName := map[string]*partResult{}
	var order []*partResult
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			fmt.Fprintln(os.Stderr, sc.Text())
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		res := byName[name]
		if res == nil {
			res = &partResult{name: name, values: map[string][]float64{}}
			byName[name] = res
			order = append(order, res)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", sc.Text(), err)
			}
			u := f[i+1]
			if _, ok := res.values[u]; !ok {
				res.units = append(res.units, u)
			}
			res.values[u] = append(res.values[u], v)
		}
	}
	return order, sc.Err()
}

// renderParts prints the medians of the micro-benchmarks.
func renderParts(results []*partResult, command, notes string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Recorded %s with:\n\n    %s\n\n", time.Now().UTC().Format("2006-01-02"), command)
	b.WriteString("| Benchmark | runs | ns/op (median) | B/op | allocs/op | other (median) |\n| --- | ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range results {
		var other []string
		for _, u := range r.units {
			if u != "ns/op" && u != "B/op" && u != "allocs/op" {
				other = append(other, fmt.Sprintf("%.0f %s", median(r.values[u]), u))
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.0f | %.0f | %s |\n", r.name, len(r.values["ns/op"]), median(r.values["ns/op"]),
			median(r.values["B/op"]), median(r.values["allocs/op"]), strings.Join(other, ", "))
	}
	if notes != "" {
		b.WriteString("\n" + notes + "\n")
	}
	return b.String()
}

// runParts reads benchmark output on stdin and records its table.
func runParts(record, command, notes string) error {
	results, err := parseBench(os.Stdin)
	if err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("no benchmark result on standard input")
	}
	table := renderParts(results, command, notes)
	fmt.Print(table)
	if record == "" {
		return nil
	}
	return recordSubsection(record, "Agent", "Parts: make bench-agent-parts", table)
}
