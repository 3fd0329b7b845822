package netns

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/testenv"
	"github.com/google/go-cmp/cmp"
)

// TestList finds every container of both topologies with its host veth,
// bridge, peer namespace, peer interface and addresses, and nothing else
// (not the bridge, not the external link ext1, not lo).
func TestList(t *testing.T) {
	topologies(t, func(t *testing.T, topo testenv.Topology) {
		n := newTestNode(t, topo)
		got, err := List(context.Background(), Config{NetNS: n.Node.NSPath()})
		if err != nil {
			t.Fatal(err)
		}
		if d := diffContainers(got, wantAll(t, n)); d != "" {
			t.Errorf("List (-want +got):\n%s", d)
		}
	})
}

// TestListFromInsideNodeNamespace lists with Config.NetNS empty from a
// goroutine whose thread is in the node namespace.
func TestListFromInsideNodeNamespace(t *testing.T) {
	n := newTestNode(t, testenv.Routed)
	var got []Container
	err := n.Node.Do(func() (err error) {
		got, err = List(context.Background(), Config{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := diffContainers(got, wantAll(t, n)); d != "" {
		t.Errorf("List (-want +got):\n%s", d)
	}
}

// TestListAsAgentProcess runs the listing in a process started with
// `ip netns exec NODE`, as the agent is: Config.NetNS is empty.
func TestListAsAgentProcess(t *testing.T) {
	n := newTestNode(t, testenv.Bridged)
	cmd := n.Node.Command(context.Background(), os.Args[0], "-test.run=^TestHelperListProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BULKHEAD_NETNS_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(line, "container: "); ok {
			got = append(got, s)
		}
	}
	if d := cmp.Diff(render(wantAll(t, n)), got); d != "" {
		t.Errorf("List in the agent process (-want +got):\n%s\noutput:\n%s", d, out)
	}
}

// TestHelperListProcess is the process TestListAsAgentProcess starts.
func TestHelperListProcess(t *testing.T) {
	if os.Getenv("BULKHEAD_NETNS_HELPER") != "1" {
		t.Skip("helper process for TestListAsAgentProcess, not a test of its own")
	}
	cs, err := List(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		fmt.Printf("container: %s\n", c)
	}
}

// TestListUnnamedNamespace finds a peer namespace through /proc when no
// named directory holds it, and reports an honest blank when nothing does.
func TestListUnnamedNamespace(t *testing.T) {
	n := newNode(t, testenv.Config{Topology: testenv.Bridged, Containers: []string{"a", "b"}})
	a := n.Container("a")
	p, err := a.StartProgram(context.Background(), nil, nil, "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	got, err := List(context.Background(), Config{NetNS: n.Node.NSPath(), NamedDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	want := wantAll(t, n)
	for i := range want {
		want[i].NetNS = ""
		if want[i].HostIf == a.HostIf {
			want[i].NetNSPath = fmt.Sprintf("/proc/%d/ns/net", p.PID())
			continue
		}
		// No process lives in b and no named directory is searched: its
		// namespace cannot be opened, so its peer side is unknown.
		want[i].NetNSPath, want[i].PeerIf, want[i].Addrs = "", "", nil
	}
	if d := diffContainers(got, want); d != "" {
		t.Errorf("List (-want +got):\n%s", d)
	}
}
