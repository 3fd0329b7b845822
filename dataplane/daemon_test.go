package dataplane_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/dataplane/dptest"
	"bulkhead.dev/bulkhead/testenv"
)

// The bulkhead binary the integration tests run inside the node namespace:
// testenv.Binary ($BULKHEAD_BIN, which make test sets, else a fresh build),
// made once, by the first test that needs it.
var (
	binOnce    sync.Once
	binPath    string
	binErr     error
	binCleanup = func() {}
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	binCleanup()
	os.Exit(code)
}

// bulkheadBin returns the binary, failing t if it cannot be built.
func bulkheadBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		var cleanup func()
		binPath, cleanup, binErr = testenv.Binary()
		if cleanup != nil {
			binCleanup = cleanup
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// requireIntegration skips, saying why, when the test cannot build
// namespaces (not root).
func requireIntegration(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t)
}

// daemon is `bulkhead dataplane` in a node, failing the test on errors.
type daemon struct {
	*dptest.Daemon
	t    *testing.T
	node *testenv.Node
}

// startDaemon starts `bulkhead dataplane ARGS` in the node and waits until
// it has attached every container.
func startDaemon(t *testing.T, n *testenv.Node, args ...string) *daemon {
	t.Helper()
	all := append([]string{"--queues", "2", "--backend", "nft", "--log-level", "debug"}, args...)
	dd, err := dptest.Start(n, bulkheadBin(t), all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dd.Proc.Kill()
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", dd.Stderr.String())
		}
	})
	return &daemon{Daemon: dd, t: t, node: n}
}

// waitRules waits until the node's rules mention veth (present) or not.
func (d *daemon) waitRules(veth string, present bool) {
	d.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := iptablesSave(d.t, d.node)
		if strings.Contains(s, veth) == present {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("rules for %s present=%v not reached within 10s:\n%s\ndaemon stderr:\n%s", veth, present, s, d.Stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) stats() dataplane.Stats {
	d.t.Helper()
	s, err := d.Stats()
	if err != nil {
		d.t.Fatal(err)
	}
	return s
}

func (d *daemon) stop() {
	d.t.Helper()
	if err := d.Stop(); err != nil {
		d.t.Fatal(err)
	}
}

func (d *daemon) kill() { d.Kill() }

var saveNoise = regexp.MustCompile(`(?m)^#.*\n`)

// iptablesSave returns the node's IPv4 and IPv6 filter tables, without
// comments.
func iptablesSave(t *testing.T, n *testenv.Node) string {
	t.Helper()
	var b strings.Builder
	for _, prog := range []string{"iptables-nft-save", "ip6tables-nft-save"} {
		out, err := n.Node.Run(context.Background(), prog, "-t", "filter")
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(saveNoise.ReplaceAllString(string(out), ""))
	}
	return b.String()
}

// The connmark mechanisms the kernel supports, found once by the
// dataplane's own start-up detection.
var (
	mechOnce     sync.Once
	mechDetected dataplane.Mechanism
	mechErr      error
)

// detectMechanism starts a Dataplane with MechanismAuto (one queue, no
// iptables: a FakeRunner) in n's namespace and returns what it chose.
func detectMechanism(n *testenv.Node) (dataplane.Mechanism, error) {
	var m dataplane.Mechanism
	err := n.Node.Do(func() error {
		d, err := dataplane.New(dataplane.Config{Decider: &dataplane.StaticDecider{}, Queues: 1, QueueBase: 4000,
			Runner: &dataplane.FakeRunner{}, ProcRoot: "/proc/thread-self"})
		if err != nil {
			return err
		}
		if err := d.Start(context.Background()); err != nil {
			return errors.Join(err, d.Close())
		}
		m = d.Mechanism()
		return d.Close()
	})
	return m, err
}

// mechanisms returns the connmark mechanisms to test: repeat always (every
// kernel), verdict when the start-up detection picks it. When it does not,
// the test says so (in its log, without skipping: repeat still runs).
func mechanisms(t *testing.T, n *testenv.Node) []dataplane.Mechanism {
	t.Helper()
	mechOnce.Do(func() { mechDetected, mechErr = detectMechanism(n) })
	if mechErr != nil {
		t.Fatalf("detect the connmark mechanism: %v", mechErr)
	}
	if mechDetected != dataplane.MechanismVerdict {
		t.Logf("connmark=verdict not applicable on this kernel: start-up detection chose %q (the kernel refuses conntrack information on queued packets: no CONFIG_NETFILTER_NETLINK_GLUE_CT); testing connmark=repeat only",
			mechDetected)
		return []dataplane.Mechanism{dataplane.MechanismRepeat}
	}
	return []dataplane.Mechanism{dataplane.MechanismRepeat, dataplane.MechanismVerdict}
}

// eachMechanism runs fn as a subtest per mechanism (see mechanisms), with
// the daemon arguments that select it.
func eachMechanism(t *testing.T, n *testenv.Node, fn func(t *testing.T, mechArgs []string)) {
	t.Helper()
	for _, m := range mechanisms(t, n) {
		t.Run("connmark="+string(m), func(t *testing.T) {
			fn(t, []string{"--connmark", string(m)})
		})
	}
}
