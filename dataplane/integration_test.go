package dataplane_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/testenv"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

var topologies = []testenv.Topology{testenv.Bridged, testenv.Routed}

// newNode builds a node with a client and a server container.
func newNode(t *testing.T, topo testenv.Topology) (*testenv.Node, *testenv.Container, *testenv.Container) {
	t.Helper()
	n := testenv.New(t, testenv.Config{Topology: topo, Containers: []string{"client", "server"}})
	return n, n.Container("client"), n.Container("server")
}

func hostPort(a netip.Addr, port int) string { return netip.AddrPortFrom(a, uint16(port)).String() }

// echo sends size random bytes through a TCP echo server while reading
// them back, and fails unless every byte returns intact.
func echo(t *testing.T, c net.Conn, size int) {
	t.Helper()
	if err := echoErr(c, size); err != nil {
		t.Fatalf("echo %d bytes: %v", size, err)
	}
}

// dialBlocked fails unless dialling addr from h is refused (wantReset)
// or times out.
func dialBlocked(t *testing.T, h *testenv.Host, addr string, wantReset bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	c, err := h.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s succeeded, want it blocked", addr)
	}
	if wantReset && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v after %v, want connection refused (a TCP reset)", addr, err, time.Since(start))
	}
}

// denyServers builds a node whose server echoes on 6379 and 7000.
func denyServers(t *testing.T, topo testenv.Topology) (*testenv.Node, *testenv.Container, *testenv.Container) {
	t.Helper()
	n, client, server := newNode(t, topo)
	for _, addr := range []string{":6379", ":7000"} {
		if _, err := server.ServeTCPEcho(addr); err != nil {
			t.Fatal(err)
		}
	}
	return n, client, server
}

// TestDenyOnePort: a Decider that denies tcp/6379 makes clients see a
// reset at once, while other ports carry byte-exact data; IPv4 and IPv6,
// both topologies, each connmark mechanism.
func TestDenyOnePort(t *testing.T) {
	requireIntegration(t)
	for _, topo := range topologies {
		t.Run(string(topo), func(t *testing.T) {
			n, client, server := denyServers(t, topo)
			eachMechanism(t, n, func(t *testing.T, mech []string) {
				d := startDaemon(t, n, append([]string{"--deny", "tcp/6379"}, mech...)...)
				for _, ip := range []netip.Addr{server.IP4, server.IP6} {
					dialBlocked(t, client.Host, hostPort(ip, 6379), true)
					c, err := client.Dial("tcp", hostPort(ip, 7000))
					if err != nil {
						t.Fatal(err)
					}
					echo(t, c, 1<<20)
					c.Close()
				}
				s := d.stats()
				if s.Verdict(dataplane.Deny) < 2 || s.Verdict(dataplane.Allow) < 2 {
					t.Errorf("verdicts %v: want ≥2 deny and ≥2 allow", s.Verdicts)
				}
				d.stop()
			})
		})
	}
}

// TestAllowDeliversExactBytes: with every connection allowed, large TCP
// transfers in both directions, UDP datagrams and ICMP pings arrive
// intact, container to container and container to node, IPv4 and IPv6,
// both topologies, each connmark mechanism.
func TestAllowDeliversExactBytes(t *testing.T) {
	requireIntegration(t)
	for _, topo := range topologies {
		t.Run(string(topo), func(t *testing.T) {
			n, client, server := newNode(t, topo)
			if _, err := server.ServeTCPEcho(":7000"); err != nil {
				t.Fatal(err)
			}
			if _, err := server.ServeUDPEcho(":7001"); err != nil {
				t.Fatal(err)
			}
			if _, err := n.Node.ServeTCPEcho(":7002"); err != nil {
				t.Fatal(err)
			}
			eachMechanism(t, n, func(t *testing.T, mech []string) {
				allowDeliversExactBytes(t, topo, n, client, server, mech)
			})
		})
	}
}

