package events

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// ipPacket builds a raw IPv4/TCP packet with payload.
func ipPacket(t *testing.T, payload string) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: []byte{198, 18, 0, 10}, DstIP: []byte{198, 18, 0, 12}}
	tcp := &layers.TCP{SrcPort: 41000, DstPort: 6379, Seq: 1, PSH: true, ACK: true, Window: 512}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

type readPacket struct {
	Time    time.Time
	Payload string
}

func readPcapng(t *testing.T, p string) (string, []readPacket) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeRaw {
		t.Errorf("link type %v, want raw IP", r.LinkType())
	}
	intf, _ := r.Interface(0)
	var out []readPacket
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeIPv4, gopacket.Default)
		if pkt.ErrorLayer() != nil {
			t.Fatalf("packet does not decode: %v", pkt.ErrorLayer().Error())
		}
		out = append(out, readPacket{ci.Timestamp.UTC(), string(pkt.ApplicationLayer().Payload())})
	}
	return intf.Description, out
}

func evidenceEvent(t *testing.T, id uint64, payloads ...string) Event {
	ev := samples()[0]
	ev.FlowID = FlowID(id)
	ev.Time = t0.Add(time.Duration(id) * time.Second)
	for i, p := range payloads {
		ev.Packets = append(ev.Packets, Packet{Time: t0.Add(time.Duration(i) * time.Millisecond), Data: ipPacket(t, p)})
	}
	return ev
}

func TestEvidence(t *testing.T) {
	dir := t.TempDir()
	ev, err := OpenEvidence(EvidenceConfig{Dir: dir, MaxFiles: 2, MaxFileSize: 1 << 20, Packets: 3})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	e := NewEmitter(Config{Node: "node-1", Outputs: []io.Writer{&out}, Evidence: ev})
	for id := uint64(1); id <= 3; id++ {
		e.write(evidenceEvent(t, id, "PING\r\n", "FLUSHALL\r\n", "CONFIG GET *\r\n", "QUIT\r\n"), nil)
	}
	// Learned events never carry evidence.
	learned := evidenceEvent(t, 9, "x")
	learned.Type = Learned
	e.write(learned, nil)

	files := ev.Files()
	want := []string{
		"bulkhead-20250301T110002.123456789Z-0000000000000002-drop.pcapng",
		"bulkhead-20250301T110003.123456789Z-0000000000000003-drop.pcapng",
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, "bulkhead-20250301T110001.123456789Z-0000000000000001-drop.pcapng")); !os.IsNotExist(err) {
		t.Errorf("the oldest file was not removed: %v", err)
	}
	if !bytes.Contains(out.Bytes(), []byte(`"evidence":"`+want[1]+`"`)) {
		t.Errorf("the event does not name its evidence:\n%s", out.String())
	}
	desc, pkts := readPcapng(t, filepath.Join(dir, want[1]))
	if want := "drop tcp frontend(198.18.0.10 port 41000) -> db(198.18.0.12 port 6379)"; desc != want {
		t.Errorf("interface description %q, want %q", desc, want)
	}
	wantPkts := []readPacket{
		{t0.UTC(), "PING\r\n"},
		{t0.Add(time.Millisecond).UTC(), "FLUSHALL\r\n"},
		{t0.Add(2 * time.Millisecond).UTC(), "CONFIG GET *\r\n"},
	}
	if diff := cmp.Diff(wantPkts, pkts); diff != "" {
		t.Errorf("packets read back (-want +got):\n%s", diff)
	}
	if st := e.Stats(); st.Evidence != 3 {
		t.Errorf("Evidence = %d, want 3", st.Evidence)
	}

	// Reopening takes stock: the bound holds across restarts.
	ev2, err := OpenEvidence(EvidenceConfig{Dir: dir, MaxFiles: 1, MaxFileSize: 1 << 20, Packets: 3})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[1:], ev2.Files()); diff != "" {
		t.Errorf("after reopening with MaxFiles 1 (-want +got):\n%s", diff)
	}
}

func TestEvidenceFileSizeCap(t *testing.T) {
	dir := t.TempDir()
	big := string(bytes.Repeat([]byte("x"), 300))
	// Headers take a few hundred bytes; room for two 340-byte packets.
	ev, err := OpenEvidence(EvidenceConfig{Dir: dir, MaxFiles: 5, MaxFileSize: 1200, Packets: 10})
	if err != nil {
		t.Fatal(err)
	}
	e := evidenceEvent(t, 1, big, big, big, big)
	name, err := ev.Write(&e)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, name))
	if st.Size() > 1200 {
		t.Errorf("file is %d bytes, over 1200", st.Size())
	}
	_, pkts := readPcapng(t, filepath.Join(dir, name))
	if len(pkts) == 0 || len(pkts) == 4 {
		t.Errorf("%d packets written; want some but not all", len(pkts))
	}
	if _, err := OpenEvidence(EvidenceConfig{Dir: dir}); err == nil {
		t.Error("OpenEvidence with no limits succeeded")
	}
}

// TestEvidenceOrigLen: a packet kept cut short is written with its real
// length, so readers see it was cut.
func TestEvidenceOrigLen(t *testing.T) {
	dir := t.TempDir()
	ev, err := OpenEvidence(EvidenceConfig{Dir: dir, MaxFiles: 2, MaxFileSize: 1 << 20, Packets: 3})
	if err != nil {
		t.Fatal(err)
	}
	e := evidenceEvent(t, 1, "GET /")
	e.Packets[0].OrigLen = len(e.Packets[0].Data) + 100
	name, err := ev.Write(&e)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	_, ci, err := r.ReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	if ci.CaptureLength != len(e.Packets[0].Data) || ci.Length != e.Packets[0].OrigLen {
		t.Errorf("capture length %d, length %d; want %d, %d", ci.CaptureLength, ci.Length, len(e.Packets[0].Data), e.Packets[0].OrigLen)
	}
}
