package l7_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/internal/golden"
	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/l7/capture"
)

// TestCaptureGoldens runs the analyze pipeline over every capture in
// testdata/captures (made by the TestMakeCaptures* capture makers with real
// clients and servers) and compares its output, one JSON line per flow,
// with NAME.json. Regenerate the golden files with
//
//	go test ./l7 -run TestCaptureGoldens -update
//
// and review the diff: each must show the right app and attributes.
func TestCaptureGoldens(t *testing.T) {
	pcaps, err := filepath.Glob(filepath.Join("testdata", "captures", "*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pcaps) == 0 {
		t.Fatal("no captures in testdata/captures")
	}
	for _, pcap := range pcaps {
		name := strings.TrimSuffix(filepath.Base(pcap), ".pcap")
		t.Run(name, func(t *testing.T) {
			got := analyzeFile(t, pcap)
			// Real clients over a veth lose nothing: a gap means tcpdump
			// dropped packets, and the golden would record its effects.
			for _, n := range []string{l7.NoteGap, l7.NoteOutOfWindow} {
				if bytes.Contains(got, []byte(n)) {
					t.Errorf("the capture has a flow noted %q: record it again (make captures CAPTURES=%s)", n, name)
				}
			}
			golden.Check(t, strings.TrimSuffix(pcap, ".pcap")+".json", got)
		})
	}
}

// analyzeFile returns what "bulkhead analyze --format json" prints for path.
func analyzeFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	_, err = capture.Analyze(context.Background(), f, capture.Options{}, func(r *capture.Record) error {
		b, err := r.AppendJSON(nil)
		out.Write(b)
		out.WriteByte('\n')
		return err
	})
	if err != nil {
		t.Fatalf("analyze %s: %v", path, err)
	}
	return out.Bytes()
}
