package dataplane

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProcQueue is one line of /proc/net/netfilter/nfnetlink_queue: the
// kernel's view of a bound queue.
type ProcQueue struct {
	Queue       uint16
	PortID      uint32 // netlink port id of the bound socket
	Waiting     uint32 // packets queued, waiting for a verdict
	CopyMode    uint8  // 0 none, 1 meta, 2 packet
	CopyRange   uint32
	Dropped     uint32 // dropped because the queue was full (queue_dropped)
	UserDropped uint32 // dropped because the socket buffer was full (queue_user_dropped)
	IDSequence  uint32 // id of the last queued packet
}

// procQueuePath is the file's path under a proc root.
const procQueuePath = "net/netfilter/nfnetlink_queue"

// ReadProcQueues reads the queues of the calling process's network
// namespace from procRoot (normally "/proc"; tests point it at fixtures).
// A missing file (no queue ever bound) is no queues.
func ReadProcQueues(procRoot string) ([]ProcQueue, error) {
	path := filepath.Join(procRoot, procQueuePath)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dataplane: read %s: %w", path, err)
	}
	qs, err := ParseProcQueues(b)
	if err != nil {
		return nil, fmt.Errorf("dataplane: %s: %w", path, err)
	}
	return qs, nil
}

// ParseProcQueues parses the contents of nfnetlink_queue.
func ParseProcQueues(b []byte) ([]ProcQueue, error) {
	var out []ProcQueue
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("line %d %q: %d fields, want 9", n, sc.Text(), len(f))
		}
		var v [8]uint64
		for i := range v {
			bits := 32
			switch i {
			case 0:
				bits = 16
			case 3:
				bits = 8
			}
			x, err := strconv.ParseUint(f[i], 10, bits)
			if err != nil {
				return nil, fmt.Errorf("line %d %q: field %d: %w", n, sc.Text(), i+1, err)
			}
			v[i] = x
		}
		out = append(out, ProcQueue{
			Queue: uint16(v[0]), PortID: uint32(v[1]), Waiting: uint32(v[2]),
			CopyMode: uint8(v[3]), CopyRange: uint32(v[4]), Dropped: uint32(v[5]),
			UserDropped: uint32(v[6]), IDSequence: uint32(v[7]),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
