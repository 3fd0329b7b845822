package dataplane_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/testenv"
)

// udpSink counts the datagrams a server receives (and, if asked, echoes
// them).
type udpSink struct{ n atomic.Uint64 }

func serveUDPSink(t *testing.T, h *testenv.Host, addr string, echo bool) *udpSink {
	t.Helper()
	pc, err := h.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &udpSink{}
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.n.Add(1)
			if echo {
				_, _ = pc.WriteTo(buf[:k], from)
			}
		}
	}()
	return s
}

// icmpInEchos returns how many ICMP (or ICMPv6) echo requests h's kernel
// has received, from /proc/net/snmp (snmp6).
func icmpInEchos(t *testing.T, h *testenv.Host, v6 bool) uint64 {
	t.Helper()
	file := "/proc/net/snmp"
	if v6 {
		file = "/proc/net/snmp6"
	}
	out, err := h.Run(context.Background(), "cat", file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		switch {
		case v6 && len(f) == 2 && f[0] == "Icmp6InEchos":
			var v uint64
			fmt.Sscan(f[1], &v)
			return v
		case !v6 && len(f) > 1 && f[0] == "Icmp:" && i+1 < len(lines):
			vals := strings.Fields(lines[i+1])
			for j, name := range f {
				if name == "InEchos" && j < len(vals) {
					var v uint64
					fmt.Sscan(vals[j], &v)
					return v
				}
			}
		}
	}
	t.Fatalf("no echo request counter in %s of %s:\n%s", file, h.Name, out)
	return 0
}

// TestDenyUDPAndICMP: denied UDP flows and denied pings are dropped: the
// client gets no answer and the server receives nothing, while an allowed
// UDP flow gets its answers; IPv4 and IPv6, both topologies, each connmark
// mechanism.
//
// A flow denied on its first packet leaves no conntrack entry (conntrack
// forgets a connection whose first packet was dropped), so each of its
// packets is queued and denied again. A flow denied later, once conntrack
// knows it (an inspected UDP flow whose payload is then refused), is
// dropped by the kernel without queueing.
func TestDenyUDPAndICMP(t *testing.T) {
	requireIntegration(t)
	for _, topo := range topologies {
		t.Run(string(topo), func(t *testing.T) {
			n, client, server := newNode(t, topo)
			denied := serveUDPSink(t, server.Host, ":7001", true)
			inspected := serveUDPSink(t, server.Host, ":7002", true)
			// Without the daemon pings arrive and are counted: the
			// counter below can see them.
			for _, ip := range []netip.Addr{server.IP4, server.IP6} {
				before := icmpInEchos(t, server.Host, ip.Is6())
				ping(t, client.Host, ip)
				if got := icmpInEchos(t, server.Host, ip.Is6()); got < before+3 {
					t.Fatalf("%v: without the daemon the server counted %d echo requests of 3", ip, got-before)
				}
			}
			eachMechanism(t, n, func(t *testing.T, mech []string) {
				d := startDaemon(t, n, append([]string{"--deny", "udp/7001", "--deny", "icmp", "--deny", "icmpv6",
					"--inspect", "udp/7002", "--deny-payload", "forbidden"}, mech...)...)
				for _, ip := range []netip.Addr{server.IP4, server.IP6} {
					before := d.stats()
					got := denied.n.Load()
					if err := udpNoAnswer(client.Host, hostPort(ip, 7001), "denied?"); err != nil {
						t.Error(err)
					}
					if k := denied.n.Load() - got; k != 0 {
						t.Errorf("%v: the server received %d datagrams of a denied flow", ip, k)
					}
					echos := icmpInEchos(t, server.Host, ip.Is6())
					if err := pingFails(client.Host, ip); err != nil {
						t.Error(err)
					}
					if k := icmpInEchos(t, server.Host, ip.Is6()) - echos; k != 0 {
						t.Errorf("%v: the server received %d denied echo requests", ip, k)
					}
					if k := d.stats().Verdict(dataplane.Deny) - before.Verdict(dataplane.Deny); k < 2 {
						t.Errorf("%v: %d deny decisions for a denied UDP flow and a denied ping, want each denied", ip, k)
					}
					denyLaterUDP(t, d, client.Host, inspected, hostPort(ip, 7002))
				}
				d.stop()
			})
		})
	}
}

// denyLaterUDP: on an inspected UDP flow, datagrams are answered until one
// carries the forbidden payload; then the flow is denied and the kernel
// drops its datagrams without queueing them.
func denyLaterUDP(t *testing.T, d *daemon, h *testenv.Host, sink *udpSink, addr string) {
	t.Helper()
	c, err := h.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for i := range 3 {
		msg := fmt.Sprintf("fine %d", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		k, err := c.Read(buf)
		if err != nil || string(buf[:k]) != msg {
			t.Fatalf("%s: inspected flow, datagram %q: answer %q, %v", addr, msg, buf[:k], err)
		}
	}
	if _, err := c.Write([]byte("forbidden")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	before, received := d.stats(), sink.n.Load()
	const later = 10
	for range later {
		if _, err := c.Write([]byte("fine again")); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if k, err := c.Read(buf); err == nil {
		t.Errorf("%s: denied flow answered %q", addr, buf[:k])
	}
	queued := d.stats().Queued - before.Queued
	if k := sink.n.Load() - received; k != 0 || queued > 1 {
		t.Errorf("%s: after the forbidden datagram, %d more reached the server and %d of %d were queued; want them dropped by the kernel", addr, k, queued, later)
	}
}

// udpNoAnswer sends datagrams to addr and returns an error if any answer
// comes back within a second.
func udpNoAnswer(h *testenv.Host, addr, msg string) error {
	c, err := h.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	for range 5 {
		if _, err := c.Write([]byte(msg)); err != nil {
			return fmt.Errorf("udp %s: %w", addr, err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 64)
	k, err := c.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return fmt.Errorf("udp %s: denied flow: read %d bytes, %v; want no answer (timeout)", addr, k, err)
}

// pingFails returns an error unless pinging ip from h gets no reply.
func pingFails(h *testenv.Host, ip netip.Addr) error {
	args := []string{"-c", "3", "-i", "0.2", "-W", "1"}
	if ip.Is6() {
		args = append(args, "-6")
	}
	out, err := h.Run(context.Background(), "ping", append(args, ip.String())...)
	if err == nil {
		return fmt.Errorf("ping %v got replies, want none (denied):\n%s", ip, out)
	}
	if !strings.Contains(string(out), " 0 received") {
		return fmt.Errorf("ping %v: %v; want 0 replies:\n%s", ip, err, out)
	}
	return nil
}
