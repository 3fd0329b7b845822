package l7

// Notes the engine itself reports through Sink.Note (parsers report their
// own). Each is reported at most once per flow.
const (
	// NoteReassemblyLimit: a direction needed more than Config.MaxBuffer
	// bytes buffered (one message larger than the limit, or out-of-order
	// data beyond it); the engine stopped inspecting that direction.
	NoteReassemblyLimit = "reassembly limit reached"
	// NoteTooManyHoles: out-of-order data left more than 8 separate runs in a
	// direction's buffer; the engine stopped inspecting that direction.
	NoteTooManyHoles = "reassembly: too many out-of-order segments"
	// NoteConflictingOverlap: a retransmitted or overlapping segment carried
	// bytes different from those already received for the same sequence
	// numbers. The first bytes received were kept (first data wins).
	NoteConflictingOverlap = "overlapping segments with conflicting data (first data kept)"
	// NoteDetectionBudget: a direction sent more than Config.MaxDetectBytes
	// (or MaxDetectSegments) without any protocol deciding.
	NoteDetectionBudget = "detection gave up: byte or segment budget spent"
	// NoteGap: the flow ended while bytes were missing from a direction
	// (a segment never seen, e.g. lost by the capture).
	NoteGap = "missing data in stream (gap)"
	// NoteOutOfWindow: a segment was thrown away because it lay outside the
	// window: MaxBuffer bytes or more past the first byte not received yet,
	// or, in a stream whose start no SYN gave, before the first segment
	// seen. The receiver may have taken other bytes than those parsed (a
	// fake segment meant to hide the real ones, or real bytes the engine
	// could not place), so Flow.Stopped reports the direction from then on;
	// the engine goes on parsing it.
	NoteOutOfWindow = "segment outside the TCP window thrown away"
	// NoteBufferBudget: a direction needed a reassembly buffer (or a larger
	// one) beyond the engine's Config.MaxBufferTotal; the engine stopped
	// inspecting that direction.
	NoteBufferBudget = "reassembly: engine buffer budget spent"
)

// engineNote indexes the notes above in a flow's bit set.
type engineNote uint8

const (
	noteLimit engineNote = 1 << iota
	noteHoles
	noteConflict
	noteBudget
	noteGap
	noteWindow
	noteBudgetMem
)

func (n engineNote) text() string {
	switch n {
	case noteLimit:
		return NoteReassemblyLimit
	case noteHoles:
		return NoteTooManyHoles
	case noteConflict:
		return NoteConflictingOverlap
	case noteBudget:
		return NoteDetectionBudget
	case noteGap:
		return NoteGap
	case noteWindow:
		return NoteOutOfWindow
	case noteBudgetMem:
		return NoteBufferBudget
	}
	return ""
}