func allowDeliversExactBytes(t *testing.T, topo testenv.Topology, n *testenv.Node, client, server *testenv.Container, mech []string) {
	t.Helper()
	d := startDaemon(t, n, append([]string{"--allow-all"}, mech...)...)
	for _, ip := range []netip.Addr{server.IP4, server.IP6} {
		c, err := client.Dial("tcp", hostPort(ip, 7000))
		if err != nil {
			t.Fatal(err)
		}
		echo(t, c, 16<<20) // 16 MiB each way, at once
		c.Close()
		udpExchange(t, client.Host, hostPort(ip, 7001), 300)
		ping(t, client.Host, ip)
	}
	// Container to node (INPUT) and node to container (OUTPUT).
	nodeIP := testenv.NodeIP4
	if topo == testenv.Bridged {
		nodeIP = testenv.BridgeIP4
	}
	c, err := client.Dial("tcp", hostPort(nodeIP, 7002))
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c, 4<<20)
	c.Close()
	c, err = n.Node.Dial("tcp", hostPort(server.IP4, 7000))
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c, 4<<20)
	c.Close()
	s := d.stats()
	// Each TCP and UDP flow (and each ping) was decided once.
	if s.Verdict(dataplane.Allow) < 8 {
		t.Errorf("verdicts %v: want every flow decided", s.Verdicts)
	}
	if s.DecodeErrors != 0 || s.KernelDropped != 0 || s.KernelUserDropped != 0 {
		t.Errorf("counters %+v: want no errors or drops", s)
	}
	d.stop()
}

// udpExchange sends count datagrams of growing size through a UDP echo
// server and checks each comes back intact.
func udpExchange(t *testing.T, h *testenv.Host, addr string, count int) {
	t.Helper()
	c, err := h.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2000)
	for i := 0; i < count; i++ {
		msg := make([]byte, 8+(i*7)%1400)
		rand.Read(msg)
		binary.BigEndian.PutUint64(msg, uint64(i))
		var got []byte
		for try := 0; try < 3 && got == nil; try++ {
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			for {
				k, err := c.Read(buf)
				if err != nil {
					break
				}
				if k >= 8 && binary.BigEndian.Uint64(buf) == uint64(i) {
					got = buf[:k]
					break
				}
			}
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("datagram %d to %s: sent %d bytes, got back %d (retried 3 times)", i, addr, len(msg), len(got))
		}
	}
}

func ping(t *testing.T, h *testenv.Host, ip netip.Addr) {
	t.Helper()
	args := []string{"-c", "3", "-i", "0.2", "-W", "2"}
	if ip.Is6() {
		args = append(args, "-6")
	}
	if out, err := h.Run(context.Background(), "ping", append(args, ip.String())...); err != nil {
		t.Fatalf("ping %v: %v\n%s", ip, err, out)
	}
}

// TestFastPath: once a connection is decided its packets no longer reach
// user space — the queue counters stop while bytes keep flowing; in
// inspect-all mode they keep counting.
func TestFastPath(t *testing.T) {
	requireIntegration(t)
	for _, topo := range topologies {
		t.Run(string(topo), func(t *testing.T) {
			n, client, server := newNode(t, topo)
			if _, err := server.ServeTCPEcho(":7000"); err != nil {
				t.Fatal(err)
			}
			eachMechanism(t, n, func(t *testing.T, mech []string) {
				fastPath(t, n, client, server, mech)
			})
		})
	}
}

func fastPath(t *testing.T, n *testenv.Node, client, server *testenv.Container, mech []string) {
	t.Helper()
	for _, mode := range []string{"--allow-all", "--inspect-all"} {
		d := startDaemon(t, n, append([]string{mode}, mech...)...)
		c, err := client.Dial("tcp", hostPort(server.IP4, 7000))
		if err != nil {
			t.Fatal(err)
		}
		echo(t, c, 64<<10)
		before := d.stats().Queued
		echo(t, c, 8<<20)
		after := d.stats().Queued
		c.Close()
		switch mode {
		case "--allow-all":
			if after != before {
				t.Errorf("allow-all: %d packets queued while 16 MiB flowed on a decided connection, want 0", after-before)
			}
		case "--inspect-all":
			if after-before < 10 {
				t.Errorf("inspect-all: only %d packets queued while 16 MiB flowed, want every packet", after-before)
			}
		}
		d.stop()
	}
}

