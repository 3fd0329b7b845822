package scenario_test

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	pathpkg "path"
	"strings"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"bulkhead.dev/bulkhead/agent/events"
)

// checkEvidence reads a drop's evidence file (pcapng of raw IP packets)
// and compares it with the event: every packet goes between the event's two
// ends (addresses and ports, either way) over its protocol; a connection
// dropped at L4 shows its SYN; a request dropped for its L7 attributes
// shows them in a payload (the HTTP request line, the DNS query's first
// label).
func checkEvidence(path string, ev *events.Event) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	client := netip.AddrPortFrom(ev.Src.IP, ev.Src.Port)
	server := netip.AddrPortFrom(ev.Dst.IP, ev.Dst.Port)
	var syn bool
	var payloads [][]byte
	for n := 0; ; n++ {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			if n == 0 {
				return fmt.Errorf("%s: no packet", path)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("%s: packet %d: %w", path, n, err)
		}
		first := layers.LayerTypeIPv4
		if len(data) > 0 && data[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
		p := gopacket.NewPacket(data, first, gopacket.Default)
		nl, tl := p.NetworkLayer(), p.TransportLayer()
		if nl == nil || tl == nil {
			return fmt.Errorf("%s: packet %d: no IP or transport layer: %v", path, n, p)
		}
		src := endpointOf(nl.NetworkFlow().Src(), tl.TransportFlow().Src())
		dst := endpointOf(nl.NetworkFlow().Dst(), tl.TransportFlow().Dst())
		if !(src == client && dst == server) && !(src == server && dst == client) {
			return fmt.Errorf("%s: packet %d goes %s → %s, not between %s and %s", path, n, src, dst, client, server)
		}
		if got := strings.ToLower(tl.LayerType().String()); got != ev.Proto {
			return fmt.Errorf("%s: packet %d is %s, the event says %s", path, n, got, ev.Proto)
		}
		if tcp, ok := tl.(*layers.TCP); ok && tcp.SYN && src == client {
			syn = true
		}
		payloads = append(payloads, tl.LayerPayload())
	}
	all := bytes.Join(payloads, nil)
	switch {
	case ev.L7.Path != "":
		// The event's path is the cleaned one ("/api/../../etc/passwd" is
		// reported as "/etc/passwd"): look for its method and last segment
		// in a request line.
		if !requestLine(all, ev.L7.Method, pathpkg.Base(ev.L7.Path)) {
			return fmt.Errorf("%s: no payload holds a %s request for …/%s", path, ev.L7.Method, pathpkg.Base(ev.L7.Path))
		}
	case ev.L7.Query != "":
		label, _, _ := strings.Cut(ev.L7.Query, ".")
		if !bytes.Contains(all, append([]byte{byte(len(label))}, label...)) {
			return fmt.Errorf("%s: no payload holds the query's first label %q", path, label)
		}
	case ev.Proto == "tcp" && !syn:
		return fmt.Errorf("%s: a connection dropped at L4 without its SYN", path)
	}
	return nil
}

// requestLine reports whether payload holds an HTTP/1.1 request line of
// method whose path ends in last.
func requestLine(payload []byte, method, last string) bool {
	for _, line := range strings.Split(string(payload), "\r\n") {
		m, rest, _ := strings.Cut(line, " ")
		target, proto, _ := strings.Cut(rest, " ")
		if m == method && proto == "HTTP/1.1" && strings.HasSuffix(target, "/"+last) {
			return true
		}
	}
	return false
}

// endpointOf reads a packet's address and port.
func endpointOf(addr, port gopacket.Endpoint) netip.AddrPort {
	a, _ := netip.AddrFromSlice(addr.Raw())
	var p uint16
	if raw := port.Raw(); len(raw) == 2 {
		p = uint16(raw[0])<<8 | uint16(raw[1])
	}
	return netip.AddrPortFrom(a.Unmap(), p)
}
