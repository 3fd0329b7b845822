package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestHostIfNameStyles(t *testing.T) {
	b := hostIfName(Bridged, "bh1x1", "web")
	r := hostIfName(Routed, "bh1x1", "web")
	if !strings.HasPrefix(b, "veth") || len(b) != 11 {
		t.Errorf("bridged name %q: want veth + 7 hex", b)
	}
	if !strings.HasPrefix(r, "cali") || len(r) != 15 {
		t.Errorf("routed name %q: want cali + 11 hex", r)
	}
	if hostIfName(Bridged, "bh1x1", "db") == b {
		t.Errorf("two containers got the same veth name %q", b)
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"web", true}, {"api-2", true}, {"", false}, {"Web", false}, {"-x", false},
		{"a_b", false}, {strings.Repeat("a", 25), false},
	} {
		err := checkName("container", tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("checkName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.name)) {
			t.Errorf("error %q does not name the bad input", err)
		}
	}
}

func TestBuildRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Topology: "mesh"},
		{Containers: []string{"a", "a"}},
		{Containers: []string{"Bad"}},
		{Containers: []string{"a"}, Externals: []ExternalSpec{{Name: "a"}}},
	} {
		if n, err := Build(cfg); err == nil {
			n.Close()
			t.Errorf("Build(%+v) succeeded, want error", cfg)
		}
	}
}