// TestDNSAlwaysQueued: every DNS query and answer reaches user space, also
// on a connection already decided, over UDP and TCP, IPv4 and IPv6, both
// topologies, each connmark mechanism.
func TestDNSAlwaysQueued(t *testing.T) {
	requireIntegration(t)
	for _, topo := range topologies {
		t.Run(string(topo), func(t *testing.T) {
			n, client, server := newNode(t, topo)
			if _, err := server.ServeDNS(":53", testenv.Zone{"api.example.com. 60 IN A 198.19.1.2"}); err != nil {
				t.Fatal(err)
			}
			eachMechanism(t, n, func(t *testing.T, mech []string) {
				d := startDaemon(t, n, append([]string{"--allow-all"}, mech...)...)
				for _, ip := range []netip.Addr{server.IP4, server.IP6} {
					for _, network := range []string{"udp", "tcp"} {
						dnsQueued(t, d, client.Host, network, hostPort(ip, 53))
					}
				}
				d.stop()
			})
		})
	}
}

// dnsQueued sends DNS queries over one connection and fails unless every
// query and answer reached user space after the connection's one decision.
func dnsQueued(t *testing.T, d *daemon, h *testenv.Host, network, addr string) {
	t.Helper()
	const queries = 10
	before := d.stats()
	nc, err := h.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	co := &dns.Conn{Conn: nc}
	for i := 0; i < queries; i++ {
		m := new(dns.Msg)
		m.SetQuestion("api.example.com.", dns.TypeA)
		if err := co.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		r, err := co.ReadMsg()
		if err != nil {
			t.Fatalf("%s %s: query %d: %v", network, addr, i, err)
		}
		if len(r.Answer) != 1 {
			t.Fatalf("%s %s: answer %v", network, addr, r)
		}
	}
	nc.Close()
	after := d.stats()
	queued := after.Queued - before.Queued
	allows := after.Verdict(dataplane.Allow) - before.Verdict(dataplane.Allow)
	if queued < 2*queries || allows != 1 {
		t.Errorf("%s %s: %d packets queued with %d allow decisions for %d queries on one connection; want every query and answer queued (≥%d) after the one decision",
			network, addr, queued, allows, queries, 2*queries)
	}
}

