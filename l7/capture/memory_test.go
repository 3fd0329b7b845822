package capture

import (
	"bytes"
	"context"
	"net/netip"
	"runtime"
	"testing"
)

// TestMemoryManyTinyFlows: a hostile capture of many flows that each send
// one payload byte per direction (no handshake, nothing the engine can
// decide) must not make analyze hold a full reassembly buffer per
// direction: the engine keeps each byte in a MinBuffer buffer, and analyze
// allocates well under 4 KiB per flow in all.
func TestMemoryManyTinyFlows(t *testing.T) {
	const n = 20000
	var frs []frame
	for i := range n {
		cli := netip.AddrFrom4([4]byte{198, 18, byte(1 + i>>8), byte(i)})
		sport := uint16(1024 + i)
		frs = append(frs,
			frame{data: ipv4(cli, srvIP, 6, 1, 0, false, tcpSeg(sport, 80, 1000, 0x18, []byte("G")))},
			frame{data: ipv4(srvIP, cli, 6, 1, 0, false, tcpSeg(80, sport, 5000, 0x18, []byte("H")))})
	}
	capture := pcapFile(t, LinkRaw, frs...)
	frs = nil
	flows := 0
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	_, err := Analyze(context.Background(), bytes.NewReader(capture), Options{}, func(*Record) error {
		flows++
		return nil
	})
	runtime.ReadMemStats(&ms1)
	if err != nil {
		t.Fatal(err)
	}
	if flows != n {
		t.Fatalf("%d flows, want %d", flows, n)
	}
	per := (ms1.TotalAlloc - ms0.TotalAlloc) / n
	t.Logf("%d bytes allocated per flow", per)
	if per > 4<<10 {
		t.Errorf("%d bytes allocated per flow, want ≤ 4096", per)
	}
}
