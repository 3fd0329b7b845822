package dataplane_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/testenv"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestKernelQueueCounters: the kernel's per-queue counters are really read
// from /proc/net/netfilter/nfnetlink_queue of the daemon's namespace: every
// queue is listed as bound, to the socket the kernel shows there, and the id
// sequence of the queues grows with the packets they carried.
func TestKernelQueueCounters(t *testing.T) {
	requireIntegration(t)
	n, client, server := newNode(t, testenv.Bridged)
	if _, err := server.ServeTCPEcho(":7000"); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, n, "--allow-all")
	before := d.stats()
	const conns = 20
	for range conns {
		c, err := client.Dial("tcp", hostPort(server.IP4, 7000))
		if err != nil {
			t.Fatal(err)
		}
		echo(t, c, 100)
		c.Close()
	}
	after := d.stats()
	// What the kernel shows, read from outside the daemon.
	out, err := n.Node.Run(context.Background(), "cat", "/proc/net/netfilter/nfnetlink_queue")
	if err != nil {
		t.Fatal(err)
	}
	kernel, err := dataplane.ParseProcQueues(out)
	if err != nil {
		t.Fatal(err)
	}
	ports := map[uint16]uint32{}
	for _, q := range kernel {
		ports[q.Queue] = q.PortID
	}
	if len(after.Queues) != 2 {
		t.Fatalf("%d queues in the counters, want 2", len(after.Queues))
	}
	var seqBefore, seqAfter, packets uint64
	for i, q := range after.Queues {
		if !q.KernelBound || q.KernelPortID == 0 || q.KernelPortID != ports[q.Queue] {
			t.Errorf("queue %d: bound=%v port id %d; the kernel lists port id %d (present: %v)", q.Queue, q.KernelBound, q.KernelPortID, ports[q.Queue], ports)
		}
		// The kernel numbers every packet it queues; the reader
		// received each of them.
		if uint64(q.KernelIDSequence) < q.Packets {
			t.Errorf("queue %d: kernel id sequence %d below the %d packets the reader received", q.Queue, q.KernelIDSequence, q.Packets)
		}
		seqBefore += uint64(before.Queues[i].KernelIDSequence)
		seqAfter += uint64(q.KernelIDSequence)
		packets += q.Packets - before.Queues[i].Packets
	}
	// Each connection's SYN was queued (allow-all decides it).
	if packets < conns || seqAfter-seqBefore < conns {
		t.Errorf("%d connections: readers received %d packets, kernel id sequences grew by %d; want ≥ %d each", conns, packets, seqAfter-seqBefore, conns)
	}
	if after.KernelDropped != 0 || after.KernelUserDropped != 0 {
		t.Errorf("kernel dropped %d, user dropped %d; want none", after.KernelDropped, after.KernelUserDropped)
	}
	d.stop()
}

// TestStatsErrorReported: when the daemon cannot read the kernel's queue
// counters, or reads another namespace's list that does not show its
// queues, dptest reports the error instead of passing zeros on.
func TestStatsErrorReported(t *testing.T) {
	requireIntegration(t)
	n, _, _ := newNode(t, testenv.Routed)
	bad, err := filepath.Abs("testdata/proc/bad")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, procRoot, want string
	}{
		{"no such file", t.TempDir(), "does not list queue 0, 1"},
		{"garbled file", bad, "field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDaemon(t, n, "--allow-all", "--proc-root", tc.procRoot)
			_, err := d.Snapshot()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.procRoot) {
				t.Errorf("Snapshot with --proc-root %s: error %v; want one naming the file and containing %q", tc.procRoot, err, tc.want)
			}
			d.stop()
		})
	}
}

