package decide

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/miekg/dns"

	"bulkhead.dev/bulkhead/agent/events"
	"bulkhead.dev/bulkhead/dataplane"
)

// TestEvidencePcapng: the evidence of a drop, written to a pcapng file by
// the event writer and read back with pcapgo, holds the dropped probe's
// packets as the client sent them: addresses, ports, TCP flags and
// sequence numbers, payload. The evidence keeps the packets the agent saw
// while it inspected the connection: for a request dropped at L7 that is
// the request (the handshake was let through before any payload called
// for inspection); for a connection dropped at L4, its SYN.
func TestEvidencePcapng(t *testing.T) {
	tests := []struct {
		name  string
		probe func(h *harness) (*conn, []string) // the connection and the packets it sent
	}{
		{"a forbidden HTTP request on an allowed connection", func(h *harness) (*conn, []string) {
			c := h.tcp(frontend4, api4, 8080)
			c.handshake()
			if v := c.request(get("/admin")); v != dataplane.Deny {
				t.Fatalf("GET /admin: %v, want deny", v)
			}
			return c, []string{sent(c.client, c.server, "PSH ACK", 1001, get("/admin"))}
		}},
		{"a forbidden request after an allowed one on a keep-alive connection", func(h *harness) (*conn, []string) {
			c := h.tcp(frontend4, api4, 8080)
			c.handshake()
			if v := c.request(get("/users/7")); v != dataplane.Inspect {
				t.Fatalf("GET /users/7: %v, want inspect", v)
			}
			if v := c.request(get("/admin")); v != dataplane.Deny {
				t.Fatalf("GET /admin: %v, want deny", v)
			}
			return c, []string{
				sent(c.client, c.server, "PSH ACK", 1001, get("/users/7")),
				sent(c.client, c.server, "PSH ACK", 1001+uint32(len(get("/users/7"))), get("/admin")),
			}
		}},
		{"lateral movement: a SYN no rule allows", func(h *harness) (*conn, []string) {
			c := h.tcp(frontend4, db4, 6379)
			if v := c.handshake(); v != dataplane.Deny {
				t.Fatalf("frontend → db SYN: %v, want deny", v)
			}
			return c, []string{sent(c.client, c.server, "SYN", 1000, "")}
		}},
		{"IPv6 DNS query for a name no rule allows", func(h *harness) (*conn, []string) {
			c := h.udp(api6, dns6, 53)
			q := dnsQuery(t, 9, "secret.evil.example", dns.TypeA)
			if v := c.request(q); v != dataplane.Drop && v != dataplane.Deny {
				t.Fatalf("query: %v, want it dropped", v)
			}
			return c, []string{sent(c.client, c.server, "", 0, q)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, shopPolicy, protectM)
			_, want := tt.probe(h)
			evs := h.ev.take()
			if len(evs) != 1 || evs[0].Type != events.Drop {
				t.Fatalf("events %q, want one drop", h.linesOf(evs))
			}
			dir := t.TempDir()
			w, err := events.OpenEvidence(events.EvidenceConfig{Dir: dir, MaxFiles: 10, MaxFileSize: 1 << 20, Packets: 8})
			if err != nil {
				t.Fatal(err)
			}
			name, err := w.Write(&evs[0])
			if err != nil {
				t.Fatal(err)
			}
			got := readEvidence(t, filepath.Join(dir, name))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("evidence of %s (-sent +file):\n%s", eventLine(evs[0]), diff)
			}
		})
	}
}

// sent describes a packet as readEvidence prints it.
func sent(src, dst netip.AddrPort, flags string, seq uint32, payload string) string {
	s := fmt.Sprintf("%s → %s", src, dst)
	if flags != "" {
		s += fmt.Sprintf(" [%s] seq=%d", flags, seq)
	}
	return s + fmt.Sprintf(" %q", payload)
}

// readEvidence decodes every packet of a pcapng evidence file (raw IP
// packets) as sent prints them.
func readEvidence(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		first := layers.LayerTypeIPv4
		if data[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
		p := gopacket.NewPacket(data, first, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("%s: undecodable packet: %v", path, el.Error())
		}
		var src, dst netip.Addr
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			src, dst = netip.AddrFrom4([4]byte(ip.SrcIP.To4())), netip.AddrFrom4([4]byte(ip.DstIP.To4()))
		case *layers.IPv6:
			src, dst = netip.AddrFrom16([16]byte(ip.SrcIP)), netip.AddrFrom16([16]byte(ip.DstIP))
		}
		// The transport layer's payload: the bytes as sent (the DNS layer
		// gopacket decodes port 53 into reports none of its own).
		var payload []byte
		if tl := p.TransportLayer(); tl != nil {
			payload = tl.LayerPayload()
		}
		switch l := p.TransportLayer().(type) {
		case *layers.TCP:
			var flags []string
			for _, fl := range []struct {
				on   bool
				name string
			}{{l.FIN, "FIN"}, {l.SYN, "SYN"}, {l.RST, "RST"}, {l.PSH, "PSH"}, {l.ACK, "ACK"}} {
				if fl.on {
					flags = append(flags, fl.name)
				}
			}
			out = append(out, sent(netip.AddrPortFrom(src, uint16(l.SrcPort)), netip.AddrPortFrom(dst, uint16(l.DstPort)),
				strings.Join(flags, " "), l.Seq, string(payload)))
		case *layers.UDP:
			out = append(out, sent(netip.AddrPortFrom(src, uint16(l.SrcPort)), netip.AddrPortFrom(dst, uint16(l.DstPort)), "", 0, string(payload)))
		default:
			t.Fatalf("%s: packet without TCP or UDP: %v", path, p)
		}
	}
}

// linesOf summarises events.
func (h *harness) linesOf(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = eventLine(e)
	}
	return out
}
