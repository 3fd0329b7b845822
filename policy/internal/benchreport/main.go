// Command benchreport turns "go test -bench -benchmem" output into a
// Markdown table of medians and records it as one section of BENCHMARKS.md,
// leaving the other sections as they are. It is run by "make bench-policy".
//
//	go test ./policy -run '^$' -bench . -benchmem -count 5 | \
//	  go run ./policy/internal/benchreport -section "Policy evaluation" -command "..." -file BENCHMARKS.md
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
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
	results, err := parse(os.Stdin)
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
	old, err := os.ReadFile(*file)
	if err != nil && !os.IsNotExist(err) {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*file, []byte(replaceSection(string(old), *section, body)), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
}

// result holds the runs of one benchmark.
type result struct {
	name   string
	ns     []float64
	bytes  []float64
	allocs []float64
}

// parse reads benchmark lines ("BenchmarkX-2  N  123 ns/op  0 B/op  0 allocs/op"),
// passing everything else through to stderr.
func parse(r io.Reader) ([]*result, error) {
	byName := map[string]*result{}
	var order []*result
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			fmt.Fprintln(os.Stderr, line)
			continue
		}
		name := fields[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // drop -GOMAXPROCS
		}
		res := byName[name]
		if res == nil {
			res = &result{name: strings.TrimPrefix(name, "Benchmark")}
			byName[name] = res
			order = append(order, res)
		}
		for i := 2; i+1 < len(fields); i += 2 {
			var v float64
			if _, err := fmt.Sscan(fields[i], &v); err != nil {
				return nil, fmt.Errorf("parse %q: %w", line, err)
			}
			switch fields[i+1] {
			case "ns/op":
				res.ns = append(res.ns, v)
			case "B/op":
				res.bytes = append(res.bytes, v)
			case "allocs/op":
				res.allocs = append(res.allocs, v)
			}
		}
	}
	return order, sc.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func render(results []*result, command, notes string, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Recorded %s with:\n\n    %s\n\n", now.Format("2006-01-02"), command)
	b.WriteString("| Benchmark | runs | ns/op (median) | min | max | B/op | allocs/op |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		lo, hi := r.ns[0], r.ns[0]
		for _, v := range r.ns {
			lo, hi = min(lo, v), max(hi, v)
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.1f | %.0f | %.0f |\n", r.name, len(r.ns), median(r.ns), lo, hi, median(r.bytes), median(r.allocs))
	}
	if notes != "" {
		b.WriteString("\n" + notes + "\n")
	}
	return b.String()
}

// replaceSection replaces the body of "## title" in doc (up to the next
// "## " heading), or appends the section.
func replaceSection(doc, title, body string) string {
	heading := "## " + title
	if doc == "" {
		doc = "# Benchmarks\n\nEach section is written by its make target; see the command in it.\n"
	}
	lines := strings.SplitAfter(doc, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimRight(l, "\n") == heading {
			start = i
			break
		}
	}
	section := heading + "\n\n" + body
	if start < 0 {
		return strings.TrimRight(doc, "\n") + "\n\n" + section
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") {
			end = i
			break
		}
	}
	rest := strings.Join(lines[end:], "")
	if rest != "" {
		section += "\n"
	}
	return strings.Join(lines[:start], "") + section + rest
}
