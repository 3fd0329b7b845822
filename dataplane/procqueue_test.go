package dataplane

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadProcQueues(t *testing.T) {
	for _, tc := range []struct {
		root    string
		want    []ProcQueue
		wantErr string
	}{
		{"testdata/proc/two-queues", []ProcQueue{
			{Queue: 0, PortID: 2310, Waiting: 0, CopyMode: 2, CopyRange: 65531, IDSequence: 144407},
			{Queue: 1, PortID: 3213871, Waiting: 3, CopyMode: 2, CopyRange: 65531, Dropped: 12, UserDropped: 5, IDSequence: 43845},
		}, ""},
		{"testdata/proc/empty", nil, ""},
		{"testdata/proc/missing", nil, ""},
		{"testdata/proc/bad", nil, "testdata/proc/bad/net/netfilter/nfnetlink_queue: line 1"},
	} {
		t.Run(tc.root, func(t *testing.T) {
			got, err := ReadProcQueues(tc.root)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseProcQueuesRejects(t *testing.T) {
	for _, in := range []string{
		"0 1 2 3\n",                        // too few fields
		"65536 1 0 2 65531 0 0 1 1\n",      // queue number out of range
		"0 1 0 256 65531 0 0 1 1\n",        // copy mode out of range
		"0 1 0 2 65531 0 4294967296 1 1\n", // counter out of range
		"0 -1 0 2 65531 0 0 1 1\n",         // negative
	} {
		if _, err := ParseProcQueues([]byte(in)); err == nil {
			t.Errorf("ParseProcQueues(%q) succeeded", in)
		}
	}
}

func FuzzParseProcQueues(f *testing.F) {
	f.Add([]byte("    0   2310     0 2 65531     0     0   144407  1\n"))
	f.Add([]byte("    1 3213871     3 2 65531    12     5    43845  1\n\n"))
	f.Add([]byte("0 0 0 0 0 0 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		qs, err := ParseProcQueues(b)
		if err != nil && qs != nil {
			t.Fatalf("error %v with %d queues", err, len(qs))
		}
	})
}
