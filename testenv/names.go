package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync/atomic"
	"syscall"
)

var nodeSeq atomic.Uint32

// testPrefix returns a namespace prefix unique to this process and call:
// bh<pid>x<seq>.
func testPrefix() string {
	return fmt.Sprintf("bh%dx%d", os.Getpid(), nodeSeq.Add(1))
}

// namedPrefix returns the prefix of a node built for people: bh-<name>.
func namedPrefix(name string) string { return "bh-" + name }

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,23}$`)

// checkName validates a node, container or external host name.
func checkName(kind, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("testenv: bad %s name %q: want 1-24 characters of a-z, 0-9 and '-', starting with a letter or digit", kind, name)
	}
	return nil
}

// hostIfName returns the node-side veth name of a container: Docker style
// (veth + 7 hex) when bridged, Calico style (cali + 11 hex) when routed.
// It is derived from the node prefix and the container name, so it is
// stable for a node and unique within it.
func hostIfName(topo Topology, prefix, container string) string {
	sum := sha256.Sum256([]byte(prefix + "/" + container))
	h := hex.EncodeToString(sum[:])
	if topo == Routed {
		return "cali" + h[:11]
	}
	return "veth" + h[:7]
}

var testNS = regexp.MustCompile(`^bh(\d+)x\d+-`)

// sweepStale removes namespaces left behind by test processes that no
// longer exist (killed before their cleanup ran). Namespaces of live
// processes, and named ones (bh-<name>-…), are left alone.
func sweepStale() {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		m := testNS.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_ = deleteNS(e.Name())
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
