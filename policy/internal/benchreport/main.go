// Command benchreport turns "go test -bench -benchmem" output into a
// Markdown table of medians and records it as one section of BENCHMARKS.md,
// leaving the other sections as they are. It is run by "make bench-policy".
//
//	go test ./policy -run '^$' -bench . -benchmem -count 5 | \
//	  go run ./policy/internal/benchreport -section "Policy evaluation" -command "..." -file BENCHMARKS.md
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"bulkhead.dev/bulkhead/internal/benchkit"
)

func main() {
	section := flag.String("section", "", "title of the BENCHMARKS.md section to write (## TITLE)")
	command := flag.String("command", "", "the command that produced the input, recorded with the table")
	notes := flag.String("notes", "", "text written under the table")
	file := flag.String("file", "BENCHMARKS.md", "file to update; empty: only print the table")
	flag.Parse()
	if *section == "" {
		fmt.Fprintln(os.Stderr, "benchreport: -section is required")
		os.Exit(2)
	}
	results, err := benchkit.ParseBench(os.Stdin, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "benchreport: no benchmark result in the input")
		os.Exit(1)
	}
	body := render(results, *command, *notes, time.Now().UTC())
	fmt.Print(body)
	if *file == "" {
		return
	}
	if err := benchkit.RecordSection(*file, *section, body); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
}

// render prints the medians of the benchmarks' ns/op (with their spread),
// B/op and allocs/op.
func render(results []*benchkit.Result, command, notes string, now time.Time) string {
	var b strings.Builder
	b.WriteString(benchkit.Recorded(now, command))
	b.WriteString("| Benchmark | runs | ns/op (median) | min | max | B/op | allocs/op |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		ns := r.Values["ns/op"]
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.1f | %.0f | %.0f |\n", r.Name, len(ns), benchkit.Median(ns),
			slices.Min(ns), slices.Max(ns), r.Median("B/op"), r.Median("allocs/op"))
	}
	if notes != "" {
		b.WriteString("\n" + notes + "\n")
	}
	return b.String()
}
