package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/dataplane/dptest"
	"bulkhead.dev/bulkhead/testenv"
)

// The interim demo: the test bed plus the dataplane with a static decider.
// The agent will replace it with the full learn → protect walk-through.

func init() {
	register(command{
		name:    "demo",
		usage:   "[--name NAME]",
		summary: "walk through the dataplane on a throw-away test bed: HTTP allowed, redis denied, the kernel fast path",
		run:     runDemo,
	})
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "demo", "name of the demo's test bed (namespaces bh-NAME-*)")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if os.Geteuid() != 0 {
		return errors.New("the demo builds network namespaces and iptables rules inside them: run it as root (sudo make demo)")
	}
	if existing := testbedNamespaces(*name); len(existing) > 0 {
		return fmt.Errorf("a test bed %q already exists (%s); remove it with: bulkhead testenv down --name %s", *name, strings.Join(existing, ", "), *name)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	step := 0
	title := func(s string) { step++; fmt.Fprintf(stdout, "\n%d. %s\n", step, s) }

	title("Build a container node from network namespaces (bridged, like Docker)")
	n, err := testenv.Build(testenv.Config{Name: *name, Topology: testenv.Bridged, Containers: []string{"client", "web", "redis"}})
	if err != nil {
		return err
	}
	defer func() {
		cerr := n.Close()
		if cerr == nil {
			say("\nRemoved the test bed (namespaces bh-%s-*).", *name)
		}
		err = errors.Join(err, cerr)
	}()
	client, web, redis := n.Container("client"), n.Container("web"), n.Container("redis")
	for _, c := range n.Containers() {
		say("   %-7s %-15s node-side veth %s", c.Name, c.IP4, c.HostIf)
	}
	if _, err := web.ServeHTTP(":80", nil); err != nil {
		return err
	}
	if _, err := web.ServeTCPEcho(":7000"); err != nil {
		return err
	}
	redisKind := "a Go TCP server standing in for redis (redis-server is not installed)"
	if _, lerr := exec.LookPath("redis-server"); lerr == nil {
		if _, err := redis.StartProgram(ctx, nil, nil, "redis-server", "--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""); err != nil {
			return err
		}
		redisKind = "a real redis-server"
	} else if _, err := redis.ServeTCPEcho(":6379"); err != nil {
		return err
	}
	say("   web serves HTTP on :80; redis runs %s on :6379", redisKind)
	webURL := "http://" + netip.AddrPortFrom(web.IP4, 80).String() + "/"
	redisAddr := netip.AddrPortFrom(redis.IP4, 6379).String()
	if err := waitDial(client, redisAddr); err != nil {
		return err
	}

	title("Without Bulkhead, the client reaches both")
	say("   client → web   HTTP: %s", httpResult(client, webURL))
	say("   client → redis TCP : %s", dialResult(client, redisAddr))

	title("Start `bulkhead dataplane --deny tcp/6379` in the node")
	dp, err := dptest.Start(n, self, "--deny", "tcp/6379")
	if err != nil {
		return err
	}
	defer dp.Kill()
	say("   it found the containers' veths, installed its iptables chains (BULKHEAD-*) and bound the NFQUEUE queues;")
	say("   first packets of each connection now go to it; it decides, and the kernel carries the rest.")
	say("   rules in the node:")
	if rules, err := n.Node.Run(ctx, "iptables-save", "-t", "filter"); err == nil {
		for _, l := range strings.Split(string(rules), "\n") {
			if strings.HasPrefix(l, "-A FORWARD") || strings.HasPrefix(l, "-A BULKHEAD-FWD") || strings.HasPrefix(l, "-A BULKHEAD-POLICY") || strings.HasPrefix(l, "-A BULKHEAD-QUEUE") {
				say("     %s", l)
			}
		}
	}

	title("With Bulkhead: HTTP is allowed, redis is denied")
	say("   client → web   HTTP: %s", httpResult(client, webURL))
	say("   client → redis TCP : %s", dialResult(client, redisAddr))
	if _, err := exec.LookPath("redis-cli"); err == nil {
		out, _ := client.Command(ctx, "redis-cli", "-h", redis.IP4.String(), "-p", "6379", "ping").CombinedOutput()
		say("   redis-cli ping     : %s", strings.TrimSpace(string(out)))
	}
	s, err := dp.Stats()
	if err != nil {
		return err
	}
	say("   the daemon decided: %d connection(s) allowed, %d denied (TCP peers get a reset at once)", s.Verdict(dataplane.Allow), s.Verdict(dataplane.Deny))

	title("The kernel fast path: a decided connection never reaches user space again")
	conn, err := client.Dial("tcp", netip.AddrPortFrom(web.IP4, 7000).String())
	if err != nil {
		return err
	}
	defer conn.Close()
	chunk := make([]byte, 1<<20)
	for i := 0; i <= 4; i++ {
		if i > 0 {
			rand.Read(chunk)
			if err := echoOnce(conn, chunk); err != nil {
				return err
			}
		}
		s, err := dp.Stats()
		if err != nil {
			return err
		}
		say("   %d MiB sent and echoed back on one connection → packets queued so far: %d", i, s.Queued)
		time.Sleep(150 * time.Millisecond)
	}
	say("   the counter stays put: after the first packet, the connmark lets the kernel accept the rest.")

	title("Stop the daemon (SIGTERM): it removes every rule it added")
	if err := dp.Stop(); err != nil {
		return err
	}
	rules, _ := n.Node.Run(ctx, "iptables-save", "-t", "filter")
	say("   BULKHEAD rules left in the node: %d", strings.Count(string(rules), "BULKHEAD"))
	say("   client → redis TCP : %s", dialResult(client, redisAddr))
	say("\nNext: make test runs the integration tests (both topologies, kill -9, fail-open/closed);")
	say("      make bench-dataplane measures the cost; docs/dataplane.md explains the rules.")
	return nil
}

func waitDial(h *testenv.Container, addr string) error {
	for i := 0; i < 50; i++ {
		if c, err := h.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s does not answer", addr)
}

func httpResult(c *testenv.Container, url string) string {
	resp, err := c.HTTPClient().Get(url)
	if err != nil {
		return "failed: " + err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%s, %q", resp.Status, strings.TrimSpace(string(body)))
}

func dialResult(c *testenv.Container, addr string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	conn, err := c.DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Sprintf("connection reset after %v (denied)", time.Since(start).Round(10*time.Microsecond))
		}
		return "failed: " + err.Error()
	}
	conn.Close()
	return "connected"
}

func echoOnce(c io.ReadWriter, b []byte) error {
	errc := make(chan error, 1)
	go func() { _, err := c.Write(b); errc <- err }()
	got := make([]byte, len(b))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	if !bytes.Equal(got, b) {
		return errors.New("echo differs")
	}
	return nil
}
