package graphview

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy/learn"
)

// Input is what a picture is drawn from: a learned graph and, optionally,
// verdict counts per edge.
type Input struct {
	Graph learn.Snapshot
	// Verdicts are connection counts by verdict, per learned-edge key. They
	// may name edges the graph does not hold (a connection denied in protect
	// mode is never learned): those become edges of their own.
	Verdicts []VerdictCount
	// HasVerdicts is true when the input carried a "verdicts" list (even an
	// empty one): the picture then says what was counted.
	HasVerdicts bool
}

// VerdictCount is one element of the "verdicts" list: the connections of
// one (source, destination, protocol, server port, app) by verdict.
type VerdictCount struct {
	Src      learn.Peer `json:"src"`
	Dst      learn.Peer `json:"dst"`
	Proto    string     `json:"proto"` // "tcp" or "udp"
	Port     uint16     `json:"port"`  // the server port
	App      l7.App     `json:"app"`
	Allowed  uint64     `json:"allowed"`
	Reported uint64     `json:"reported"`
	Denied   uint64     `json:"denied"`
	// FirstSeen and LastSeen are optional: when the counted connections
	// happened.
	FirstSeen time.Time `json:"firstSeen,omitzero"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
}

func (v *VerdictCount) tally() Tally {
	return Tally{Allowed: v.Allowed, Reported: v.Reported, Denied: v.Denied}
}

// key returns the learned-edge key the count belongs to.
func (v *VerdictCount) key() learn.EdgeKey {
	e := learn.Edge{Src: v.Src, Dst: v.Dst, Proto: v.Proto, Port: v.Port, App: v.App}
	return e.Key()
}

// MaxInputSize bounds one input document.
const MaxInputSize = 256 << 20

// verdictEnvelope is the graph with verdicts, as GET /v1/graph?verdicts=1
// serves it.
type verdictEnvelope struct {
	Graph    json.RawMessage `json:"graph"`
	Verdicts []VerdictCount  `json:"verdicts"`
}

// stateEnvelope is the agent's state file (agent/state): the graph under
// "data", with a checksum.
type stateEnvelope struct {
	Schema int             `json:"schema"`
	Item   string          `json:"item"`
	Saved  time.Time       `json:"saved"`
	SHA256 string          `json:"sha256"`
	Data   json.RawMessage `json:"data"`
}

// stateSchema is the agent state file schema this package reads.
const stateSchema = 1

// ReadInput reads one input document. Three shapes are accepted:
//
//   - a learned graph, as learn.Snapshot.WriteJSON writes it and
//     GET /v1/graph serves it ({"version": 1, "workloads": ..., "edges": ...});
//   - a graph with verdict counts: {"graph": GRAPH, "verdicts": [...]};
//   - the agent's state file graph.json ({"schema": 1, "item": "graph",
//     "sha256": ..., "data": GRAPH}), whose checksum is checked.
//
// Unknown fields are refused. Verdict counts for the same edge add up.
func ReadInput(r io.Reader) (Input, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxInputSize+1))
	if err != nil {
		return Input{}, fmt.Errorf("graphview: read input: %w", err)
	}
	if len(b) > MaxInputSize {
		return Input{}, fmt.Errorf("graphview: read input: larger than %d bytes", MaxInputSize)
	}
	return decodeInput(b, true)
}

func decodeInput(b []byte, allowState bool) (Input, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return Input{}, fmt.Errorf("graphview: read input: %w", err)
	}
	switch {
	case top["version"] != nil:
		s, err := learn.ReadJSON(bytes.NewReader(b))
		if err != nil {
			return Input{}, fmt.Errorf("graphview: read input: %w", err)
		}
		return Input{Graph: s}, nil
	case top["graph"] != nil:
		return decodeVerdictEnvelope(b)
	case top["schema"] != nil && allowState:
		return decodeState(b)
	}
	return Input{}, errors.New(`graphview: read input: not a graph: want a learned graph ("version"), a graph with verdicts ("graph", "verdicts") or the agent's state file ("schema", "item": "graph")`)
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func decodeVerdictEnvelope(b []byte) (Input, error) {
	var env verdictEnvelope
	if err := strictDecode(b, &env); err != nil {
		return Input{}, fmt.Errorf("graphview: read graph with verdicts: %w", err)
	}
	s, err := learn.ReadJSON(bytes.NewReader(env.Graph))
	if err != nil {
		return Input{}, fmt.Errorf("graphview: read graph with verdicts: graph: %w", err)
	}
	for i := range env.Verdicts {
		if err := checkVerdict(&env.Verdicts[i]); err != nil {
			return Input{}, fmt.Errorf("graphview: read graph with verdicts: verdicts[%d]: %w", i, err)
		}
	}
	return Input{Graph: s, Verdicts: foldVerdicts(env.Verdicts), HasVerdicts: true}, nil
}

func checkVerdict(v *VerdictCount) error {
	if v.Proto != "tcp" && v.Proto != "udp" {
		return fmt.Errorf("bad proto %q (want tcp or udp)", v.Proto)
	}
	if v.Port == 0 {
		return errors.New("port 0")
	}
	if v.Src.Kind == 0 || v.Dst.Kind == 0 {
		return errors.New("src and dst are required")
	}
	if !v.FirstSeen.IsZero() && !v.LastSeen.IsZero() && v.LastSeen.Before(v.FirstSeen) {
		return fmt.Errorf("lastSeen %s is before firstSeen %s", v.LastSeen.Format(time.RFC3339), v.FirstSeen.Format(time.RFC3339))
	}
	v.FirstSeen, v.LastSeen = v.FirstSeen.UTC(), v.LastSeen.UTC()
	return nil
}

func decodeState(b []byte) (Input, error) {
	var env stateEnvelope
	if err := strictDecode(b, &env); err != nil {
		return Input{}, fmt.Errorf("graphview: read agent state file: %w", err)
	}
	if env.Schema != stateSchema {
		return Input{}, fmt.Errorf("graphview: read agent state file: schema %d (this version reads %d)", env.Schema, stateSchema)
	}
	if env.Item != "graph" {
		return Input{}, fmt.Errorf("graphview: read agent state file: it holds %q, not the graph (use graph.json from the state directory)", env.Item)
	}
	sum := sha256.Sum256(env.Data)
	if hex.EncodeToString(sum[:]) != env.SHA256 {
		return Input{}, errors.New("graphview: read agent state file: checksum mismatch (truncated or edited?)")
	}
	in, err := decodeInput(env.Data, false)
	if err != nil {
		return Input{}, fmt.Errorf("graphview: read agent state file: data: %w", err)
	}
	return in, nil
}

// WriteJSON writes the input in the form ReadInput reads: the learned
// graph alone when it has no verdict counts, else {"graph": GRAPH,
// "verdicts": [...]} (the form the agent serves for GET
// /v1/graph?verdicts=1).
func (in *Input) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	var v any = in.Graph
	if in.HasVerdicts {
		vs := in.Verdicts
		if vs == nil {
			vs = []VerdictCount{}
		}
		v = struct {
			Graph    learn.Snapshot `json:"graph"`
			Verdicts []VerdictCount `json:"verdicts"`
		}{in.Graph, vs}
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("graphview: write input: %w", err)
	}
	return nil
}