// TestKillAndRestart: kill -9 of the daemon mid-stream. Fail-open keeps
// established and new connections working; fail-closed keeps established
// ones (kernel fast path) and blocks new ones. A restart leaves exactly the
// rules of a clean start: no duplicate, nothing stale.
func TestKillAndRestart(t *testing.T) {
	requireIntegration(t)
	for _, topo := range topologies {
		for _, failClosed := range []bool{false, true} {
			name := string(topo) + "/fail-open"
			var extra []string
			if failClosed {
				name = string(topo) + "/fail-closed"
				extra = []string{"--fail-closed"}
			}
			t.Run(name, func(t *testing.T) {
				n, client, server := newNode(t, topo)
				if _, err := server.ServeTCPEcho(":7000"); err != nil {
					t.Fatal(err)
				}
				empty := iptablesSave(t, n)
				d := startDaemon(t, n, append([]string{"--allow-all"}, extra...)...)
				running := iptablesSave(t, n)
				established, err := client.Dial("tcp", hostPort(server.IP4, 7000))
				if err != nil {
					t.Fatal(err)
				}
				defer established.Close()
				echo(t, established, 1<<20)

				// Kill it in the middle of a transfer.
				done := make(chan struct{})
				go func() {
					time.Sleep(50 * time.Millisecond)
					d.kill()
					close(done)
				}()
				echo(t, established, 32<<20)
				<-done
				echo(t, established, 4<<20)
				if diff := cmp.Diff(running, iptablesSave(t, n)); diff != "" {
					t.Fatalf("rules changed by kill -9 (-before +after):\n%s", diff)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				c, err := client.DialContext(ctx, "tcp", hostPort(server.IP4, 7000))
				cancel()
				switch {
				case failClosed && err == nil:
					c.Close()
					t.Fatal("fail-closed: a new connection succeeded with the daemon dead")
				case !failClosed && err != nil:
					t.Fatalf("fail-open: new connection with the daemon dead: %v", err)
				case !failClosed:
					echo(t, c, 1<<20)
					c.Close()
				}

				d2 := startDaemon(t, n, append([]string{"--allow-all"}, extra...)...)
				if diff := cmp.Diff(running, iptablesSave(t, n)); diff != "" {
					t.Errorf("rules after restart differ from a clean start (-clean +restart):\n%s", diff)
				}
				c, err = client.Dial("tcp", hostPort(server.IP4, 7000))
				if err != nil {
					t.Fatalf("after restart: %v", err)
				}
				echo(t, c, 1<<20)
				c.Close()
				echo(t, established, 1<<20)
				d2.stop()
				if diff := cmp.Diff(empty, iptablesSave(t, n)); diff != "" {
					t.Errorf("rules left after a clean stop (-before start +after stop):\n%s", diff)
				}
			})
		}
	}
}

// TestContainersComeAndGo: a container added while traffic flows gets
// rules (and is policed) without a restart; removed, its rules go; the
// running stream is not disturbed.
func TestContainersComeAndGo(t *testing.T) {
	requireIntegration(t)
	for _, topo := range topologies {
		t.Run(string(topo), func(t *testing.T) {
			n, client, server := denyServers(t, topo)
			d := startDaemon(t, n, "--deny", "tcp/6379")
			stream, err := client.Dial("tcp", hostPort(server.IP4, 7000))
			if err != nil {
				t.Fatal(err)
			}
			defer stream.Close()
			streamErr := make(chan error, 1)
			stop := make(chan struct{})
			go func() {
				for {
					select {
					case <-stop:
						streamErr <- nil
						return
					default:
					}
					if err := echoErr(stream, 256<<10); err != nil {
						streamErr <- err
						return
					}
				}
			}()

			late, err := n.AddContainer("late")
			if err != nil {
				t.Fatal(err)
			}
			d.waitRules(late.HostIf, true)
			dialBlocked(t, late.Host, hostPort(server.IP4, 6379), true)
			c, err := late.Dial("tcp", hostPort(server.IP6, 7000))
			if err != nil {
				t.Fatal(err)
			}
			echo(t, c, 1<<20)
			c.Close()
			if err := n.RemoveContainer("late"); err != nil {
				t.Fatal(err)
			}
			d.waitRules(late.HostIf, false)
			close(stop)
			if err := <-streamErr; err != nil {
				t.Fatalf("stream during add/remove: %v", err)
			}
			d.stop()
		})
	}
}

// echoErr is echo returning an error, for goroutines.
func echoErr(c net.Conn, size int) error {
	want := make([]byte, size)
	rand.Read(want)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(want)
		errc <- err
	}()
	got := make([]byte, size)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read echo: %w", err)
	}
	if err := <-errc; err != nil {
		return err
	}
	if !bytes.Equal(want, got) {
		return errors.New("echoed bytes differ")
	}
	return nil
}

// TestNeighbourDiscoveryNeverQueued: with every packet inspected, IPv6
// still works and no ICMPv6 neighbour discovery reaches user space.
func TestNeighbourDiscoveryNeverQueued(t *testing.T) {
	requireIntegration(t)
	n, client, server := newNode(t, testenv.Routed)
	if _, err := server.ServeTCPEcho(":7000"); err != nil {
		t.Fatal(err)
	}
	seen := strings.Builder{}
	d := startDaemon(t, n, "--inspect-all")
	// Flush the neighbour caches so the containers must solicit again.
	for _, h := range []*testenv.Host{client.Host, server.Host, n.Node} {
		if out, err := h.Run(context.Background(), "ip", "-6", "neigh", "flush", "all"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	c, err := client.Dial("tcp", hostPort(server.IP6, 7000))
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c, 1<<20)
	c.Close()
	d.stop()
	for _, l := range strings.Split(d.Stderr.String(), "\n") {
		if strings.Contains(l, "proto=icmpv6") {
			seen.WriteString(l + "\n")
		}
	}
	if seen.Len() > 0 {
		t.Errorf("ICMPv6 reached the Decider:\n%s", seen.String())
	}
}
