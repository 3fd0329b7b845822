package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/internal/golden"
)

// fakeResults are made-up medians: every metric of every test in every
// mode it runs in, with throughput and CPU chosen to exercise the targets.
func fakeResults(b *bench) results {
	res := results{}
	set := func(metric, mode string, s ...sample) {
		if res[metric] == nil {
			res[metric] = map[string][]sample{}
		}
		res[metric][mode] = s
	}
	for _, t := range b.tests() {
		for _, m := range t.metrics {
			for i, mode := range b.modesOf(t) {
				v := 100.0
				if m.lowerBetter {
					v = 10 + float64(i)
				} else {
					v -= float64(5 * i)
				}
				set(m.name, mode, sample{value: v, queued: uint64(10 * i)}, sample{value: v + 1, queued: uint64(10 * i)}, sample{value: v - 1, queued: uint64(10 * i)})
			}
		}
	}
	// Throughput: allow-all within 3 % of bare by rate, but 10 % more
	// CPU per MB with one stream; inspect-all keeps half the rate with
	// one stream, not with four, and the address-hash run lost packets.
	set(mThroughput1, "bare", sample{value: 15})
	set(mThroughput1, "allow", sample{value: 14.6})
	set(mTput1CPU, "bare", sample{value: 100})
	set(mTput1CPU, "allow", sample{value: 110})
	set(mThroughput4, "bare", sample{value: 38})
	set(mThroughput4, "allow", sample{value: 37})
	set(mTput4CPU, "bare", sample{value: 100})
	set(mTput4CPU, "allow", sample{value: 102})
	set(mThroughput1, "inspect-all", sample{value: 12})
	set(mTput1CPU, "inspect-all", sample{value: 190})
	set(mThroughput4, "inspect-all", sample{value: 15})
	set(mTput4CPU, "inspect-all", sample{value: 260})
	set(mThroughput1, "inspect-all-hash", sample{value: 12.5})
	set(mTput1CPU, "inspect-all-hash", sample{value: 180})
	set(mThroughput4, "inspect-all-hash", sample{value: 20, queueDrops: 3})
	set(mTput4CPU, "inspect-all-hash", sample{value: 180})
	// Connections: two runs with allow-all had a reset connection each.
	set(mConnRate, "allow", sample{value: 90, queued: 20, failed: 1, failure: "read: connection reset by peer"}, sample{value: 91, queued: 20, failed: 1, failure: "read: i/o timeout"}, sample{value: 89, queued: 20})
	return res
}

// TestFailuresListed: failed operations show in their cell and in a list
// under the table, with the first failure.
func TestFailuresListed(t *testing.T) {
	b := testBench()
	res := fakeResults(b)
	got := failureList(b.tests(), b.cfg.modes, res)
	want := "\nFailed operations of the load generator (docs/dataplane.md, section Performance, \"Known issue\"):\n\n" +
		"- " + mConnRate + ", allow-all (fast path): 2 failed operations over all runs; the first: read: connection reset by peer\n"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("failure list (-want +got):\n%s", d)
	}
	delete(res, mConnRate)
	if got := failureList(b.tests(), b.cfg.modes, res); got != "" {
		t.Errorf("no failures: got %q, want nothing", got)
	}
}

func testBench() *bench {
	return &bench{cfg: benchConfig{runs: 3, seconds: 4, modes: modeOrder}}
}

// TestTargets: each target is judged on its rate and, where measured, on
// the CPU per operation (per MB for throughput); the inspect-all target on
// one and on four streams, with zero queue drops.
func TestTargets(t *testing.T) {
	b := testBench()
	got := b.targets(fakeResults(b))
	for _, want := range []string{
		"| established throughput, 1 stream (allow-all) | ≥ 0.95× bare | 0.97× (CPU-bound: 0.91×) | NOT met |",
		"| established throughput, 4 streams (allow-all) | ≥ 0.95× bare | 0.97× (CPU-bound: 0.98×) | met |",
		"| throughput with every packet queued, 1 stream (inspect-all, cpu fan-out) | ≥ 0.50× bare, zero queue drops | 0.80× (CPU-bound: 0.53×) | met |",
		"| throughput with every packet queued, 4 streams (inspect-all, cpu fan-out) | ≥ 0.50× bare, zero queue drops | 0.39× (CPU-bound: 0.38×) | NOT met |",
		"| throughput with every packet queued, 4 streams (inspect-all, address hash) | ≥ 0.50× bare, zero queue drops | 0.53× (CPU-bound: 0.56×), 3 queue drops | NOT met |",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("targets lack the line\n%s\ngot:\n%s", want, got)
		}
	}
}

// TestTableGolden: the whole table of made-up results (testdata/table.golden;
// go test ./dataplane/internal/benchtool -update rewrites it).
func TestTableGolden(t *testing.T) {
	b := testBench()
	tests := b.tests()
	got := b.table(tests, fakeResults(b))
	golden.Check(t, "testdata/table.golden", []byte(got))
}

func TestSoftirqThreads(t *testing.T) {
	root := t.TempDir()
	for pid, comm := range map[string]string{"14": "ksoftirqd/0\n", "22": "ksoftirqd/1\n", "300": "bash\n", "self": "x\n"} {
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "comm"), []byte(comm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := softirqThreads(root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{14, 22}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := softirqThreads(t.TempDir()); err == nil {
		t.Error("no error without softirq threads")
	}
}