// TestTopologies proves both topologies carry real traffic between
// containers (IPv4 and IPv6, TCP, UDP, HTTP, DNS) and to external hosts.
func TestTopologies(t *testing.T) {
	for _, topo := range []Topology{Bridged, Routed} {
		t.Run(string(topo), func(t *testing.T) {
			n := New(t, Config{
				Topology:   topo,
				Containers: []string{"client", "server"},
				Externals:  []ExternalSpec{{Name: "internet", Addrs: []netip.Addr{netip.MustParseAddr("198.19.200.10")}}},
			})
			client, server := n.Container("client"), n.Container("server")
			inet := n.External("internet")

			if _, err := server.ServeHTTP(":8080", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := server.ServeTCPEcho(":7000"); err != nil {
				t.Fatal(err)
			}
			if _, err := server.ServeUDPEcho(":7001"); err != nil {
				t.Fatal(err)
			}
			if _, err := inet.ServeHTTP(":80", nil); err != nil {
				t.Fatal(err)
			}
			for _, ip := range []netip.Addr{server.IP4, server.IP6} {
				got := httpGet(t, client.Host, fmt.Sprintf("http://%s/hello", netip.AddrPortFrom(ip, 8080)))
				if want := "GET /hello from server\n"; got != want {
					t.Errorf("HTTP via %v: got %q, want %q", ip, got, want)
				}
				echoTCP(t, client.Host, netip.AddrPortFrom(ip, 7000).String())
				echoUDP(t, client.Host, netip.AddrPortFrom(ip, 7001).String())
			}
			// Egress: the external host's link address, an extra address,
			// and IPv6.
			for _, a := range []netip.Addr{inet.IP4, netip.MustParseAddr("198.19.200.10"), inet.IP6} {
				got := httpGet(t, client.Host, fmt.Sprintf("http://%s/out", netip.AddrPortFrom(a, 80)))
				if want := "GET /out from internet\n"; got != want {
					t.Errorf("egress to %v: got %q, want %q", a, got, want)
				}
			}
			// The node reaches its containers.
			got := httpGet(t, n.Node, fmt.Sprintf("http://%s/", netip.AddrPortFrom(server.IP4, 8080)))
			if got != "GET / from server\n" {
				t.Errorf("node to container: got %q", got)
			}
		})
	}
}

func TestDNSServer(t *testing.T) {
	n := New(t, Config{Containers: []string{"client", "dns"}})
	srv, err := n.Container("dns").ServeDNS(":53", Zone{
		"api.example.com. 60 IN A 198.19.1.2",
		"www.example.com. 30 IN CNAME api.example.com.",
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = srv
	server := netip.AddrPortFrom(n.Container("dns").IP4, 53).String()
	for _, network := range []string{"udp", "tcp"} {
		conn, err := n.Container("client").Dial(network, server)
		if err != nil {
			t.Fatal(err)
		}
		c := &dns.Conn{Conn: conn}
		q := new(dns.Msg).SetQuestion("api.example.com.", dns.TypeA)
		if err := c.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
		r, err := c.ReadMsg()
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "198.19.1.2" {
			t.Errorf("%s: answer %v", network, r.Answer)
		}
		q = new(dns.Msg).SetQuestion("nope.example.com.", dns.TypeA)
		_ = c.WriteMsg(q)
		r, err = c.ReadMsg()
		if err != nil || r.Rcode != dns.RcodeNameError {
			t.Errorf("%s: unknown name: rcode %v err %v, want NXDOMAIN", network, r, err)
		}
		c.Close()
	}
}

// TestBridgedPhysdev proves iptables in the node namespace sees bridged
// traffic with the physdev match (br_netfilter on).
func TestBridgedPhysdev(t *testing.T) {
	n := New(t, Config{Containers: []string{"a", "b"}})
	a, b := n.Container("a"), n.Container("b")
	ctx := context.Background()
	if _, err := n.Node.Run(ctx, "iptables", "-A", "FORWARD", "-m", "physdev", "--physdev-in", a.HostIf, "-j", "ACCEPT"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ServeTCPEcho(":7000"); err != nil {
		t.Fatal(err)
	}
	echoTCP(t, a.Host, netip.AddrPortFrom(b.IP4, 7000).String())
	out, err := n.Node.Run(ctx, "iptables", "-L", "FORWARD", "-v", "-x", "-n")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "PHYSDEV") {
			if f := strings.Fields(line); len(f) > 0 && f[0] != "0" {
				return
			}
		}
	}
	t.Errorf("physdev rule counted no packets:\n%s", out)
}

func TestAddRemoveContainerAndClose(t *testing.T) {
	RequireRoot(t)
	n, err := Build(Config{Topology: Routed, Containers: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c, err := n.AddContainer("late")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddContainer("late"); err == nil {
		t.Error("adding a duplicate container succeeded")
	}
	if _, err := c.ServeTCPEcho(":9000"); err != nil {
		t.Fatal(err)
	}
	echoTCP(t, n.Container("a").Host, netip.AddrPortFrom(c.IP4, 9000).String())
	if _, err := n.Node.Netlink().LinkByName(c.HostIf); err != nil {
		t.Fatalf("host veth %s missing: %v", c.HostIf, err)
	}
	if err := n.RemoveContainer("late"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Node.Netlink().LinkByName(c.HostIf); err == nil {
		t.Errorf("host veth %s still present after removal", c.HostIf)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, c.NS)); err == nil {
		t.Errorf("namespace %s still present after removal", c.NS)
	}
	names := []string{n.Node.NS, n.Container("a").NS}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, ns := range names {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
			t.Errorf("namespace %s still present after Close", ns)
		}
	}
}

func TestProcessAndCapture(t *testing.T) {
	n := New(t, Config{Containers: []string{"a", "b"}})
	a, b := n.Container("a"), n.Container("b")
	if _, err := b.ServeTCPEcho(":7000"); err != nil {
		t.Fatal(err)
	}
	// A real program in a namespace sees only that namespace's interfaces.
	out, err := a.Run(context.Background(), "ip", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), a.IP4.String()) {
		t.Errorf("ip addr in container a: %s", out)
	}
	pcap := filepath.Join(t.TempDir(), "c.pcap")
	capt, err := b.Capture("eth0", pcap, "tcp port 7000")
	if err != nil {
		t.Fatal(err)
	}
	echoTCP(t, a.Host, netip.AddrPortFrom(b.IP4, 7000).String())
	if err := capt.Stop(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(pcap)
	if err != nil || st.Size() <= 24 {
		t.Fatalf("capture file: %v, %v (want packets after the 24-byte header)", st, err)
	}
	// Start tracks the process; Kill ends it.
	p, err := a.StartProgram(context.Background(), nil, nil, "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if !p.Exited() {
		t.Error("process still running after Kill")
	}
}

func httpGet(t *testing.T, h *Host, url string) string {
	t.Helper()
	resp, err := h.HTTPClient().Get(url)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", url, h.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func echoTCP(t *testing.T, h *Host, addr string) {
	t.Helper()
	c, err := h.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := []byte("bulkhead echo test payload")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("TCP echo %s: %v", addr, err)
	}
	if string(got) != string(msg) {
		t.Errorf("TCP echo %s: got %q", addr, got)
	}
}

func echoUDP(t *testing.T, h *Host, addr string) {
	t.Helper()
	c, err := h.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for try := 0; try < 5; try++ {
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		n, err := c.Read(buf)
		if err == nil && string(buf[:n]) == "ping" {
			return
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			continue
		}
		if err != nil {
			t.Fatalf("UDP echo %s: %v", addr, err)
		}
	}
	t.Errorf("UDP echo %s: no answer", addr)
}