// MergeInputs combines inputs (graphs from several nodes or saves): the
// graphs with learn.Merge (keeping at most maxValues L7 values per edge; 0
// for the default), the verdict counts added up per edge.
func MergeInputs(maxValues int, ins ...Input) Input {
	var out Input
	snaps := make([]learn.Snapshot, 0, len(ins))
	var vs []VerdictCount
	for _, in := range ins {
		snaps = append(snaps, in.Graph)
		vs = append(vs, in.Verdicts...)
		out.HasVerdicts = out.HasVerdicts || in.HasVerdicts
	}
	out.Graph = learn.Merge(maxValues, snaps...)
	out.Verdicts = foldVerdicts(vs)
	return out
}

// foldVerdicts adds up counts of the same edge and sorts them by key.
func foldVerdicts(vs []VerdictCount) []VerdictCount {
	byKey := map[learn.EdgeKey]int{}
	var out []VerdictCount
	for _, v := range vs {
		k := v.key()
		i, ok := byKey[k]
		if !ok {
			byKey[k] = len(out)
			out = append(out, v)
			continue
		}
		o := &out[i]
		o.Allowed += v.Allowed
		o.Reported += v.Reported
		o.Denied += v.Denied
		o.FirstSeen, o.LastSeen = widen(o.FirstSeen, o.LastSeen, v.FirstSeen, v.LastSeen)
	}
	slices.SortFunc(out, func(a, b VerdictCount) int {
		return cmp.Or(learn.ComparePeers(a.Src, b.Src), learn.ComparePeers(a.Dst, b.Dst),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port), cmp.Compare(a.App, b.App))
	})
	return out
}

// widen returns the span covering [first, last] and [f, l]; zero times are
// unknown and ignored.
func widen(first, last, f, l time.Time) (time.Time, time.Time) {
	if !f.IsZero() && (first.IsZero() || f.Before(first)) {
		first = f
	}
	if !l.IsZero() && (last.IsZero() || l.After(last)) {
		last = l
	}
	return first, last
}
