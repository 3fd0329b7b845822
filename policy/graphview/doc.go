// Package graphview turns a learned communication graph into pictures.
//
// It works in three steps, each plain data in and out:
//
//  1. ReadInput decodes what the agent serves or saves — a learned graph
//     (learn.Snapshot JSON), optionally wrapped with per-edge verdict counts
//     ({"graph": ..., "verdicts": [...]}), or the agent's state file — and
//     MergeInputs combines several of them (graphs from several nodes).
//  2. Build makes the view model (Graph): one node per workload, external
//     name group, address group, the host and the world; one edge per
//     pair of nodes, listing its services (protocol, ports, app), a short
//     L7 summary, counts, first and last seen, and a verdict tally whose
//     worst outcome colours the edge.
//  3. Renderers print the view: WriteDot (Graphviz), WriteMermaid
//     (flowchart), WriteJSON (the view model). Write dispatches on a Format
//     and pipes the dot text through Graphviz for SVG and PNG.
//
// The package is pure logic except for running Graphviz, which goes through
// the small Graphviz interface (ExecGraphviz runs the dot program). Every
// output is sorted and stable: the same input always gives the same bytes.
// User-controlled strings (workload names, labels, L7 values) are escaped
// for each output format, so that a hostile name cannot break or inject into
// a picture. docs/graph.md describes the formats.
package graphview
