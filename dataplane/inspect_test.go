package dataplane_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/dataplane/dptest"
	"bulkhead.dev/bulkhead/testenv"
	"golang.org/x/sys/unix"
)

const (
	inspectPort   = 8080 // HTTP, inspected request by request
	tinyEchoPort  = 8081 // TCP echo, inspected
	udpEchoPort   = 8082 // UDP echo, inspected
	forbiddenPath = "/forbidden"
)

// bodyPattern is what /big/N answers: N bytes of a repeating pattern.
var bodyPattern = []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_\n")

func bigBody(n int) []byte { return bytes.Repeat(bodyPattern, n/len(bodyPattern)+1)[:n] }

// inspectHandler answers /big/N with N bytes and anything else with a line
// naming the path.
func inspectHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/big/"); ok {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n > 1<<30 {
				http.Error(w, "bad size", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(n))
			_, _ = w.Write(bigBody(n))
			return
		}
		fmt.Fprintf(w, "ok %s\n", r.URL.Path)
	})
}

// inspectServers builds a node whose server runs the HTTP server and a TCP
// echo server on inspected ports, and a UDP echo server.
func inspectServers(t *testing.T, topo testenv.Topology) (*testenv.Node, *testenv.Container, *testenv.Container) {
	t.Helper()
	n, client, server := newNode(t, topo)
	if _, err := server.ServeHTTP(fmt.Sprintf(":%d", inspectPort), inspectHandler()); err != nil {
		t.Fatal(err)
	}
	if _, err := server.ServeTCPEcho(fmt.Sprintf(":%d", tinyEchoPort)); err != nil {
		t.Fatal(err)
	}
	if _, err := server.ServeUDPEcho(fmt.Sprintf(":%d", udpEchoPort)); err != nil {
		t.Fatal(err)
	}
	return n, client, server
}

// startInspectDaemon starts the daemon inspecting the servers' ports and
// denying requests that contain forbiddenPath.
func startInspectDaemon(t *testing.T, n *testenv.Node, mech []string) *daemon {
	t.Helper()
	args := []string{"--inspect", fmt.Sprintf("tcp/%d", inspectPort), "--inspect", fmt.Sprintf("tcp/%d", tinyEchoPort),
		"--inspect", fmt.Sprintf("udp/%d", udpEchoPort), "--deny-payload", forbiddenPath}
	return startDaemon(t, n, append(args, mech...)...)
}

// eachInspectNode runs fn in both topologies and with each connmark
// mechanism, each topology with its own node, each run with its own
// daemon (stopped cleanly at the end).
func eachInspectNode(t *testing.T, fn func(t *testing.T, client, server *testenv.Container, d *daemon)) {
	t.Helper()
	requireIntegration(t)
	for _, topo := range topologies {
		t.Run(string(topo), func(t *testing.T) {
			n, client, server := inspectServers(t, topo)
			eachMechanism(t, n, func(t *testing.T, mech []string) {
				d := startInspectDaemon(t, n, mech)
				fn(t, client, server, d)
				d.stop()
			})
		})
	}
}

// httpConn is one keep-alive HTTP/1.1 connection driven by hand, so that
// every request surely goes over the same TCP connection and its errors
// are seen as they are.
type httpConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialHTTP(t *testing.T, h *testenv.Host, addr string) *httpConn {
	t.Helper()
	c, err := h.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &httpConn{c: c, br: bufio.NewReader(c)}
}

