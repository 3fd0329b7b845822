package nfq

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePacketRoundTrip(t *testing.T) {
	for _, tc := range []Packet{
		{Queue: 3, ID: 42, HWProto: 0x0800, Hook: HookForward, Payload: []byte{0x45, 1, 2, 3, 4}},
		{Queue: 65535, ID: 0xffffffff, HWProto: 0x86dd, Hook: HookLocalOut, Mark: 0x00300000, InDev: 7, OutDev: 9,
			PhysIn: 11, PhysOut: 12, CapLen: 70000, SkbInfo: SkbGSO | SkbCsumNotReady, HasCT: true, CTMark: 0x100000,
			Payload: make([]byte, 1501)},
		{Queue: 0, ID: 1, Payload: nil},
	} {
		b := AppendPacket(nil, tc)
		var m Msg
		if err := Parse(b, &m); err != nil {
			t.Fatalf("Parse(%+v): %v", tc, err)
		}
		got := Packet{Queue: m.Queue, ID: m.ID, HWProto: m.HWProto, Hook: m.Hook, Mark: m.Mark, InDev: m.InDev,
			OutDev: m.OutDev, PhysIn: m.PhysIn, PhysOut: m.PhysOut, CapLen: m.CapLen, SkbInfo: m.SkbInfo,
			HasCT: m.HasCT, CTMark: m.CTMark, Payload: m.Payload}
		if m.Kind != KindPacket {
			t.Errorf("kind %v, want packet", m.Kind)
		}
		if diff := cmp.Diff(tc, got, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestParseErrorsAndAcks(t *testing.T) {
	var m Msg
	if err := Parse(AppendError(nil, 7, 0), &m); err != nil || m.Kind != KindAck || m.Seq != 7 {
		t.Errorf("ack: kind %v seq %d err %v", m.Kind, m.Seq, err)
	}
	if err := Parse(AppendError(nil, 8, 95), &m); err != nil || m.Kind != KindError || m.Errno != 95 || m.Seq != 8 {
		t.Errorf("error: kind %v errno %d seq %d err %v", m.Kind, m.Errno, m.Seq, err)
	}
}

func TestParseRejectsTruncated(t *testing.T) {
	full := AppendPacket(nil, Packet{ID: 5, Payload: []byte("0123456789")})
	for n := 0; n < len(full); n++ {
		var m Msg
		err := Parse(full[:n], &m)
		if err == nil && m.Kind == KindPacket {
			// Cutting inside the padding after the payload is harmless
			// only if the declared length still fits, which it cannot.
			t.Errorf("Parse of %d/%d bytes succeeded", n, len(full))
		}
	}
}

func TestVerdictEncoding(t *testing.T) {
	var b []byte
	in := []Verdict{
		{Queue: 1, ID: 10, Verdict: NFAccept},
		{Queue: 1, ID: 11, Verdict: NFRepeat, SetMark: true, Mark: 0x100000},
		{Queue: 1, ID: 20, Verdict: NFDrop},
		{Queue: 2, ID: 21, Verdict: NFAccept, SetMark: true, Mark: 0x300000, SetCTMark: true, CTMark: 0x300000, CTMask: 0xf00000},
	}
	batch := []bool{false, false, true, false}
	for i, v := range in {
		b = AppendVerdict(b, v, batch[i])
	}
	got, gotBatch, err := ParseVerdicts(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(batch, gotBatch); diff != "" {
		t.Errorf("batch flags (-want +got):\n%s", diff)
	}
	// A batch verdict never carries conntrack attributes: the kernel
	// would ignore them.
	one := AppendVerdict(nil, Verdict{ID: 1, Verdict: NFAccept, SetCTMark: true, CTMark: 1, CTMask: 1}, true)
	vs, _, _ := ParseVerdicts(one)
	if vs[0].SetCTMark {
		t.Error("batch verdict carries NFQA_CT")
	}
}

func TestConfigMessages(t *testing.T) {
	// Layouts from linux/netfilter/nfnetlink_queue.h, little-endian host.
	got := appendParams(nil, 1, 5, 0xffff)
	want := []byte{
		32, 0, 0, 0, 0x02, 0x03, 0x05, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr: len 32, CONFIG, REQUEST|ACK, seq 1
		0, 0, 0, 5, // nfgenmsg: AF_UNSPEC, v0, queue 5 (big-endian)
		9, 0, 2, 0, 0, 0, 0xff, 0xfb, 2, 0, 0, 0, // PARAMS: copy range 65531 (capped), copy mode packet, pad
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("params message (-want +got):\n%s", diff)
	}
	got = appendFlags(nil, 2, 0, FlagGSO|FlagFailOpen, FlagGSO|FlagFailOpen|FlagConntrack)
	want = []byte{
		36, 0, 0, 0, 0x02, 0x03, 0x05, 0x00, 2, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0,
		8, 0, 5, 0, 0, 0, 0, 5, // FLAGS
		8, 0, 4, 0, 0, 0, 0, 7, // MASK
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flags message (-want +got):\n%s", diff)
	}
}

// FuzzParse feeds arbitrary bytes to the message parser: it must never
// panic, and a parsed payload must lie inside the input.
func FuzzParse(f *testing.F) {
	f.Add(AppendPacket(nil, Packet{ID: 1, HWProto: 0x800, Payload: []byte{0x45, 0, 0, 20}}))
	f.Add(AppendPacket(nil, Packet{ID: 2, HasCT: true, CTMark: 3, Mark: 4, Payload: make([]byte, 60)}))
	f.Add(AppendError(nil, 1, 22))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Msg
		_ = Parse(b, &m)
		if len(m.Payload) > len(b) {
			t.Fatalf("payload of %d bytes from %d input bytes", len(m.Payload), len(b))
		}
		_, _, _ = ParseVerdicts(b)
	})
}
