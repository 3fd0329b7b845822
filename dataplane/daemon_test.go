package dataplane_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/dataplane"
	"bulkhead.dev/bulkhead/dataplane/dptest"
	"bulkhead.dev/bulkhead/testenv"
)

// bulkheadBin is the binary the integration tests run inside the node
// namespace: $BULKHEAD_BIN (make test builds it), else built by TestMain.
var bulkheadBin string

func TestMain(m *testing.M) {
	flag.Parse()
	bulkheadBin = os.Getenv("BULKHEAD_BIN")
	cleanup := func() {}
	if bulkheadBin == "" && os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "bulkhead-dataplane-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cleanup = func() { os.RemoveAll(dir) }
		bulkheadBin = filepath.Join(dir, "bulkhead")
		cmd := exec.Command("go", "build", "-o", bulkheadBin, "bulkhead.dev/bulkhead/cmd/bulkhead")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "dataplane tests: build bulkhead:", err)
			cleanup()
			os.Exit(1)
		}
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
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
	dd, err := dptest.Start(n, bulkheadBin, all...)
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