// get sends one request and reads the whole response.
func (h *httpConn) get(path string) (int, []byte, error) {
	_ = h.c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(h.c, "GET %s HTTP/1.1\r\nHost: server\r\nUser-Agent: bulkhead-test\r\n\r\n", path); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (h *httpConn) mustGet(t *testing.T, path string, want []byte) {
	t.Helper()
	code, body, err := h.get(path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if code != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("GET %s: status %d, %d bytes (want 200, %d bytes as sent)", path, code, len(body), len(want))
	}
}

func (d *daemon) snapshot() dptest.Snapshot {
	d.t.Helper()
	s, err := d.Snapshot()
	if err != nil {
		d.t.Fatal(err)
	}
	return s
}

// delta is what changed between two snapshots.
type delta struct {
	queued, inspects, requests, empty, fromServer, denied uint64
}

func diffSnap(a, b dptest.Snapshot) delta {
	return delta{
		queued:     b.Queued - a.Queued,
		inspects:   b.Verdict(dataplane.Inspect) - a.Verdict(dataplane.Inspect),
		requests:   b.Decider.Requests - a.Decider.Requests,
		empty:      b.Decider.Empty - a.Decider.Empty,
		fromServer: b.Decider.FromServer - a.Decider.FromServer,
		denied:     b.Decider.PayloadDenied - a.Decider.PayloadDenied,
	}
}

// TestInspectQueuesRequestsOnly: on an inspected HTTP keep-alive
// connection, user space sees one packet per request — not the responses
// (32 MiB of them included), not the ACKs, SYN or FIN; IPv4 and IPv6, both
// topologies.
func TestInspectQueuesRequestsOnly(t *testing.T) {
	const requests = 40
	eachInspectNode(t, func(t *testing.T, client, server *testenv.Container, d *daemon) {
		for _, ip := range []netip.Addr{server.IP4, server.IP6} {
			before := d.snapshot()
			hc := dialHTTP(t, client.Host, hostPort(ip, inspectPort))
			for i := range requests {
				path := fmt.Sprintf("/item/%d", i)
				hc.mustGet(t, path, []byte("ok "+path+"\n"))
			}
			hc.mustGet(t, "/big/33554432", bigBody(32<<20))
			hc.c.Close()
			time.Sleep(100 * time.Millisecond) // let the FINs pass
			got := diffSnap(before, d.snapshot())
			// The SYN (undecided: queued, decided Inspect), then
			// one packet per request.
			const slack = 3
			if got.inspects != 1 || got.requests < requests+1 || got.queued > requests+1+1+slack {
				t.Errorf("%v: %d requests (the last one answered with 32 MiB) queued %d packets (%d with a request, %d inspect decisions); want 1 decision and at most %d packets",
					ip, requests+1, got.queued, got.requests, got.inspects, requests+1+1+slack)
			}
			if got.empty != 0 || got.fromServer != 0 {
				t.Errorf("%v: user space saw %d packets without payload and %d from the server on an inspected connection, want none", ip, got.empty, got.fromServer)
			}
		}
	})
}

// TestInspectTinySegments: segments of one to three bytes are requests
// too (a payload test that reads four bytes would miss them), and packets
// whose headers the kernel rule cannot measure — IPv4 options, IPv6
// extension headers — are queued, never passed unseen.
func TestInspectTinySegments(t *testing.T) {
	const writes = 30
	eachInspectNode(t, func(t *testing.T, client, server *testenv.Container, d *daemon) {
		for _, tc := range []struct {
			name    string
			ip      netip.Addr
			options bool
		}{
			{"ipv4", server.IP4, false},
			{"ipv6", server.IP6, false},
			{"ipv4 with options", server.IP4, true},
			{"ipv6 with extension header", server.IP6, true},
		} {
			before := d.snapshot()
			c := dialTiny(t, client.Host, hostPort(tc.ip, tinyEchoPort), tc.options)
			for i := range writes {
				msg := []byte("abc")[:1+i%3]
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				back := make([]byte, len(msg))
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
					t.Fatalf("%s: echo of %q: %q, %v", tc.name, msg, back, err)
				}
			}
			c.Close()
			time.Sleep(100 * time.Millisecond)
			got := diffSnap(before, d.snapshot())
			if got.requests != writes || got.fromServer != 0 {
				t.Errorf("%s: %d writes of 1 to 3 bytes reached user space as %d requests (%d from the server), want each write once", tc.name, writes, got.requests, got.fromServer)
			}
			switch {
			case tc.options && got.empty == 0:
				t.Errorf("%s: no packet without payload was queued; want them queued (the kernel rule cannot measure these headers)", tc.name)
			case !tc.options && got.empty != 0:
				t.Errorf("%s: %d packets without payload reached user space, want none", tc.name, got.empty)
			}
		}
	})
}