// TestQueueOverflowCounted: a Decider too slow for the traffic (every
// decision takes 2 ms) behind a queue of 8 packets, fail-closed: the kernel
// drops what does not fit, the counters show it, and none of the dropped
// packets reaches the server.
func TestQueueOverflowCounted(t *testing.T) {
	requireIntegration(t)
	n, client, server := newNode(t, testenv.Bridged)
	sink := serveUDPSink(t, server.Host, ":7003", false)
	d := startDaemon(t, n, "--inspect-all", "--fail-closed", "--queues", "1", "--queue-len", "8", "--decide-delay", "2ms")
	c, err := client.Dial("udp", hostPort(server.IP4, 7003))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const sent = 2000
	msg := make([]byte, 32)
	for i := range sent {
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
	}
	// The reader works through what the queue held; then the counters
	// stop moving.
	var s dataplane.Stats
	deadline := time.Now().Add(10 * time.Second)
	for {
		s = d.stats()
		if s.Queues[0].KernelWaiting == 0 && s.KernelDropped+s.KernelUserDropped > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d datagrams into a queue of 8 with a 2 ms Decider: kernel dropped %d, user dropped %d, %d waiting after 10s; want drops counted",
				sent, s.KernelDropped, s.KernelUserDropped, s.Queues[0].KernelWaiting)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the last verdicts' datagrams reach the sink
	// Fail-closed: every datagram was either queued (and then
	// accepted) or dropped by the kernel; none passed uninspected.
	got, drops := sink.n.Load(), s.KernelDropped+s.KernelUserDropped
	if got == 0 || got > s.Queued || got+drops > sent {
		t.Errorf("%d datagrams sent: %d queued to the reader, %d dropped by the kernel, %d received; want some received, all of them queued, none of the dropped ones",
			sent, s.Queued, drops, got)
	}
	d.stop()
}

// TestQueueBoundByAnotherProcess: binding a queue another socket holds
// fails with EPERM; the error says the queue is taken (another bulkhead?)
// instead of a bare "operation not permitted". In process (two Dataplanes
// in one namespace) and with two daemons: the second exits with that error
// and leaves the first one's rules and traffic alone.
func TestQueueBoundByAnotherProcess(t *testing.T) {
	requireIntegration(t)
	n, client, server := newNode(t, testenv.Routed)
	if _, err := server.ServeTCPEcho(":7000"); err != nil {
		t.Fatal(err)
	}
	t.Run("in process", func(t *testing.T) {
		const queue = 4100
		var first, second *dataplane.Dataplane
		var secondErr error
		err := n.Node.Do(func() error {
			var err error
			newDP := func() (*dataplane.Dataplane, error) {
				return dataplane.New(dataplane.Config{Decider: &dataplane.StaticDecider{}, Queues: 1, QueueBase: queue,
					Runner: &dataplane.FakeRunner{}, ProcRoot: "/proc/thread-self"})
			}
			if first, err = newDP(); err != nil {
				return err
			}
			if err := first.Start(context.Background()); err != nil {
				return fmt.Errorf("first: %w", err)
			}
			if second, err = newDP(); err != nil {
				return err
			}
			secondErr = second.Start(context.Background())
			return nil
		})
		if first != nil {
			defer first.Close()
		}
		if second != nil {
			defer second.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("queue %d is bound by another process (another bulkhead?)", queue)
		if !errors.Is(secondErr, unix.EPERM) || !strings.Contains(fmt.Sprint(secondErr), want) {
			t.Errorf("second Start on queue %d: %v; want EPERM explained as %q", queue, secondErr, want)
		}
	})
	t.Run("two daemons", func(t *testing.T) {
		d := startDaemon(t, n, "--allow-all")
		rules := iptablesSave(t, n)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := n.Node.Run(ctx, bulkheadBin(t), "dataplane", "--allow-all", "--backend", "nft", "--queues", "2")
		want := "queue 0 is bound by another process (another bulkhead?)"
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("second daemon on the same queues: %v\n%s\nwant it to fail saying %q", err, out, want)
		}
		if diff := cmp.Diff(rules, iptablesSave(t, n)); diff != "" {
			t.Errorf("the second daemon changed the rules (-before +after):\n%s", diff)
		}
		c, err := client.Dial("tcp", hostPort(server.IP4, 7000))
		if err != nil {
			t.Fatal(err)
		}
		echo(t, c, 1<<20)
		c.Close()
		if s := d.stats(); s.Verdict(dataplane.Allow) == 0 {
			t.Errorf("the first daemon decided nothing after the second one failed: verdicts %v", s.Verdicts)
		}
		d.stop()
	})
}
