// Package benchkit holds what Bulkhead's benchmark tools share: medians
// and target checks for their Markdown tables, the parser of "go test
// -bench" output, the recording of a table as one section (or subsection)
// of BENCHMARKS.md, and the application loads run in testenv containers
// (a Go HTTP server measured with wrk, redis-server measured with
// redis-benchmark).
//
// Its users are dataplane/internal/benchtool, agent/internal/benchagent and
// policy/internal/benchreport; each keeps its own table layout.
package benchkit
