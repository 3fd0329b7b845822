package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/testenv"
)

// The flood generator: the test binary re-executed inside a container with
// these variables set sends UDP datagrams, each to a new (source port,
// destination port) pair, so that every datagram is a new flow.
const (
	floodEnv      = "BULKHEAD_E2E_FLOOD"        // target address
	floodCountEnv = "BULKHEAD_E2E_FLOOD_COUNT"  // datagrams
	floodRateEnv  = "BULKHEAD_E2E_FLOOD_RATE"   // datagrams per second
	floodMaxEnv   = "BULKHEAD_E2E_FLOOD_MAXDUR" // stop after this long anyway
	floodSockets  = 16                          // source ports
)

// runFlood is the generator's main. It prints the number of datagrams sent.
func runFlood() int {
	target, err := netip.ParseAddr(os.Getenv(floodEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		return 2
	}
	count, _ := strconv.Atoi(os.Getenv(floodCountEnv))
	rate, _ := strconv.Atoi(os.Getenv(floodRateEnv))
	maxDur, _ := time.ParseDuration(os.Getenv(floodMaxEnv))
	var socks []*net.UDPConn
	for range floodSockets {
		c, err := net.ListenUDP("udp", nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "flood:", err)
			return 1
		}
		c.SetWriteBuffer(4 << 20)
		socks = append(socks, c)
	}
	payload := []byte("flood")
	start := time.Now()
	sent := 0
	const batch = 1000
	for sent < count && time.Since(start) < maxDur {
		for i := 0; i < batch && sent < count; i++ {
			s := socks[sent%floodSockets]
			port := 1 + (sent/floodSockets)%65535
			if _, err := s.WriteToUDPAddrPort(payload, netip.AddrPortFrom(target, uint16(port))); err == nil {
				sent++
			} else {
				sent++ // ENOBUFS and the like: the datagram is gone, count it as a flow attempt
			}
		}
		// Pace: sleep until the batch's share of a second has passed.
		if want := time.Duration(float64(sent) / float64(rate) * float64(time.Second)); time.Since(start) < want {
			time.Sleep(want - time.Since(start))
		}
	}
	fmt.Println(sent)
	return 0
}

// rss returns a process's resident set size from /proc.
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// memoryBound is the agent's documented bound with the default 262,144-flow
// table (docs/agent.md).
const memoryBound = 256 << 20

// TestFlood: a million distinct flows from a compromised container keep the
// agent under its memory bound while an HTTP request every 100 ms between
// two other containers succeeds throughout.
func TestFlood(t *testing.T) {
	b := newBed(t, "attacker")
	a := b.startAgent()
	a.loadPolicy("shop.yaml", shopPolicy)
	before, err := rss(a.proc.PID())
	if err != nil {
		t.Fatal(err)
	}

	// Normal traffic: frontend → api every 100 ms, each on a new
	// connection, checked request by request.
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: b.fe.DialContext, DisableKeepAlives: true}}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if err := httpGet(client, fmt.Sprintf("http://%s/users/%d", hostPort(apiIP, 8080), i)); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			} else {
				ok.Add(1)
			}
		}
	})
	var peak atomic.Int64
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if r, err := rss(a.proc.PID()); err == nil && r > peak.Load() {
				peak.Store(r)
			}
		}
	})

	const flows = 1_000_000
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), floodEnv+"="+dbIP.String(), floodCountEnv+"="+strconv.Itoa(flows),
		floodRateEnv+"=50000", floodMaxEnv+"=60s")
	var out testenv.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	p, err := b.n.Container("attacker").Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.Wait(); err != nil {
		t.Fatalf("flood generator: %v\n%s", err, out.String())
	}
	floodTime := time.Since(start)
	time.Sleep(time.Second) // normal traffic after the flood too
	close(stop)
	wg.Wait()
	after, _ := rss(a.proc.PID())
	sent, _ := strconv.Atoi(strings.TrimSpace(out.String()))

	st, err := a.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("flood: %d datagrams in %v; agent RSS before %d MiB, peak %d MiB, after %d MiB; flows created %d, active %d, evicted %v; events written %d, dropped %d; queued %d",
		sent, floodTime.Round(time.Millisecond), before>>20, peak.Load()>>20, after>>20, st.Flows.Created, st.Flows.Active, st.Flows.Evicted,
		st.Events.Written, st.Events.Dropped, st.Dataplane.Counters.Queued)
	if sent < flows {
		t.Errorf("the generator sent %d datagrams, want %d", sent, flows)
	}
	if p := peak.Load(); p > memoryBound || after > memoryBound {
		t.Errorf("agent RSS peaked at %d MiB (after: %d MiB), over the %d MiB bound", p>>20, after>>20, memoryBound>>20)
	}
	if st.Flows.Created < flows/2 {
		t.Errorf("the agent saw %d new flows of %d: the flood did not reach it", st.Flows.Created, flows)
	}
	if f := failed.Load(); f > 0 {
		t.Errorf("%d of %d HTTP requests failed during the flood (first: %v)", f, f+ok.Load(), firstErr.Load())
		t.Logf("dataplane counters: %+v", *st.Dataplane.Counters)
		for _, e := range a.events() {
			if e.Src.Workload == "frontend" {
				t.Logf("event: %+v", e)
				if e.Evidence != "" {
					out, _ := exec.Command("tcpdump", "-nn", "-v", "-r", filepath.Join(a.state, "evidence", e.Evidence)).CombinedOutput()
					t.Logf("evidence:\n%s", out)
				}
			}
		}
	}
	if ok.Load() < int64(floodTime/(200*time.Millisecond)) {
		t.Errorf("only %d HTTP requests succeeded in %v", ok.Load(), floodTime)
	}
}
