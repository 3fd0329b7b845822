package capture

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"bulkhead.dev/bulkhead/internal/golden"
)

// TestTableCaptures pins the table (--format table) of every real-client
// capture of ../testdata/captures: one DETAILS summary per app, in
// testdata/captures.table.
func TestTableCaptures(t *testing.T) {
	pcaps, err := filepath.Glob(filepath.Join("..", "testdata", "captures", "*.pcap"))
	if err != nil || len(pcaps) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	var out bytes.Buffer
	for _, pcap := range pcaps {
		f, err := os.Open(pcap)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("== " + filepath.Base(pcap) + "\n")
		tw := NewTableWriter(&out)
		_, err = Analyze(context.Background(), f, Options{}, tw.Write)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", pcap, err)
		}
		if err := tw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	golden.Check(t, "testdata/captures.table", out.Bytes())
}
