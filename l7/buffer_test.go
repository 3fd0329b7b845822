package l7

import (
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Reassembly buffers grow with what a direction keeps (MinBuffer, doubling,
// up to MaxBuffer), shrink when it keeps little, go back to the pools when
// empty, and stay within the engine's MaxBufferTotal.

func TestBufferGrowth(t *testing.T) {
	e := lineEngine(t, 0)
	sink := &textSink{}
	var f Flow
	f.Init(e, TCP, 40000, 1, OrientationKnown)
	f.TCP(FromClient, 0, SYN, nil, sink)
	seq := uint32(1)
	send := func(data string) {
		f.TCP(FromClient, seq, ACK, []byte(data), sink)
		seq += uint32(len(data))
	}
	var got []int64
	// One line of 5000 bytes sent in pieces of 1000: the buffer grows to
	// fit it, and is given back once the line is parsed.
	line := "L" + strings.Repeat("x", 4999)
	for i := 0; i < len(line); i += 1000 {
		send(line[i : i+1000])
		got = append(got, e.Buffered())
	}
	send("\nL2")
	got = append(got, e.Buffered()) // "L2" kept: back to the smallest buffer
	send("\n")
	got = append(got, e.Buffered())
	want := []int64{1024, 2048, 4096, 4096, 8192, MinBuffer, 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Buffered after each segment (-want +got):\n%s", diff)
	}
	if f.Requests() != 2 {
		t.Errorf("requests %d, want 2", f.Requests())
	}
	// Out-of-order bytes are kept at their offset: the buffer fits them
	// ("L3", a hole, "x" at offset 2002).
	send("L3")
	f.TCP(FromClient, seq+2000, ACK, []byte("x"), sink)
	if b := e.Buffered(); b != 2048 {
		t.Errorf("Buffered with out-of-order data at 2002: %d, want 2048", b)
	}
	f.Release()
	if b := e.Buffered(); b != 0 {
		t.Errorf("Buffered after Release: %d, want 0", b)
	}
}

func TestBufferSizeClasses(t *testing.T) {
	tests := []struct {
		maxBuf int
		want   []int
	}{
		{0, []int{512, 1024, 2048, 4096, 8192, 16384}},
		{64, []int{64}},
		{512, []int{512}},
		{3000, []int{512, 1024, 2048, 3000}},
	}
	for _, tc := range tests {
		e := NewEngine(Config{MaxBuffer: tc.maxBuf})
		if diff := cmp.Diff(tc.want, e.sizes); diff != "" {
			t.Errorf("MaxBuffer %d: size classes (-want +got):\n%s", tc.maxBuf, diff)
		}
	}
}

// TestBufferBudget: a direction that needs a buffer beyond MaxBufferTotal
// stops (noted; Stopped), and the others go on.
func TestBufferBudget(t *testing.T) {
	e := fakeEngine(t, Config{MaxBufferTotal: 2 * MinBuffer}, prefixProto(Redis, FromClient, "L"))
	flows := make([]Flow, 3)
	sinks := make([]*textSink, len(flows))
	for i := range flows {
		f := &flows[i]
		sinks[i] = &textSink{}
		f.Init(e, TCP, uint16(40000+i), 1, OrientationKnown)
		f.TCP(FromClient, 0, SYN, nil, sinks[i])
		f.TCP(FromClient, 1, ACK, []byte("L1 partial"), sinks[i])
	}
	if b := e.Buffered(); b != 2*MinBuffer {
		t.Errorf("Buffered %d, want %d", b, 2*MinBuffer)
	}
	want := [][]string{nil, nil, {"note " + NoteBufferBudget}}
	for i := range flows {
		if diff := cmp.Diff(want[i], sinks[i].lines); diff != "" {
			t.Errorf("flow %d (-want +got):\n%s", i, diff)
		}
		if got := flows[i].Stopped(FromClient); got != (i == 2) {
			t.Errorf("flow %d: Stopped %v", i, got)
		}
	}
	// Growing is refused too; the first flow's line then ends within its
	// buffer and is parsed.
	flows[1].TCP(FromClient, 11, ACK, []byte(strings.Repeat("x", MinBuffer)), sinks[1])
	flows[0].TCP(FromClient, 11, ACK, []byte("\n"), sinks[0])
	if diff := cmp.Diff([]string{"note " + NoteBufferBudget}, sinks[1].lines); diff != "" {
		t.Errorf("flow 1 growing (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{`req redis Command="L1 partial"`}, sinks[0].lines); diff != "" {
		t.Errorf("flow 0 (-want +got):\n%s", diff)
	}
	for i := range flows {
		flows[i].Release()
	}
	if b := e.Buffered(); b != 0 {
		t.Errorf("Buffered after Release: %d, want 0", b)
	}
}

// TestBufferManyTinyFlows: many flows each keeping one byte per direction
// (a hostile capture, or many slow clients) hold MinBuffer bytes per
// direction, not MaxBuffer: the heap grows by well under 2 KiB per flow.
func TestBufferManyTinyFlows(t *testing.T) {
	const n = 20000
	e := NewEngine(Config{})
	flows := make([]Flow, n)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	for i := range flows {
		f := &flows[i]
		f.Init(e, TCP, uint16(1024+i), 80, OrientationKnown)
		f.TCP(FromClient, 1, ACK, []byte("G"), nil)
		f.TCP(FromServer, 1, ACK, []byte("H"), nil)
	}
	runtime.ReadMemStats(&ms1)
	if b, want := e.Buffered(), int64(n*2*MinBuffer); b != want {
		t.Errorf("Buffered %d, want %d", b, want)
	}
	if per := (ms1.TotalAlloc - ms0.TotalAlloc) / n; per > 2<<10 {
		t.Errorf("%d bytes allocated per flow, want ≤ 2048", per)
	}
	for i := range flows {
		if flows[i].State() != StateDetecting {
			t.Fatalf("flow %d: state %v, want detecting", i, flows[i].State())
		}
		flows[i].Release()
	}
	if b := e.Buffered(); b != 0 {
		t.Errorf("Buffered after Release: %d, want 0", b)
	}
}
