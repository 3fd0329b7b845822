package benchkit

import (
	"fmt"
	"time"
)

// TargetHeader starts the Markdown table of targets whose rows Target and
// Verdict fill: "| name | wanted | measured | verdict |".
const TargetHeader = "\n| target | wanted | measured | |\n|---|---|---|---|\n"

// Recorded is the line that opens a recorded table: the day (UTC) and the
// command that made it, as an indented code block.
func Recorded(now time.Time, command string) string {
	return fmt.Sprintf("Recorded %s with:\n\n    %s\n\n", now.UTC().Format("2006-01-02"), command)
}

// Target judges ratio, a figure measured through Bulkhead over the same
// figure bare, against limit: at least limit when atLeast (throughput),
// else at most limit (latency). It returns the wanted column's text
// ("≥ 0.90× bare") and whether the target is met.
func Target(ratio, limit float64, atLeast bool) (wanted string, met bool) {
	if atLeast {
		return fmt.Sprintf("≥ %.2f× bare", limit), ratio >= limit
	}
	return fmt.Sprintf("≤ %.2f× bare", limit), ratio <= limit
}

// Verdict is the last column of a target's row: "met" or "NOT met".
func Verdict(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}
