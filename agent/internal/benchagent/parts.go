package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"bulkhead.dev/bulkhead/internal/benchkit"
)

// renderParts prints the medians of the micro-benchmarks.
func renderParts(results []*benchkit.Result, command, notes string) string {
	var b strings.Builder
	b.WriteString(benchkit.Recorded(time.Now(), command))
	b.WriteString("| Benchmark | runs | ns/op (median) | B/op | allocs/op | other (median) |\n| --- | ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range results {
		var other []string
		for _, u := range r.Units {
			if u != "ns/op" && u != "B/op" && u != "allocs/op" {
				other = append(other, fmt.Sprintf("%.0f %s", r.Median(u), u))
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.0f | %.0f | %s |\n", r.Name, len(r.Values["ns/op"]), r.Median("ns/op"),
			r.Median("B/op"), r.Median("allocs/op"), strings.Join(other, ", "))
	}
	if notes != "" {
		b.WriteString("\n" + notes + "\n")
	}
	return b.String()
}

// runParts reads benchmark output on stdin and records its table.
func runParts(record, command, notes string) error {
	results, err := benchkit.ParseBench(os.Stdin, os.Stderr)
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
	return benchkit.RecordSubsection(record, "Agent", "Parts: make bench-agent-parts", table)
}