// dialTiny connects with TCP_NODELAY (every write is a segment) and, with
// options, an IPv4 option (no-operations) or an IPv6 destination options
// header on every packet.
func dialTiny(t *testing.T, h *testenv.Host, addr string, options bool) net.Conn {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	var d net.Dialer
	if options {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				if ap.Addr().Is4() {
					serr = unix.SetsockoptString(int(fd), unix.IPPROTO_IP, unix.IP_OPTIONS, "\x01\x01\x01\x00")
				} else {
					// Destination options: next header (set by the
					// kernel), length 0 (8 bytes), PadN of 4 bytes.
					serr = unix.SetsockoptString(int(fd), unix.IPPROTO_IPV6, unix.IPV6_DSTOPTS, "\x00\x00\x01\x04\x00\x00\x00\x00")
				}
			})
			return errors.Join(err, serr)
		}
	}
	var c net.Conn
	err := h.Do(func() error {
		var err error
		c, err = d.DialContext(context.Background(), "tcp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.(*net.TCPConn).SetNoDelay(true); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestInspectDenyLaterRequest: an allowed keep-alive connection cannot
// carry a forbidden request later. The earlier requests succeed; the
// forbidden one is dropped and the client gets a TCP reset at once (the
// REJECT of the re-entered request packet), not a timeout; so does any
// later packet of the connection. New connections are inspected afresh.
func TestInspectDenyLaterRequest(t *testing.T) {
	eachInspectNode(t, func(t *testing.T, client, server *testenv.Container, d *daemon) {
		for _, ip := range []netip.Addr{server.IP4, server.IP6} {
			before := d.snapshot()
			hc := dialHTTP(t, client.Host, hostPort(ip, inspectPort))
			for i := range 5 {
				path := fmt.Sprintf("/fine/%d", i)
				hc.mustGet(t, path, []byte("ok "+path+"\n"))
			}
			code, _, err := hc.get(forbiddenPath)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("%v: forbidden request on an allowed connection: status %d, error %v; want a connection reset", ip, code, err)
			}
			if _, _, err := hc.get("/fine/again"); err == nil {
				t.Fatalf("%v: the denied connection still carries requests", ip)
			}
			got := diffSnap(before, d.snapshot())
			if got.denied != 1 {
				t.Errorf("%v: %d connections denied for their payload, want 1", ip, got.denied)
			}
			// A new connection is inspected afresh: fine requests
			// pass, and the forbidden path is refused again.
			hc2 := dialHTTP(t, client.Host, hostPort(ip, inspectPort))
			hc2.mustGet(t, "/fine/new", []byte("ok /fine/new\n"))
			if _, _, err := hc2.get("/x" + forbiddenPath); !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("%v: forbidden request on a second connection: %v, want a connection reset", ip, err)
			}
		}
	})
}

// TestInspectUDP: on an inspected UDP flow every datagram the client sends
// is queued, none of the server's answers.
func TestInspectUDP(t *testing.T) {
	const datagrams = 50
	eachInspectNode(t, func(t *testing.T, client, server *testenv.Container, d *daemon) {
		for _, ip := range []netip.Addr{server.IP4, server.IP6} {
			before := d.snapshot()
			udpExchange(t, client.Host, hostPort(ip, udpEchoPort), datagrams)
			got := diffSnap(before, d.snapshot())
			// udpExchange resends a datagram whose echo is late: count
			// at least one request per datagram, and nothing else
			// beyond the first (deciding) one.
			if got.inspects != 1 || got.requests < datagrams-1 || got.fromServer != 0 || got.queued > got.requests+1 {
				t.Errorf("%v: %d datagrams: queued %d (%d requests seen on the inspected flow, %d from the server, %d inspect decisions); want each datagram once and no answer",
					ip, datagrams, got.queued, got.requests, got.fromServer, got.inspects)
			}
		}
	})
}
