package learn

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"bulkhead.dev/bulkhead/l7"
)

// SnapshotVersion is the version of the graph JSON format this package
// writes and reads.
const SnapshotVersion = 1

// Snapshot is a learned graph as data: the JSON form of the graph. Workloads
// are sorted by name and edges by key, so equal graphs encode identically.
type Snapshot struct {
	Version   int            `json:"version"`
	Workloads []WorkloadInfo `json:"workloads"`
	Edges     []Edge         `json:"edges"`
}

// WorkloadInfo is a workload seen in the graph, with its labels.
type WorkloadInfo struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Edge is one learned edge.
type Edge struct {
	Src       Peer      `json:"src"`
	Dst       Peer      `json:"dst"`
	Proto     string    `json:"proto"` // "tcp" or "udp"
	Port      uint16    `json:"port"`  // the server port
	App       l7.App    `json:"app"`
	Count     uint64    `json:"count"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// Values are the distinct L7 values seen, sorted; ValuesMore is set when
	// more distinct values were seen than the graph keeps.
	Values     []Value `json:"values,omitempty"`
	ValuesMore bool    `json:"valuesMore,omitempty"`
}

// Key returns the edge's key.
func (e *Edge) Key() EdgeKey {
	p, _ := parseProto(e.Proto)
	return EdgeKey{Src: e.Src, Dst: e.Dst, Proto: p, Port: e.Port, App: e.App}
}

func protoName(p l7.Transport) string {
	if p == l7.UDP {
		return "udp"
	}
	return "tcp"
}

func parseProto(s string) (l7.Transport, bool) {
	switch s {
	case "tcp":
		return l7.TCP, true
	case "udp":
		return l7.UDP, true
	}
	return 0, false
}

func compareEdges(a, b *Edge) int {
	if c := ComparePeers(a.Src, b.Src); c != 0 {
		return c
	}
	if c := ComparePeers(a.Dst, b.Dst); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port), cmp.Compare(a.App, b.App))
}

func (s *Snapshot) sort() {
	slices.SortFunc(s.Workloads, func(a, b WorkloadInfo) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(s.Edges, func(a, b Edge) int { return compareEdges(&a, &b) })
	for i := range s.Edges {
		sortValues(s.Edges[i].Values)
	}
}

func sortValues(vs []Value) {
	slices.SortFunc(vs, func(a, b Value) int { return compareValues(&a.Values, &b.Values) })
}

// WriteJSON writes the snapshot as indented JSON.
func (s *Snapshot) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("learn: write graph: %w", err)
	}
	return nil
}

// ReadJSON reads a snapshot written by WriteJSON (any supported version),
// checks it and returns it sorted.
func ReadJSON(r io.Reader) (Snapshot, error) {
	var s Snapshot
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Snapshot{}, fmt.Errorf("learn: read graph: %w", err)
	}
	if s.Version != SnapshotVersion {
		return Snapshot{}, fmt.Errorf("learn: read graph: unsupported version %d (want %d)", s.Version, SnapshotVersion)
	}
	for i := range s.Edges {
		e := &s.Edges[i]
		if _, ok := parseProto(e.Proto); !ok {
			return Snapshot{}, fmt.Errorf("learn: read graph: edges[%d]: bad proto %q", i, e.Proto)
		}
		if e.Port == 0 {
			return Snapshot{}, fmt.Errorf("learn: read graph: edges[%d]: port 0", i)
		}
		if !e.Src.valid() || !e.Dst.valid() {
			return Snapshot{}, fmt.Errorf("learn: read graph: edges[%d]: src and dst are required", i)
		}
	}
	for i, w := range s.Workloads {
		if w.Name == "" {
			return Snapshot{}, fmt.Errorf("learn: read graph: workloads[%d]: empty name", i)
		}
	}
	s = Merge(DefaultLimits.MaxValues, s) // canonical: duplicates folded, sorted
	return s, nil
}

// Merge combines snapshots (from several nodes, or several saves) into one:
// edges with the same key add their counts, keep the earliest first-seen and
// latest last-seen time, and unite their L7 values, keeping the maxValues
// smallest (the edge is then marked ValuesMore); workload labels are united
// (on a conflict the smaller value wins). Merge is commutative and
// associative.
func Merge(maxValues int, snaps ...Snapshot) Snapshot {
	if maxValues <= 0 {
		maxValues = DefaultLimits.MaxValues
	}
	workloads := map[string]map[string]string{}
	edges := map[EdgeKey]Edge{}
	for _, s := range snaps {
		for _, w := range s.Workloads {
			if _, ok := workloads[w.Name]; !ok {
				workloads[w.Name] = maps.Clone(w.Labels)
				continue
			}
			workloads[w.Name] = mergeLabels(workloads[w.Name], w.Labels)
		}
		for _, e := range s.Edges {
			k := e.Key()
			if old, ok := edges[k]; ok {
				edges[k] = mergeEdge(old, e, maxValues)
			} else {
				edges[k] = mergeEdge(Edge{Src: e.Src, Dst: e.Dst, Proto: e.Proto, Port: e.Port, App: e.App, FirstSeen: e.FirstSeen, LastSeen: e.LastSeen}, e, maxValues)
			}
		}
	}
	out := Snapshot{Version: SnapshotVersion, Workloads: []WorkloadInfo{}, Edges: []Edge{}}
	for name, labels := range workloads {
		if len(labels) == 0 {
			labels = nil
		}
		out.Workloads = append(out.Workloads, WorkloadInfo{Name: name, Labels: labels})
	}
	for _, e := range edges {
		out.Edges = append(out.Edges, e)
	}
	out.sort()
	return out
}

// mergeEdge folds b into a (same key).
func mergeEdge(a, b Edge, maxValues int) Edge {
	a.Count += b.Count
	if b.FirstSeen.Before(a.FirstSeen) {
		a.FirstSeen = b.FirstSeen
	}
	if b.LastSeen.After(a.LastSeen) {
		a.LastSeen = b.LastSeen
	}
	a.FirstSeen, a.LastSeen = a.FirstSeen.UTC(), a.LastSeen.UTC()
	a.ValuesMore = a.ValuesMore || b.ValuesMore
	counts := map[Values]uint64{}
	for _, v := range a.Values {
		counts[v.Values] += v.Count
	}
	for _, v := range b.Values {
		counts[v.Values] += v.Count
	}
	vals := make([]Value, 0, len(counts))
	for v, n := range counts {
		vals = append(vals, Value{Values: v, Count: n})
	}
	sortValues(vals)
	if len(vals) > maxValues {
		vals = vals[:maxValues]
		a.ValuesMore = true
	}
	if len(vals) == 0 {
		vals = nil
	}
	a.Values = vals
	return a
}
